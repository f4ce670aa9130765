"""Housekeeping actors."""

from __future__ import annotations

import dramatiq

from domain.idempotency import service as idempotency
from domain.persistence.scope import NO_SCOPE, PLATFORM_SCOPE
from tenants import service
from workers import broker as _broker  # noqa: F401  (the broker must exist before actors)
from workers import resources


@dramatiq.actor(queue_name="maintenance", max_retries=3, time_limit=60_000)
async def expire_refresh_tokens() -> None:
    """Mark expired refresh tokens revoked. Idempotent: running it twice changes nothing more."""
    async with resources.session(PLATFORM_SCOPE) as session:
        await service.expire_refresh_tokens(session)
        await session.commit()


@dramatiq.actor(queue_name="maintenance", max_retries=3, time_limit=300_000)
async def purge_idempotency_keys() -> None:
    """Delete idempotency keys older than 24 hours. Idempotent: a second run finds nothing
    more to delete. No scope: the database function it calls sees every principal's keys,
    and deletes only expired ones."""
    async with resources.session(NO_SCOPE) as session:
        await idempotency.purge_expired(session)
        await session.commit()
