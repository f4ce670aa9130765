"""Appends to the events outbox, in the transaction of the change it describes."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.events.models import Event


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
