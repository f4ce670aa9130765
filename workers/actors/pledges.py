"""Pledge actors: file one pledge at the pledge registry; cancel a released one's filing there;
re-send the overdue ones of both (the sweeper).

The row is the truth (``domain.pledges``); a message only says "look at pledge X". The
registry is asked outside any transaction with the pledge's ID as the idempotency key, so a
redelivered or retried message gets the first filing back, never a second one. A retryable
failure is retried after the backoff the row records (Dramatiq's Retries middleware schedules
the delivery); the row bounds the attempts, and the last one raises ``deal.pledge_unknown``.
A lost message, or a worker killed after asking, only delays a filing: its lease runs out and
the scheduler's sweeper re-sends every REQUESTED pledge that is overdue."""

from __future__ import annotations

import uuid

import dramatiq
import structlog

from domain.persistence.scope import PLATFORM_SCOPE
from domain.pledges import service
from lendgraph.settings import get_settings
from workers import backoff, resources
from workers import broker as _broker  # noqa: F401  (the broker must exist before actors)
from workers.ports import pledges as wired

log = structlog.get_logger("lendgraph.pledges")

#: Backoff after a failed attempt: 2 s, 4 s, 8 s, ... at most 5 minutes.
MAX_BACKOFF_MS = 300_000


#: The wait after failed attempt ``attempt`` (1-based).
backoff_ms = backoff.exponential(MAX_BACKOFF_MS)


@dramatiq.actor(
    actor_name=service.REGISTER_ACTOR,
    queue_name=service.REGISTER_QUEUE,
    # The row bounds the attempts; this only bounds one message's redeliveries.
    max_retries=20,
    max_backoff=MAX_BACKOFF_MS,
    time_limit=120_000,
)
async def register_pledge(tenant_id: str, pledge_id: str) -> None:
    """File pledge ``pledge_id`` of funder ``tenant_id`` if it is due; idempotent (a filed or
    refused pledge is left alone), safe to be killed at any line."""
    if wired.registry is None:
        log.warning("pledge_not_filed", pledge_id=pledge_id, reason="no pledge registry wired")
        return
    settings = get_settings()
    result = await service.register_pledge(
        # The platform scope: the filing names the cargo owner and the warehouse, parties the
        # funder's own scope may not see; every query still names the tenant.
        lambda: resources.unit_of_work(PLATFORM_SCOPE),
        wired.registry,
        tenant_id=uuid.UUID(tenant_id),
        pledge_id=uuid.UUID(pledge_id),
        backoff_ms=backoff_ms,
        timeout_seconds=settings.provider_timeout_seconds * 2,
    )
    log.info(
        "pledge",
        pledge_id=pledge_id,
        outcome=result.outcome,
        attempt=result.attempt,
        retry_in_ms=result.retry_in_ms,
    )
    if result.retry_in_ms is not None:
        raise dramatiq.Retry(delay=result.retry_in_ms)


@dramatiq.actor(
    actor_name=service.DEREGISTER_ACTOR,
    queue_name=service.REGISTER_QUEUE,
    max_retries=20,
    max_backoff=MAX_BACKOFF_MS,
    time_limit=120_000,
)
async def deregister_pledge(tenant_id: str, pledge_id: str) -> None:
    """Cancel released pledge ``pledge_id``'s filing at the registry if it is due; idempotent
    (a cancelled filing is left alone), safe to be killed at any line."""
    if wired.registry is None:
        log.warning(
            "pledge_not_deregistered", pledge_id=pledge_id, reason="no pledge registry wired"
        )
        return
    settings = get_settings()
    result = await service.deregister_pledge(
        lambda: resources.unit_of_work(PLATFORM_SCOPE),
        wired.registry,
        tenant_id=uuid.UUID(tenant_id),
        pledge_id=uuid.UUID(pledge_id),
        backoff_ms=backoff_ms,
        timeout_seconds=settings.provider_timeout_seconds * 2,
    )
    log.info(
        "pledge_deregistration",
        pledge_id=pledge_id,
        outcome=result.outcome,
        attempt=result.attempt,
        retry_in_ms=result.retry_in_ms,
    )
    if result.retry_in_ms is not None:
        raise dramatiq.Retry(delay=result.retry_in_ms)


@dramatiq.actor(queue_name="maintenance", max_retries=3, time_limit=60_000)
async def sweep_pledges() -> None:
    """Re-send every REQUESTED pledge whose next attempt is overdue by more than the grace,
    and every released pledge whose filing's cancellation is. Level-triggered: a missed or
    doubled sweep does no harm."""
    async with resources.unit_of_work(PLATFORM_SCOPE) as session:
        overdue = await service.overdue_pledges(session)
        service.resend(session, overdue)
        cancellations = await service.overdue_cancellations(session)
        service.resend_cancellations(session, cancellations)
    if overdue or cancellations:
        log.info("pledges_swept", resent=len(overdue), cancellations=len(cancellations))
