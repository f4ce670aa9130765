"""The events outbox: appends, in the transaction of the change they describe (each append
also rings the relay's doorbell after commit), and the relay's reads and marks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.events.models import Event
from domain.persistence.after_commit import Job, enqueue_after_commit

#: The relay's actor and queue (declared in ``workers``), sent once per committed
#: transaction that appended events.
RELAY_JOB = Job("relay_events", "events")


async def append(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None,
    type: str,
    aggregate_type: str,
    aggregate_id: uuid.UUID | str,
    payload: dict[str, Any] | None = None,
) -> None:
    """Write one event; it becomes visible to relays when the transaction commits."""
    await session.execute(
        insert(Event)
        .values(
            tenant_id=tenant_id,
            type=type,
            aggregate_type=aggregate_type,
            aggregate_id=str(aggregate_id),
            payload=payload or {},
        )
        # No RETURNING: some writers may append rows that their scope cannot read back.
        .inline()
    )
    enqueue_after_commit(session, RELAY_JOB)


async def lock_unpublished(session: AsyncSession, *, limit: int) -> Sequence[Event]:
    """The oldest unpublished events, locked for this transaction; rows another relay holds
    are skipped (``SKIP LOCKED``), so two relays never hand on one event twice."""
    found = await session.execute(
        select(Event)
        .where(Event.published_at.is_(None))
        .order_by(Event.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return found.scalars().all()


async def mark_published(session: AsyncSession, ids: Sequence[int], at: datetime) -> None:
    """Mark events handed on."""
    await session.execute(
        update(Event)
        .where(Event.id.in_(ids))
        .values(published_at=at)
        .execution_options(synchronize_session=False)
    )
