"""Signing actors: create one contract's envelope at the e-signature service; read back the
envelopes whose callbacks are overdue and re-send those whose creation never got an answer
(the sweeper); expire the SIGNING deals past their signing deadline and void their envelopes.

The row is the truth (``domain.contracts``); a message only says "look at contract X". The
service is asked outside any transaction with the contract's sending as the idempotency key,
so a redelivered or retried message gets the first envelope back, never a second one. The
attempts are counted on the row (``envelope_attempts``, at most ``signing.MAX_ATTEMPTS``), each
holding a lease; a retryable failure is retried after the backoff the row records (Dramatiq's
Retries middleware schedules the delivery). A refusal, or the last attempt, leaves the
contract FAILED with the alert ``deal.envelope_failed``. A lost message or a worker killed
after asking only delays the envelope: the sweeper re-sends a contract whose lease ran out,
and reads back an envelope the service has not been heard of for
``LENDGRAPH_ESIGN_RECONCILE_AFTER_SECONDS``, applying its state through the callbacks' own
handlers."""

from __future__ import annotations

import uuid
from datetime import timedelta

import dramatiq
import structlog

from domain.contracts import service, signing
from domain.kernel.clock import transaction_now
from domain.kernel.errors import DomainError
from domain.persistence.scope import PLATFORM_SCOPE, DbScope
from integrations.storage import document_storage
from lendgraph.settings import get_settings
from workers import backoff, resources
from workers import broker as _broker  # noqa: F401  (the broker must exist before actors)
from workers.ports import signing as wired

log = structlog.get_logger("lendgraph.signing")

#: Backoff after a failed attempt: 2 s, 4 s, 8 s, ... at most 5 minutes.
MAX_BACKOFF_MS = 300_000
#: A contract whose creation attempt was due this long ago has lost its message.
SWEEP_GRACE = timedelta(seconds=30)
#: SIGNING deals expired by one run at most; the next run takes the rest.
BATCH = 200


#: The wait after failed attempt ``attempt`` (1-based).
backoff_ms = backoff.exponential(MAX_BACKOFF_MS)


def _tenant_unit_of_work(tenant_id: uuid.UUID) -> signing.UnitOfWork:
    # The funder's service principal: its rows only, through row-level security.
    scope = DbScope(tenant_id=tenant_id)
    return lambda: resources.unit_of_work(scope)


@dramatiq.actor(
    actor_name=service.SEND_ENVELOPE_ACTOR,
    queue_name=service.SEND_ENVELOPE_QUEUE,
    # The row bounds the attempts; this only bounds one message's redeliveries.
    max_retries=20,
    max_backoff=MAX_BACKOFF_MS,
    time_limit=120_000,
)
async def send_envelope(tenant_id: str, contract_id: str) -> None:
    """Create the envelope of SENT contract ``contract_id`` of funder ``tenant_id`` if it is
    due; idempotent (a contract whose envelope is recorded is left alone), safe to be killed
    at any line."""
    if wired.esign is None or wired.callback_url is None:
        # No service in this process: the contract waits SENT for a worker that has one.
        log.warning("envelope_not_sent", contract_id=contract_id, reason="no e-signature wired")
        return
    settings = get_settings()
    result = await signing.send_envelope(
        _tenant_unit_of_work(uuid.UUID(tenant_id)),
        wired.esign,
        document_storage(settings.data_dir),
        tenant_id=uuid.UUID(tenant_id),
        contract_id=uuid.UUID(contract_id),
        callback_url=wired.callback_url,
        backoff_ms=backoff_ms,
        timeout_seconds=settings.provider_timeout_seconds * 2,
    )
    log.info(
        "envelope",
        contract_id=contract_id,
        outcome=result.outcome,
        attempt=result.attempt,
        retry_in_ms=result.retry_in_ms,
    )
    if result.retry_in_ms is not None:
        raise dramatiq.Retry(delay=result.retry_in_ms)


@dramatiq.actor(
    actor_name=signing.RECONCILE_ENVELOPE_ACTOR,
    queue_name=service.SEND_ENVELOPE_QUEUE,
    max_retries=10,
    max_backoff=MAX_BACKOFF_MS,
    time_limit=120_000,
)
async def reconcile_envelope(tenant_id: str, contract_id: str) -> None:
    """Read SENT contract ``contract_id``'s envelope back and apply its state as its
    callbacks would have; idempotent."""
    if wired.esign is None:
        log.warning("envelope_not_reconciled", contract_id=contract_id, reason="not wired")
        return
    outcome = await signing.reconcile_envelope(
        _tenant_unit_of_work(uuid.UUID(tenant_id)),
        wired.esign,
        tenant_id=uuid.UUID(tenant_id),
        contract_id=uuid.UUID(contract_id),
    )
    log.info("envelope_reconciled", contract_id=contract_id, outcome=outcome)


@dramatiq.actor(
    actor_name=signing.VOID_ENVELOPE_ACTOR,
    queue_name=service.SEND_ENVELOPE_QUEUE,
    max_retries=10,
    max_backoff=MAX_BACKOFF_MS,
    time_limit=120_000,
)
async def void_envelope(tenant_id: str, contract_id: str) -> None:
    """Void the envelope of contract ``contract_id``, EXPIRED by its signing deadline."""
    if wired.esign is None:
        log.warning("envelope_not_voided", contract_id=contract_id, reason="not wired")
        return
    outcome = await signing.void_envelope(
        _tenant_unit_of_work(uuid.UUID(tenant_id)),
        wired.esign,
        tenant_id=uuid.UUID(tenant_id),
        contract_id=uuid.UUID(contract_id),
    )
    log.info("envelope_voided", contract_id=contract_id, outcome=outcome)


@dramatiq.actor(queue_name="maintenance", max_retries=3, time_limit=60_000)
async def sweep_envelopes() -> None:
    """Re-send every SENT contract whose envelope's creation is overdue by more than
    ``SWEEP_GRACE``, and have every envelope not heard of within the reconciliation delay
    read back. Level-triggered: a missed or doubled sweep does no harm."""
    after = timedelta(seconds=get_settings().esign_reconcile_after_seconds)
    async with resources.unit_of_work(PLATFORM_SCOPE) as session:
        unsent = await signing.unsent_envelopes(session, grace=SWEEP_GRACE)
        signing.resend(session, unsent)
        unheard = await signing.unheard_envelopes(session, after=after)
        signing.reconcile(session, unheard)
    if unsent or unheard:
        log.info("envelopes_swept", resent=len(unsent), reconciled=len(unheard))


async def _expire(tenant_id: uuid.UUID, deal_id: uuid.UUID) -> bool:
    async with resources.unit_of_work(DbScope(tenant_id=tenant_id)) as session:
        outcome = await signing.expire_signing(session, deal_id)
    return outcome.expired


@dramatiq.actor(queue_name="maintenance", max_retries=3, time_limit=120_000)
async def expire_signing() -> None:
    """Expire every SIGNING deal past its signing deadline (up to :data:`BATCH` a run),
    releasing its collateral and voiding its envelope. Idempotent."""
    async with resources.unit_of_work(PLATFORM_SCOPE) as session:
        now = await transaction_now(session)
        due = await signing.signing_past_deadline(session, now=now, limit=BATCH)
    expired = 0
    for tenant_id, deal_id in due:
        try:
            expired += await _expire(tenant_id, deal_id)
        except DomainError as exc:
            log.info("signing_not_expired", deal_id=str(deal_id), code=exc.code.value)
    if expired:
        log.info("signing_expired", count=expired)
