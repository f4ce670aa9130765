"""Payout actors: send one payout to the payment rail; re-send the overdue ones (the sweeper).

The row is the truth (``domain.payouts``); a message only says "look at payout X". A
retryable failure of the rail is retried after the backoff the row records (Dramatiq's
Retries middleware schedules the delivery); the row bounds the attempts. A lost message, or a
worker killed after asking the rail, only delays a payout: its lease runs out and the
scheduler's sweeper re-sends every REQUESTED payout that is overdue, under the same rail
idempotency key, so the rail never pays twice. The settlement itself comes by the rail's
callback (``/webhooks/payments``), whenever it comes; a SENT payout whose callbacks never came
is asked about (``reconcile_payout``), also from the sweeper."""

from __future__ import annotations

import uuid
from datetime import timedelta

import dramatiq
import structlog

from domain.payouts import service
from domain.persistence.scope import PLATFORM_SCOPE, DbScope
from lendgraph import runtime
from lendgraph.settings import get_settings
from workers import backoff, resources
from workers import broker as _broker  # noqa: F401  (the broker must exist before actors)
from workers.ports import payments

log = structlog.get_logger("lendgraph.payouts")

#: Backoff after a failed attempt: 2 s, 4 s, 8 s, ... at most 5 minutes.
MAX_BACKOFF_MS = 300_000
#: A payout due this long ago has lost its message: the sweeper re-sends it.
SWEEP_GRACE = timedelta(seconds=30)
#: A SENT payout not settled this long after the rail accepted it is asked about: the rail
#: retries its callbacks for a while and then gives up.
RECONCILE_AFTER = timedelta(minutes=15)


#: The wait after failed attempt ``attempt`` (1-based).
backoff_ms = backoff.exponential(MAX_BACKOFF_MS)


def _tenant_unit_of_work(tenant_id: uuid.UUID) -> service.UnitOfWork:
    # The funder's service principal: its rows only, through row-level security.
    scope = DbScope(tenant_id=tenant_id)
    return lambda: resources.unit_of_work(scope)


@dramatiq.actor(
    actor_name=service.SEND_ACTOR,
    queue_name=service.SEND_QUEUE,
    # The row bounds the attempts; this only bounds one message's redeliveries.
    max_retries=20,
    max_backoff=MAX_BACKOFF_MS,
    time_limit=120_000,
)
async def send_payout(tenant_id: str, payout_id: str) -> None:
    """Send payout ``payout_id`` of funder ``tenant_id`` to the rail if it is due;
    idempotent (a payout the rail accepted, or final, is left alone), safe to be killed at
    any line."""
    if payments.rail is None or payments.callback_url is None:
        # No rail in this process: the payout waits REQUESTED for a worker that has one.
        log.warning("payout_not_sent", payout_id=payout_id, reason="no payment rail wired")
        return
    settings = get_settings()
    result = await service.send_payout(
        _tenant_unit_of_work(uuid.UUID(tenant_id)),
        payments.rail,
        runtime.personal_data_cipher(settings),
        tenant_id=uuid.UUID(tenant_id),
        payout_id=uuid.UUID(payout_id),
        callback_url=payments.callback_url,
        backoff_ms=backoff_ms,
        timeout_seconds=settings.provider_timeout_seconds * 2,
    )
    log.info(
        "payout",
        payout_id=payout_id,
        outcome=result.outcome,
        attempt=result.attempt,
        retry_in_ms=result.retry_in_ms,
    )
    if result.retry_in_ms is not None:
        raise dramatiq.Retry(delay=result.retry_in_ms)


@dramatiq.actor(
    actor_name=service.RECONCILE_ACTOR,
    queue_name=service.SEND_QUEUE,
    max_retries=10,
    max_backoff=MAX_BACKOFF_MS,
    time_limit=120_000,
)
async def reconcile_payout(tenant_id: str, payout_id: str) -> None:
    """Ask the rail how SENT payout ``payout_id`` stands and apply a final state as its
    callback would have; idempotent (a payout settled meanwhile is left alone)."""
    if payments.rail is None:
        log.warning("payout_not_reconciled", payout_id=payout_id, reason="no payment rail wired")
        return
    outcome = await service.reconcile_payout(
        _tenant_unit_of_work(uuid.UUID(tenant_id)),
        payments.rail,
        tenant_id=uuid.UUID(tenant_id),
        payout_id=uuid.UUID(payout_id),
    )
    log.info("payout_reconciled", payout_id=payout_id, outcome=outcome)


@dramatiq.actor(queue_name="maintenance", max_retries=3, time_limit=60_000)
async def sweep_payouts() -> None:
    """Re-send every REQUESTED payout whose next attempt is overdue by more than
    ``SWEEP_GRACE``, and have the rail asked about every SENT payout not settled within
    ``RECONCILE_AFTER`` (its callbacks may have been lost). Level-triggered: a missed or
    doubled sweep does no harm."""
    async with resources.unit_of_work(PLATFORM_SCOPE) as session:
        overdue = await service.overdue_payouts(session, grace=SWEEP_GRACE)
        service.resend(session, overdue)
        unsettled = await service.unsettled_payouts(session, after=RECONCILE_AFTER)
        service.reconcile(session, unsettled)
    if overdue or unsettled:
        log.info("payouts_swept", resent=len(overdue), reconciled=len(unsettled))
