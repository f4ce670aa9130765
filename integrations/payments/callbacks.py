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
from typing import Final

from domain.payments.ports import PaymentEventType, PayoutEvent
from integrations.answers import Fields
from integrations.answers import Malformed as AnswerMalformed
from integrations.callback_signatures import (
    BadSignature,
    CallbackRefused,
    StaleTimestamp,
    check_fresh,
    header_lines,
    sign_view,
    verify_signature,
)
from integrations.callback_signatures import MalformedCallback as Malformed
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
    sign_view(
        view,
        secret,
        key_id=key_id,
        created=datetime.datetime.fromtimestamp(seconds, datetime.UTC),
        label=CALLBACK_LABEL,
        tag=CALLBACK_TAG,
        components=CALLBACK_COMPONENTS,
        body=body,
    )
    return view.headers.items()


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
    lines = header_lines(headers)
    parameters = verify_signature(
        RequestView("POST", _PLACEHOLDER_URL, lines),
        raw_body,
        secret,
        label=CALLBACK_LABEL,
        tag=CALLBACK_TAG,
        components=(*CALLBACK_COMPONENTS, "content-digest"),
    )
    # Signed, so it is the rail's word; it must also be the signature's own time.
    stamp = lines.get("webhook-timestamp") or ""
    if not stamp.isascii() or not stamp.isdigit() or int(stamp) != parameters["created"]:
        raise BadSignature("the timestamp header does not match the signature")
    check_fresh(datetime.datetime.fromtimestamp(int(stamp), datetime.UTC), now, tolerance)

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
