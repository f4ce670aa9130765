"""Signing actors: create one contract's envelope at the e-signature service.

The row is the truth (``domain.contracts``); a message only says "look at contract X". The
service is asked outside any transaction with the contract's ID as the idempotency key, so a
redelivered or retried message gets the first envelope back, never a second one. A retryable
failure is retried after a backoff (Dramatiq's Retries middleware schedules the delivery), at
most ``signing.MAX_ATTEMPTS`` deliveries; a refusal, or the last attempt, raises the alert
``deal.envelope_failed``. The outcome comes by the service's callbacks (``/webhooks/esign``)."""

from __future__ import annotations

import uuid

import dramatiq
import structlog
from dramatiq.common import compute_backoff
from dramatiq.middleware import CurrentMessage

from domain.contracts import service, signing
from domain.persistence.scope import DbScope
from integrations.storage import document_storage
from lendgraph.settings import get_settings
from workers import broker as _broker  # noqa: F401  (the broker must exist before actors)
from workers import resources
from workers.ports import signing as wired

log = structlog.get_logger("lendgraph.signing")

#: Backoff after a failed attempt: 2 s, 4 s, 8 s, ... at most 5 minutes.
MIN_BACKOFF_MS = 2_000
MAX_BACKOFF_MS = 300_000


def backoff_ms(attempt: int) -> int:
    """The wait after failed attempt ``attempt`` (1-based), by Dramatiq's backoff rule."""
    _, delay = compute_backoff(
        attempt - 1, factor=MIN_BACKOFF_MS, jitter=False, max_backoff=MAX_BACKOFF_MS
    )
    return int(delay)


def _attempt() -> int:
    # The message's own count of deliveries (1 for the first). Without the CurrentMessage
    # middleware every delivery counts as the first: the actor's max_retries still bounds them.
    message = CurrentMessage.get_current_message()
    retries = 0 if message is None else int(message.options.get("retries", 0))
    return retries + 1


@dramatiq.actor(
    actor_name=service.SEND_ENVELOPE_ACTOR,
    queue_name=service.SEND_ENVELOPE_QUEUE,
    max_retries=signing.MAX_ATTEMPTS,
    max_backoff=MAX_BACKOFF_MS,
    time_limit=120_000,
)
async def send_envelope(tenant_id: str, contract_id: str) -> None:
    """Create the envelope of SENT contract ``contract_id`` of funder ``tenant_id``;
    idempotent (a contract whose envelope is recorded is left alone)."""
    if wired.esign is None or wired.callback_url is None:
        # No service in this process: the contract waits SENT for a worker that has one.
        log.warning("envelope_not_sent", contract_id=contract_id, reason="no e-signature wired")
        return
    settings = get_settings()
    scope = DbScope(tenant_id=uuid.UUID(tenant_id))
    attempt = _attempt()
    result = await signing.send_envelope(
        lambda: resources.unit_of_work(scope),
        wired.esign,
        document_storage(settings.data_dir),
        tenant_id=uuid.UUID(tenant_id),
        contract_id=uuid.UUID(contract_id),
        callback_url=wired.callback_url,
        attempt=attempt,
        timeout_seconds=settings.provider_timeout_seconds * 2,
    )
    log.info("envelope", contract_id=contract_id, outcome=result.outcome, attempt=attempt)
    if result.outcome == "RETRY":
        raise dramatiq.Retry(delay=backoff_ms(attempt))
