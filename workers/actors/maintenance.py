"""Housekeeping actors."""

from __future__ import annotations

import dramatiq

from domain.persistence.scope import PLATFORM_SCOPE
from tenants import service
from workers import broker as _broker  # noqa: F401  (the broker must exist before actors)
from workers import resources


@dramatiq.actor(queue_name="maintenance", max_retries=3, time_limit=60_000)
async def expire_refresh_tokens() -> None:
    """Mark expired refresh tokens revoked. Idempotent: running it twice changes nothing more."""
    async with resources.session(PLATFORM_SCOPE) as session:
        await service.expire_refresh_tokens(session)
        await session.commit()
