"""SQL of pledges. Every query of the table names the tenant, except the batch getter by
ID (``node``) and the sweeper's, which row-level security and the platform scope bound."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import any_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.persistence.base import uuid_array
from domain.pledges.models import ACTIVE, Pledge, PledgeStatus


async def insert_if_absent(session: AsyncSession, row: dict[str, object]) -> bool:
    """Insert the pledge unless the deal already pledged that receipt; whether it did."""
    done = await session.execute(
        insert(Pledge)
        .values(**row)
        .on_conflict_do_nothing(constraint="uq_pledges_deal_receipt")
        .returning(Pledge.id)
    )
    return done.first() is not None


async def of_deal(
    session: AsyncSession, *, tenant_id: uuid.UUID, deal_id: uuid.UUID
) -> list[Pledge]:
    """The deal's pledges, by creation."""
    stmt = (
        select(Pledge)
        .where(Pledge.tenant_id == tenant_id, Pledge.deal_id == deal_id)
        .order_by(Pledge.created_at, Pledge.id)
        .execution_options(populate_existing=True)
    )
    return list(await session.scalars(stmt))


async def of_deals(
    session: AsyncSession, tenant_id: uuid.UUID, deal_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Pledge]]:
    """Batch getter: the visible pledges of ``deal_ids`` of one tenant, by deal."""
    found: dict[uuid.UUID, list[Pledge]] = {d: [] for d in deal_ids}
    if not deal_ids:
        return found
    stmt = (
        select(Pledge)
        .where(Pledge.tenant_id == tenant_id, Pledge.deal_id == any_(uuid_array(deal_ids)))
        .order_by(Pledge.created_at, Pledge.id)
    )
    for pledge in await session.scalars(stmt):
        found[pledge.deal_id].append(pledge)
    return found


async def by_id(
    session: AsyncSession, pledge_id: uuid.UUID, *, for_update: bool = False
) -> Pledge | None:
    """One visible pledge (the funder's, or the warehouse's); locked when ``for_update``."""
    stmt = select(Pledge).where(Pledge.id == pledge_id).execution_options(populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Pledge]:
    """Batch getter: the visible pledges among ``ids``."""
    if not ids:
        return {}
    stmt = select(Pledge).where(Pledge.id == any_(uuid_array(ids)))
    return {p.id: p for p in await session.scalars(stmt)}


async def lock(
    session: AsyncSession, *, tenant_id: uuid.UUID, pledge_id: uuid.UUID, skip_locked: bool
) -> Pledge | None:
    """The pledge, locked (None when absent or, with ``skip_locked``, held by another)."""
    stmt = (
        select(Pledge)
        .where(Pledge.tenant_id == tenant_id, Pledge.id == pledge_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).first()


async def record_attempt_failed(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    pledge_id: uuid.UUID,
    attempt: int,
    next_attempt_at: datetime | None,
    error: str,
    now: datetime,
) -> bool:
    """A retryable failure of attempt ``attempt``, recorded while the pledge is still
    REQUESTED and that attempt its latest; whether it was."""
    done = await session.execute(
        update(Pledge)
        .where(
            Pledge.tenant_id == tenant_id,
            Pledge.id == pledge_id,
            Pledge.status == PledgeStatus.REQUESTED.value,
            Pledge.attempts == attempt,
        )
        .values(next_attempt_at=next_attempt_at, last_error=error, updated_at=now)
        .returning(Pledge.id)
    )
    return done.first() is not None


async def record_cancellation_failed(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    pledge_id: uuid.UUID,
    attempt: int,
    next_attempt_at: datetime | None,
    error: str,
    now: datetime,
) -> bool:
    """A retryable failure of cancellation attempt ``attempt``, recorded while the filing is
    not yet cancelled and that attempt the latest; whether it was."""
    done = await session.execute(
        update(Pledge)
        .where(
            Pledge.tenant_id == tenant_id,
            Pledge.id == pledge_id,
            Pledge.status == PledgeStatus.RELEASED.value,
            Pledge.deregistered_at.is_(None),
            Pledge.deregister_attempts == attempt,
        )
        .values(
            deregister_next_attempt_at=next_attempt_at,
            deregister_last_error=error,
            updated_at=now,
        )
        .returning(Pledge.id)
    )
    return done.first() is not None


async def cancellations_due(
    session: AsyncSession, *, overdue_before: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """RELEASED pledges whose filing is not cancelled yet, due before ``overdue_before``:
    ``(tenant_id, pledge_id)``. Platform scope."""
    stmt = (
        select(Pledge.tenant_id, Pledge.id)
        .where(
            Pledge.status == PledgeStatus.RELEASED.value,
            Pledge.deregistered_at.is_(None),
            Pledge.deregister_next_attempt_at < overdue_before,
        )
        .order_by(Pledge.deregister_next_attempt_at)
        .limit(limit)
    )
    return [(r[0], r[1]) for r in (await session.execute(stmt)).all()]


async def due(
    session: AsyncSession, *, overdue_before: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """REQUESTED pledges due before ``overdue_before``: ``(tenant_id, pledge_id)``. Platform
    scope."""
    stmt = (
        select(Pledge.tenant_id, Pledge.id)
        .where(
            Pledge.status == PledgeStatus.REQUESTED.value, Pledge.next_attempt_at < overdue_before
        )
        .order_by(Pledge.next_attempt_at)
        .limit(limit)
    )
    return [(r[0], r[1]) for r in (await session.execute(stmt)).all()]


__all__ = [
    "active_of_receipt",
    "by_id",
    "by_ids",
    "cancellations_due",
    "due",
    "insert_if_absent",
    "lock",
    "of_deal",
    "of_deals",
    "record_attempt_failed",
    "record_cancellation_failed",
]


async def active_of_receipt(session: AsyncSession, receipt_id: uuid.UUID) -> Pledge | None:
    """The visible active pledge of a receipt, if any (the warehouse sees the pledges of its
    receipts, a funder its own; the database's lock sees them all)."""
    stmt = select(Pledge).where(
        Pledge.receipt_id == receipt_id,
        Pledge.status.in_([s.value for s in ACTIVE]),
    )
    return (await session.scalars(stmt)).first()
