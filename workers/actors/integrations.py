"""Integration-call actors: attempt one call; re-send the overdue ones (the sweeper).

The row is the truth (``domain.integration_calls``); a message only says "look at call X".
Dramatiq's Retries middleware schedules the next delivery (``dramatiq.Retry`` with the delay
the row records, computed by Dramatiq's own exponential backoff); the row bounds the
attempts. Messages lost on the way (a broker restart, Retries giving up) only delay a call:
the scheduler's sweeper re-sends every call whose next attempt is overdue."""

from __future__ import annotations

import uuid
from datetime import timedelta

import dramatiq
import structlog

from domain.integration_calls import service
from domain.persistence.scope import PLATFORM_SCOPE, DbScope
from domain.risk import assessment
from workers import backoff, resources
from workers import broker as _broker  # noqa: F401  (the broker must exist before actors)
from workers.ports import ports

log = structlog.get_logger("lendgraph.integrations")

#: Backoff after a failed attempt: 2 s, 4 s, 8 s, ... at most 10 minutes.
MAX_BACKOFF_MS = 600_000
#: A call due this long ago has lost its message: the sweeper re-sends it.
SWEEP_GRACE = timedelta(seconds=30)


#: The wait after failed attempt ``attempt`` (1-based).
backoff_ms = backoff.exponential(MAX_BACKOFF_MS)


def _tenant_unit_of_work(tenant_id: uuid.UUID) -> service.UnitOfWork:
    # The tenant's service principal: its rows only, through row-level security.
    scope = DbScope(tenant_id=tenant_id)
    return lambda: resources.unit_of_work(scope)


@dramatiq.actor(
    actor_name=service.RUN_ACTOR,
    queue_name=service.RUN_QUEUE,
    # The row bounds the attempts; this only bounds one message's redeliveries.
    max_retries=20,
    max_backoff=MAX_BACKOFF_MS,
    time_limit=300_000,
)
async def run_integration_call(tenant_id: str, call_id: str) -> None:
    """Attempt call ``call_id`` of tenant ``tenant_id`` if it is due; idempotent (a finished
    call is left alone), safe to be killed at any line."""
    tenant, call = uuid.UUID(tenant_id), uuid.UUID(call_id)
    result = await service.run_call(
        _tenant_unit_of_work(tenant),
        ports,
        tenant_id=tenant,
        call_id=call,
        backoff_ms=backoff_ms,
    )
    log.info(
        "integration_call",
        call_id=call_id,
        outcome=result.outcome.value,
        attempt=result.attempt,
        retry_in_ms=result.retry_in_ms,
    )
    if result.retry_in_ms is not None:
        raise dramatiq.Retry(delay=result.retry_in_ms)


@dramatiq.actor(queue_name="maintenance", max_retries=3, time_limit=60_000)
async def sweep_integration_calls() -> None:
    """Re-send every unfinished call whose next attempt is overdue by more than
    ``SWEEP_GRACE``, and the assessment of every deal whose calls were final that long ago
    without one. Level-triggered: a missed or doubled sweep does no harm."""
    async with resources.unit_of_work(PLATFORM_SCOPE) as session:
        overdue = await service.overdue_calls(session, grace=SWEEP_GRACE)
        service.resend(session, overdue)
        unassessed = await assessment.unassessed_deals(session, grace=SWEEP_GRACE)
        assessment.resend(session, unassessed)
    if overdue or unassessed:
        log.info("integration_calls_resent", count=len(overdue), assessments=len(unassessed))


@dramatiq.actor(
    actor_name=assessment.ASSESS_ACTOR,
    queue_name=service.RUN_QUEUE,
    max_retries=10,
    max_backoff=MAX_BACKOFF_MS,
    time_limit=60_000,
)
async def assess_deal(tenant_id: str, deal_id: str) -> None:
    """Assess deal ``deal_id`` of tenant ``tenant_id`` once its calls are final, and send it
    to its first review; idempotent (see :func:`domain.risk.assessment.assess_deal`)."""
    tenant, deal = uuid.UUID(tenant_id), uuid.UUID(deal_id)
    async with _tenant_unit_of_work(tenant)() as session:
        done = await assessment.assess_deal(session, tenant_id=tenant, deal_id=deal)
    log.info(
        "deal_assessed",
        deal_id=deal_id,
        outcome=done.outcome.value,
        recommendation=None if done.assessment is None else done.assessment.recommendation.value,
        auto_approved=done.auto_approved,
    )
