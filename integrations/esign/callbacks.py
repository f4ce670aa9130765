"""The e-signature service's callbacks (events POSTed to an envelope's ``callback_url``):
how they are signed, and :func:`verify_callback`, which the receiving endpoint calls on the
raw request before it trusts anything in it.

A callback is signed as the provider calls are (``integrations/signing.py``): an RFC 9421
HTTP message signature made with HMAC-SHA256 by the ``http-message-signatures`` library, the
body bound by ``Content-Digest`` (RFC 9530). The secret is the deployment's callback secret
(``LENDGRAPH_ESIGN_CALLBACK_SECRET``), not the one its requests are signed with. Label ``cb``,
tag ``lendgraph-esign-callback``, covering ``"content-type" "content-digest"``; the signed
``created`` parameter of ``Signature-Input`` is the callback's timestamp. No derived component
(``@authority``, ``@path``) is covered: the receiver's address may be rewritten on the way in
(a proxy, a load balancer), and the body says what the event is about.

Verification checks, in this order: the signature and the body's digest (constant-time, by the
library), then the timestamp against ``now`` within ``tolerance`` either way, then the body's
shape. A callback that passes is an :class:`~domain.contracts.esign_ports.EnvelopeEvent`.
Replays of a valid callback are not refused here: an event ID is applied once by the receiver,
which stores it.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from domain.contracts.esign_ports import (
    EnvelopeEvent,
    EventType,
    SignedDocument,
    sha256_hex,
)
from integrations.answers import Fields, Malformed
from integrations.callback_signatures import (
    BadSignature,
    CallbackRefused,
    MalformedCallback,
    StaleTimestamp,
    check_fresh,
    header_lines,
    sign_view,
    verify_signature,
)
from integrations.signing import MIN_SECRET_BYTES, HeaderLines, RequestView

__all__ = [
    "CALLBACK_COMPONENTS",
    "CALLBACK_TAG",
    "TOLERANCE",
    "BadSignature",
    "CallbackRefused",
    "MalformedCallback",
    "StaleTimestamp",
    "event_payload",
    "read_event",
    "sign_callback",
    "verify_callback",
]

CALLBACK_LABEL: Final = "cb"
CALLBACK_TAG: Final = "lendgraph-esign-callback"
CALLBACK_COMPONENTS: Final = ("content-type", "content-digest")
#: How far a callback's timestamp may be from the receiver's clock, either way (clock skew
#: plus transit; a retried delivery is signed afresh).
TOLERANCE: Final = datetime.timedelta(minutes=5)
_JSON: Final = "application/json"
# The library reads method and URL off any request; none is covered, so these are never signed
# or compared.
_NO_METHOD: Final = "POST"
_NO_URL: Final = "http://callback.invalid/"


def _secret_bytes(secret: bytes | str) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign_callback(
    body: bytes,
    secret: bytes | str,
    *,
    key_id: str,
    created: datetime.datetime,
) -> list[tuple[str, str]]:
    """The header lines of a callback carrying ``body``: ``Content-Type``,
    ``Content-Digest``, ``Signature-Input`` and ``Signature``, timestamped ``created``."""
    key = _secret_bytes(secret)
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"the callback secret must have at least {MIN_SECRET_BYTES} bytes")
    view = RequestView(_NO_METHOD, _NO_URL, HeaderLines([("content-type", _JSON)]))
    sign_view(
        view,
        key,
        key_id=key_id,
        created=created,
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
    tolerance: datetime.timedelta = TOLERANCE,
) -> EnvelopeEvent:
    """The event a callback carries, once its signature, timestamp and shape pass.

    ``headers`` are the request's header lines (a Starlette ``request.headers`` will do: its
    ``items()`` keeps repeated lines) and ``raw_body`` the bytes exactly as received. Raises
    :class:`BadSignature`, :class:`StaleTimestamp` or :class:`MalformedCallback`."""
    lines = header_lines(headers)
    parameters = verify_signature(
        RequestView(_NO_METHOD, _NO_URL, lines),
        raw_body,
        secret,
        label=CALLBACK_LABEL,
        tag=CALLBACK_TAG,
        components=CALLBACK_COMPONENTS,
    )
    created = datetime.datetime.fromtimestamp(int(parameters["created"]), datetime.UTC)
    age = check_fresh(created, now, tolerance)
    expires = parameters.get("expires")
    if type(expires) is int and datetime.datetime.fromtimestamp(expires, datetime.UTC) < now:
        raise StaleTimestamp("the signature has expired", age=age)
    if (lines.get("content-type") or "").split(";")[0].strip() != _JSON:
        raise MalformedCallback("the body is not JSON")
    try:
        data = json.loads(raw_body)
    except ValueError:
        raise MalformedCallback("the body is not valid JSON") from None
    try:
        return read_event(data)
    except Malformed as exc:
        raise MalformedCallback(str(exc)) from None


def read_event(data: Any) -> EnvelopeEvent:
    """An :class:`EnvelopeEvent` from a callback's JSON. Raises
    :class:`~integrations.answers.Malformed`."""
    event = Fields(data, "event")
    kind = event.choice("type", EventType)
    signer_id = event.optional_text("signer_id")
    if kind.about_a_signer and not (signer_id and signer_id.strip()):
        raise Malformed(f"event.signer_id is missing on {kind}")
    if not kind.about_a_signer and signer_id is not None:
        raise Malformed(f"{kind} names no signer")
    document = event.object_or_none("signed_document")
    signed: SignedDocument | None = None
    if kind is EventType.ENVELOPE_COMPLETED:
        if document is None:
            raise Malformed("event.signed_document is missing")
        signed = _signed_document(document)
    elif document is not None:
        raise Malformed(f"{kind} carries no signed document")
    return EnvelopeEvent(
        event_id=event.text("event_id"),
        type=kind,
        envelope_id=event.text("envelope_id"),
        reference=event.text("reference"),
        occurred_at=event.moment("occurred_at"),
        signer_id=signer_id,
        signed_document=signed,
    )


def _signed_document(document: Fields) -> SignedDocument:
    announced = document.text("sha256")
    try:
        content = base64.b64decode(document.text("content_base64"), validate=True)
    except (binascii.Error, ValueError):
        raise Malformed("event.signed_document.content_base64 is not base64") from None
    if sha256_hex(content) != announced:
        raise Malformed("event.signed_document.sha256 does not match its content")
    return SignedDocument(sha256=announced, content=content)


def event_payload(event: EnvelopeEvent) -> dict[str, Any]:
    """The JSON object of ``event``, as a callback carries it (the inverse of
    :func:`read_event`)."""
    payload: dict[str, Any] = {
        "event_id": event.event_id,
        "type": event.type.value,
        "envelope_id": event.envelope_id,
        "reference": event.reference,
        "occurred_at": event.occurred_at.isoformat(),
    }
    if event.signer_id is not None:
        payload["signer_id"] = event.signer_id
    if event.signed_document is not None:
        payload["signed_document"] = {
            "sha256": event.signed_document.sha256,
            "content_base64": base64.b64encode(event.signed_document.content).decode(),
        }
    return payload
