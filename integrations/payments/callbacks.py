"""Signed settlement callbacks of the payment rail: how the rail signs one (:func:`sign_callback`)
and how the receiver checks and reads it (:func:`verify_callback`).

A callback is an HTTP ``POST`` of a JSON event to the URL given with the payout. It is signed
with an HTTP message signature (RFC 9421, HMAC-SHA256 with the callback secret, made and
checked by the ``http-message-signatures`` library, as the provider calls are, see
``integrations/signing.py``), label ``cb``, ``tag="payment-rail-callback"``, covering
``content-type``, ``webhook-id`` (the event ID), ``webhook-timestamp`` (Unix seconds of this
delivery attempt) and ``content-digest`` (SHA-256 of the raw body, RFC 9530), with the
signature's ``created`` equal to the timestamp. The HMAC comparison is constant-time (the
library leaves it to ``cryptography``). The distinct tag keeps a provider-call signature from
ever passing as a callback one.

The receiver's URL is not covered: behind a proxy the receiver may see another one, and the
callback secret is the receiver's alone. A delivery attempt is signed afresh (a new
timestamp) with the same event ID and the same body bytes.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, algorithms
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from http_message_signatures.resolvers import HTTPSignatureKeyResolver

from domain.payments.ports import PaymentEventType, PayoutEvent
from integrations.answers import Fields
from integrations.answers import Malformed as AnswerMalformed
from integrations.signing import HeaderLines, RequestView

__all__ = [
    "CALLBACK_COMPONENTS",
    "DEFAULT_TOLERANCE",
    "BadSignature",
    "CallbackRefused",
    "Malformed",
    "StaleTimestamp",
    "read_event",
    "sign_callback",
    "verify_callback",
]

CALLBACK_LABEL: Final = "cb"
CALLBACK_TAG: Final = "payment-rail-callback"
CALLBACK_COMPONENTS: Final = ("content-type", "webhook-id", "webhook-timestamp")
#: How far a callback's timestamp may be from the receiver's clock, either way.
DEFAULT_TOLERANCE: Final = datetime.timedelta(minutes=5)
#: A callback is a few hundred bytes; anything much larger is not read.
MAX_CALLBACK_BYTES: Final = 64 * 1024
_JSON: Final = "application/json"
# Neither the method nor the URL is covered; the library only needs a well-formed request.
_PLACEHOLDER_URL: Final = "http://callback.invalid/"


class CallbackRefused(Exception):
    """A callback that must not be applied (answer it with a 4xx)."""


class BadSignature(CallbackRefused):
    """No signature, a malformed one, one made with another secret, or a body or signed
    header that differs from what was signed (a tampered or truncated body)."""


class StaleTimestamp(CallbackRefused):
    """Authentic, but signed too long ago or too far in the future (a replay, or a clock
    that is off): outside the tolerance."""


class Malformed(CallbackRefused):
    """Authentic and fresh, but not an event of the protocol (not JSON, a missing or wrong
    field, an event ID other than the one signed)."""


class _OneSecret(HTTPSignatureKeyResolver):
    """The callback secret, whatever key ID the signature names (it says which merchant
    account of the rail signed, which the receiver does not need to choose a key)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def resolve_public_key(self, key_id: str) -> bytes:
        return self._secret

    def resolve_private_key(self, key_id: str) -> bytes:
        return self._secret


class _Verifier(HTTPMessageVerifier):
    """The library's verifier without its own clock check: freshness is judged against the
    caller's ``now`` and tolerance (:func:`verify_callback`), so it is testable and the
    receiver's setting."""

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        if "created" not in sig_input.params:
            raise HTTPMessageSignaturesException('the signature has no "created" parameter')


def _key(secret: bytes | str) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign_callback(
    body: bytes,
    secret: bytes | str,
    *,
    event_id: str,
    timestamp: datetime.datetime,
    key_id: str = "callbacks",
) -> list[tuple[str, str]]:
    """The header lines of one delivery of ``body`` (the event ``event_id``), signed with
    ``secret`` at ``timestamp``: ``Content-Type``, ``Webhook-Id``, ``Webhook-Timestamp``,
    ``Content-Digest``, ``Signature-Input`` and ``Signature``."""
    seconds = int(timestamp.timestamp())
    headers = HeaderLines(
        [
            ("content-type", _JSON),
            ("webhook-id", event_id),
            ("webhook-timestamp", str(seconds)),
        ]
    )
    view = RequestView("POST", _PLACEHOLDER_URL, headers)
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.HMAC_SHA256, key_resolver=_OneSecret(_key(secret))
    )
    signer.sign(
        view,
        key_id=key_id,
        created=datetime.datetime.fromtimestamp(seconds, datetime.UTC),
        label=CALLBACK_LABEL,
        tag=CALLBACK_TAG,
        covered_component_ids=CALLBACK_COMPONENTS,
        body=body,
    )
    return view.headers.items()


def _lines(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> HeaderLines:
    # Starlette's Headers and a dict both have items(); Starlette's keeps repeated lines.
    items = headers.items() if isinstance(headers, Mapping) else headers
    return HeaderLines((str(name), str(value)) for name, value in items)


def verify_callback(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    raw_body: bytes,
    secret: bytes | str,
    *,
    now: datetime.datetime,
    tolerance: datetime.timedelta = DEFAULT_TOLERANCE,
) -> PayoutEvent:
    """The event of one callback delivery, once its signature over ``raw_body`` (the bytes as
    received, before any parsing) checks out against ``secret`` and its timestamp is within
    ``tolerance`` of ``now`` either way. Raises :class:`BadSignature`,
    :class:`StaleTimestamp` or :class:`Malformed` (all :class:`CallbackRefused`)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if len(raw_body) > MAX_CALLBACK_BYTES:
        raise Malformed(f"callback larger than {MAX_CALLBACK_BYTES} bytes")
    lines = _lines(headers)
    verifier = _Verifier(
        signature_algorithm=algorithms.HMAC_SHA256, key_resolver=_OneSecret(_key(secret))
    )
    try:
        (result,) = verifier.verify(
            RequestView("POST", _PLACEHOLDER_URL, lines),
            max_age=None,
            expect_tag=CALLBACK_TAG,
            expect_label=CALLBACK_LABEL,
            require_components=(*CALLBACK_COMPONENTS, "content-digest"),
            body=raw_body,
        )
    except (HTTPMessageSignaturesException, ValueError, TypeError, KeyError) as exc:
        # InvalidSignature is an HTTPMessageSignaturesException; the others come from header
        # fields too malformed for the parser to say more.
        raise BadSignature(str(exc) or type(exc).__name__) from None

    # Signed, so it is the rail's word; it must also be the signature's own time.
    stamp = lines.get("webhook-timestamp") or ""
    if not stamp.isascii() or not stamp.isdigit() or int(stamp) != result.parameters["created"]:
        raise BadSignature("the timestamp header does not match the signature")
    signed_at = datetime.datetime.fromtimestamp(int(stamp), datetime.UTC)
    if abs(now - signed_at) > tolerance:
        when = "in the future" if signed_at > now else "too long ago"
        raise StaleTimestamp(f"signed {when}: {signed_at.isoformat()} at {now.isoformat()}")

    if (lines.get("content-type") or "").split(";")[0].strip() != _JSON:
        raise Malformed("the callback is not JSON")
    try:
        data = json.loads(raw_body)
    except ValueError:
        raise Malformed("the callback is not valid JSON") from None
    event = read_event(data)
    if event.event_id != lines.get("webhook-id"):
        raise Malformed("the event ID is not the one signed")
    return event


def read_event(data: object) -> PayoutEvent:
    """A :class:`PayoutEvent` from the callback's JSON. Raises :class:`Malformed`."""
    try:
        event = Fields(data, "event")
        kind = event.choice("type", PaymentEventType)
        reason = event.optional_text("failure_reason")
        if kind is PaymentEventType.PAYOUT_FAILED and not (reason and reason.strip()):
            raise AnswerMalformed("a failed payout's event names its failure_reason")
        if kind is PaymentEventType.PAYOUT_SETTLED and reason is not None:
            raise AnswerMalformed("a settled payout has no failure_reason")
        return PayoutEvent(
            event_id=event.text("event_id"),
            type=kind,
            payout_id=event.text("payout_id"),
            reference=event.text("reference"),
            amount=event.money("amount"),
            occurred_at=event.moment("occurred_at"),
            failure_reason=reason,
        )
    except AnswerMalformed as exc:
        raise Malformed(str(exc)) from None
