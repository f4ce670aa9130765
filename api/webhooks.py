"""Inbound provider callbacks: ``POST /webhooks/payments`` (the payment rail) and ``POST
/webhooks/esign`` (the e-signature service).

One delivery is handled in this order; nothing is trusted before its signature checks out:

1. The provider must be one this deployment receives from: a provider whose callback secret is
   not configured (``LENDGRAPH_PAYMENTS_CALLBACK_SECRET``, ``LENDGRAPH_ESIGN_CALLBACK_SECRET``)
   has no endpoint, so it is ``404`` like an unknown one (nothing could be verified; the
   application logs at start-up which endpoints are not mounted).
2. The raw body is read up to the provider's cap (:data:`MAX_BODY_BYTES`; a longer one, or a
   ``Content-Length`` above it, is ``413``).
3. The provider's ``verify_callback`` checks the signature over the raw bytes (constant-time)
   and the timestamp against this process's clock within five minutes either way. A bad,
   missing or non-matching signature (a tampered or truncated body included) is ``401``; a
   stale or future timestamp is ``401`` too (a replayed delivery cannot be told from a forged
   one, and the provider's retry is signed afresh); an authentic body that is not an event of
   the protocol is ``400``. Verification is a pure function of the request, so whatever else
   it raises is about the input and is ``400`` as well.
4. In one unit of work, in the platform scope: the event is claimed in the inbox, its
   registered handler applied and the outcome recorded (``domain.webhooks.service``); then
   the commit. Only after the commit is the answer ``200 {"received": true, "duplicate":
   false}``; a known event is ``200`` with ``"duplicate": true`` and not applied again; a known
   event ID with other content is ``409``; a handler's permanent refusal is recorded and
   answered ``200`` (the provider must stop: retrying cannot change a refusal).

No input is answered 5xx. The one 5xx is ``503`` (with ``Retry-After``) for a failure of ours:
the database unreachable or out of connections, a handler's unexpected error. The transaction
is rolled back, so nothing was recorded, and the provider's retry delivers the event again.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import structlog
from pydantic import SecretStr
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.state import AppState
from domain.kernel.clock import utcnow
from domain.persistence.scope import PLATFORM_SCOPE
from domain.persistence.unit_of_work import unit_of_work
from domain.webhooks import service
from domain.webhooks.handlers import Provider
from integrations.esign import callbacks as esign
from integrations.payments import callbacks as payments
from lendgraph.settings import Settings

log = structlog.get_logger("lendgraph.webhooks")

#: The largest body each provider's endpoint reads. A settlement is a few hundred bytes (the
#: rail's own limit); an ``envelope.completed`` carries the signed contract, in base64, up to
#: the document limit (10 MiB).
MAX_BODY_BYTES: Final[Mapping[Provider, int]] = {
    Provider.PAYMENTS: payments.MAX_CALLBACK_BYTES,
    Provider.ESIGN: 16 * 1024 * 1024,
}
#: The longest event ID the inbox keeps.
MAX_EVENT_ID: Final = 200
#: Seconds a provider is asked to wait before retrying after a failure of ours.
RETRY_AFTER_SECONDS: Final = 5


@dataclass(frozen=True)
class _Receiver:
    """How one provider's callbacks are verified and kept."""

    provider: Provider
    verify: Callable[..., Any]
    secret: Callable[[Settings], SecretStr | None]
    bad_signature: type[Exception]
    stale: type[Exception]
    malformed: type[Exception]
    #: What of the event's JSON the inbox keeps.
    keep: Callable[[dict[str, Any]], dict[str, Any]]


def _everything(payload: dict[str, Any]) -> dict[str, Any]:
    return payload


def _without_document_content(payload: dict[str, Any]) -> dict[str, Any]:
    # The signed contract is the handler's to store; the inbox keeps its hash (which binds
    # the content), not megabytes of base64.
    document = payload.get("signed_document")
    if isinstance(document, dict) and "content_base64" in document:
        kept = {k: v for k, v in document.items() if k != "content_base64"}
        return {**payload, "signed_document": kept}
    return payload


RECEIVERS: Final[Mapping[Provider, _Receiver]] = {
    Provider.PAYMENTS: _Receiver(
        Provider.PAYMENTS,
        payments.verify_callback,
        lambda s: s.payments_callback_secret,
        payments.BadSignature,
        payments.StaleTimestamp,
        payments.Malformed,
        _everything,
    ),
    Provider.ESIGN: _Receiver(
        Provider.ESIGN,
        esign.verify_callback,
        lambda s: s.esign_callback_secret,
        esign.BadSignature,
        esign.StaleTimestamp,
        esign.MalformedCallback,
        _without_document_content,
    ),
}


def _refuse(status: int, error: str, message: str, **headers: str) -> Response:
    return JSONResponse(
        {"received": False, "error": error, "message": message},
        status_code=status,
        headers=headers or None,
    )


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, cap: int) -> bytes:
    """The raw body, refused (:class:`_TooLarge`) as soon as it is known to exceed ``cap``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > cap:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _storable(value: Any) -> bool:
    """Whether PostgreSQL's jsonb takes ``value`` as it is: no NUL character and no lone
    surrogate in any string, no infinite or NaN number (all valid to Python's parser)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _delivery(receiver: _Receiver, event: Any, body: bytes) -> service.Delivery | None:
    """What the inbox keeps of a verified event, or None when it cannot keep it."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # pragma: no cover - verification parsed it
        return None
    if not isinstance(data, dict) or not _storable(data):
        return None
    event_id = str(event.event_id)
    if len(event_id) > MAX_EVENT_ID or not _storable(event_id):
        return None
    return service.Delivery(
        provider=receiver.provider,
        event_id=event_id,
        event_type=str(event.type),
        body_sha256=hashlib.sha256(body).hexdigest(),
        payload=receiver.keep(data),
        event=event,
    )


def _endpoint(receiver: _Receiver, secret: str) -> Callable[[Request], Any]:
    provider = receiver.provider
    cap = MAX_BODY_BYTES[provider]

    async def receive(request: Request) -> Response:
        """``POST /webhooks/<provider>``: see the module's docstring."""
        state: AppState = request.app.state.lendgraph
        try:
            body = await _read_body(request, cap)
        except _TooLarge:
            log.info("webhook_refused", provider=provider, reason="too_large")
            return _refuse(413, "too_large", f"a {provider} callback has at most {cap} bytes")
        except ClientDisconnect:
            return _refuse(400, "incomplete", "the body did not arrive")

        try:
            event = receiver.verify(request.headers, body, secret, now=utcnow())
        except receiver.bad_signature as exc:
            log.info("webhook_refused", provider=provider, reason="bad_signature", detail=str(exc))
            return _refuse(401, "bad_signature", "the signature does not verify")
        except receiver.stale as exc:
            log.info("webhook_refused", provider=provider, reason="stale", detail=str(exc))
            return _refuse(401, "stale_timestamp", "the signature's timestamp is out of range")
        except receiver.malformed as exc:
            log.info("webhook_refused", provider=provider, reason="malformed", detail=str(exc))
            return _refuse(400, "malformed", "the body is not an event of the protocol")
        except Exception:
            # Verification reads only the request: whatever breaks it is in the request.
            log.warning("webhook_unreadable", provider=provider, exc_info=True)
            return _refuse(400, "malformed", "the body is not an event of the protocol")

        delivery = _delivery(receiver, event, body)
        if delivery is None:
            log.info("webhook_refused", provider=provider, reason="unstorable")
            return _refuse(400, "malformed", "the body is not an event of the protocol")

        try:
            async with unit_of_work(state.sessions, PLATFORM_SCOPE, state.jobs) as session:
                receipt = await service.receive(session, delivery)
        except service.EventIdReused as exc:
            log.warning("webhook_conflict", provider=provider, event_id=delivery.event_id)
            return _refuse(409, "event_id_reused", str(exc))
        except Exception:
            log.exception("webhook_failed", provider=provider, event_id=delivery.event_id)
            return _refuse(
                503,
                "unavailable",
                "the event could not be recorded; retry later",
                **{"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        # The unit of work has committed: the event is recorded and applied.
        log.info(
            "webhook_received",
            provider=provider,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            duplicate=receipt.duplicate,
            outcome=receipt.outcome,
        )
        return JSONResponse({"received": True, "duplicate": receipt.duplicate})

    return receive


async def _not_found(request: Request) -> Response:
    return _refuse(404, "not_found", "no callbacks are received from this provider")


def routes(settings: Settings) -> list[Route]:
    """One route per provider whose callback secret is configured, and a ``404`` for any
    other ``/webhooks/<provider>``."""
    mounted: list[Route] = []
    for provider, receiver in RECEIVERS.items():
        secret = receiver.secret(settings)
        if secret is None:
            log.info("webhook_not_mounted", provider=provider, reason="no callback secret")
            continue
        mounted.append(
            Route(
                f"/webhooks/{provider}",
                _endpoint(receiver, secret.get_secret_value()),
                methods=["POST"],
                name=f"webhooks_{provider}",
            )
        )
    return [*mounted, Route("/webhooks/{provider}", _not_found, methods=["POST"])]


__all__ = ["MAX_BODY_BYTES", "RECEIVERS", "routes"]
