"""What every provider's signed callbacks share: the refusals a receiver answers with a 4xx,
and signing and verifying an RFC 9421 HTTP message signature (HMAC-SHA256, made and checked
by the ``http-message-signatures`` library, as the provider calls are: see
``integrations/signing.py``) over a callback's headers and its body's ``Content-Digest``, with
one callback secret whatever key ID is named, and the signature's ``created`` parameter as
its timestamp, judged against the receiver's ``now`` rather than the library's clock.

Each provider's module (``integrations/payments/callbacks.py``,
``integrations/esign/callbacks.py``) says which label, tag and components it signs, and how
its event reads."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException, InvalidSignature

from integrations.signing import HeaderLines, RequestView

__all__ = [
    "BadSignature",
    "CallbackRefused",
    "MalformedCallback",
    "StaleTimestamp",
    "check_fresh",
    "header_lines",
    "sign_view",
    "verify_signature",
]


class CallbackRefused(Exception):
    """A callback that must not be acted on (answer it with a 4xx)."""


class BadSignature(CallbackRefused):
    """No signature, a malformed one, one made with another secret, or a body or signed
    header that differs from what was signed (a tampered or truncated body)."""


class StaleTimestamp(CallbackRefused):
    """Authentic, but signed further from ``now`` than the tolerance, in the past or in the
    future (a replay, or a clock that is off)."""

    def __init__(self, message: str, *, age: datetime.timedelta | None = None):
        super().__init__(message)
        #: ``now`` minus the timestamp: negative for a timestamp in the future.
        self.age = age


class MalformedCallback(CallbackRefused):
    """Authentic and fresh, but not an event of the protocol (not JSON, a field missing or
    wrong, an event ID other than the one signed)."""


class _OneSecret(HTTPSignatureKeyResolver):
    """The callback secret, whatever key ID the signature names (it says which account of the
    provider signed; a deployment receives for one)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def resolve_public_key(self, key_id: str) -> bytes:
        return self._secret

    def resolve_private_key(self, key_id: str) -> bytes:
        return self._secret


class _Verifier(HTTPMessageVerifier):
    """The library's verifier without its wall-clock check: freshness is judged against the
    caller's ``now`` and tolerance (:func:`check_fresh`), after the signature."""

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        if type(sig_input.params.get("created")) is not int:
            raise InvalidSignature('Signature is missing a required "created" parameter')


def _key(secret: bytes | str) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def header_lines(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> HeaderLines:
    """A request's header lines (Starlette's ``Headers.items()`` keeps repeated lines)."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return HeaderLines((str(name), str(value)) for name, value in items)


def sign_view(
    view: RequestView,
    secret: bytes | str,
    *,
    key_id: str,
    created: datetime.datetime,
    label: str,
    tag: str,
    components: Sequence[str],
    body: bytes,
) -> None:
    """Sign ``view`` (a placeholder request holding the callback's headers) in place: the
    ``Content-Digest`` of ``body``, ``Signature-Input`` and ``Signature`` are added."""
    HTTPMessageSigner(
        signature_algorithm=algorithms.HMAC_SHA256, key_resolver=_OneSecret(_key(secret))
    ).sign(
        view,
        key_id=key_id,
        created=created,
        label=label,
        tag=tag,
        covered_component_ids=tuple(components),
        body=body,
    )


def verify_signature(
    view: RequestView,
    raw_body: bytes,
    secret: bytes | str,
    *,
    label: str,
    tag: str,
    components: Sequence[str],
) -> dict[str, Any]:
    """The parameters of the one signature of ``view`` (``created`` among them) once it
    verifies over ``components`` and the digest of ``raw_body`` (constant-time comparison, in
    the library); :class:`BadSignature` otherwise."""
    verifier = _Verifier(
        signature_algorithm=algorithms.HMAC_SHA256, key_resolver=_OneSecret(_key(secret))
    )
    try:
        (result,) = verifier.verify(
            view,
            max_age=None,
            expect_tag=tag,
            expect_label=label,
            require_components=tuple(components),
            body=raw_body,
        )
    except (HTTPMessageSignaturesException, ValueError, TypeError, KeyError) as exc:
        # InvalidSignature is an HTTPMessageSignaturesException; the others come from header
        # fields too malformed for the parser to say more.
        raise BadSignature(str(exc) or type(exc).__name__) from None
    parameters: dict[str, Any] = dict(result.parameters)
    return parameters


def check_fresh(
    signed_at: datetime.datetime, now: datetime.datetime, tolerance: datetime.timedelta
) -> datetime.timedelta:
    """``now`` minus ``signed_at``, when within ``tolerance`` either way;
    :class:`StaleTimestamp` otherwise."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    age = now - signed_at
    if age > tolerance:
        raise StaleTimestamp(f"signed {age} ago, more than {tolerance}", age=age)
    if -age > tolerance:
        raise StaleTimestamp(f"signed {-age} in the future, more than {tolerance}", age=age)
    return age
