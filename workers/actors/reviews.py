"""Review actors: the expiry of approvals that were not signed in time.

Level-triggered, like the integration-call sweeper: the database says which approvals have
lapsed (``repository.expired_approvals``, across funders in the platform's scope), and each
deal is expired in its own funder's scope, in a unit of work of its own, so one refusal
leaves the others done. A missed or doubled run does no harm: an expired deal is no longer
APPROVED, so the next run does not find it, and expiring it again writes nothing."""

from __future__ import annotations

import uuid

import dramatiq
import structlog

from domain.kernel.clock import transaction_now
from domain.kernel.errors import DomainError
from domain.persistence.scope import PLATFORM_SCOPE, DbScope
from domain.reviews import repository, service
from workers import broker as _broker  # noqa: F401  (the broker must exist before actors)
from workers import resources

log = structlog.get_logger("lendgraph.reviews")

#: Deals expired by one run at most; the next run (a minute later) takes the rest.
BATCH = 200


async def _expire(tenant_id: uuid.UUID, deal_id: uuid.UUID) -> bool:
    """Expire one deal in its funder's scope; whether this run expired it."""
    async with resources.unit_of_work(DbScope(tenant_id=tenant_id)) as session:
        outcome = await service.expire_approval(session, deal_id)
    return outcome.expired


@dramatiq.actor(queue_name="maintenance", max_retries=3, time_limit=120_000)
async def expire_approvals() -> None:
    """Expire every APPROVED deal whose approval's ``expires_at`` has passed (up to
    :data:`BATCH` a run), releasing its collateral. Idempotent: a second run changes
    nothing."""
    async with resources.unit_of_work(PLATFORM_SCOPE) as session:
        now = await transaction_now(session)
        due = await repository.expired_approvals(session, now=now, limit=BATCH)
    expired = 0
    for tenant_id, deal_id in due:
        try:
            expired += await _expire(tenant_id, deal_id)
        except DomainError as exc:
            # Signed (or otherwise moved) since it was listed: nothing to expire.
            log.info("approval_not_expired", deal_id=str(deal_id), code=exc.code.value)
    if expired:
        log.info("approvals_expired", count=expired)
