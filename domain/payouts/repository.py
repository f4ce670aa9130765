"""SQL of payouts. Every query of a tenant's payouts names the tenant, except the look-ups by
the payout's own ID that the rail's callbacks make in the platform scope (``ix_payouts_id``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.payouts.models import Payout, PayoutState


async def by_key(session: AsyncSession, *, tenant_id: uuid.UUID, key: str) -> Payout | None:
    """The tenant's payout under idempotency key ``key``, fresh from the database."""
    stmt = (
        select(Payout)
        .where(Payout.tenant_id == tenant_id, Payout.idempotency_key == key)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).first()


async def insert_if_absent(session: AsyncSession, row: dict[str, object]) -> bool:
    """Insert a payout unless its key is taken (then nothing, after waiting for a concurrent
    transaction that holds the key); whether it was inserted."""
    stmt = (
        insert(Payout)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["tenant_id", "idempotency_key"])
        .returning(Payout.id)
    )
    return (await session.execute(stmt)).first() is not None


async def lock(
    session: AsyncSession, *, tenant_id: uuid.UUID, payout_id: uuid.UUID, skip_locked: bool
) -> Payout | None:
    """The payout, locked (``None`` when absent or, with ``skip_locked``, locked by another)."""
    stmt = (
        select(Payout)
        .where(Payout.tenant_id == tenant_id, Payout.id == payout_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).first()


async def lock_by_id(session: AsyncSession, payout_id: uuid.UUID) -> Payout | None:
    """The payout with ``payout_id`` in whichever tenant the scope sees (the platform scope of
    a callback: the ID is the rail's reference, which names no tenant), locked."""
    stmt = (
        select(Payout)
        .where(Payout.id == payout_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).first()


async def record_sent(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    payout_id: uuid.UUID,
    provider_payout_id: str,
    now: datetime,
) -> None:
    """The rail accepted the payout: REQUESTED -> SENT with its ID. A payout a callback has
    settled or failed meanwhile keeps its state and only learns the rail's ID."""
    await session.execute(
        update(Payout)
        .where(
            Payout.tenant_id == tenant_id,
            Payout.id == payout_id,
            Payout.state == PayoutState.REQUESTED.value,
        )
        .values(
            state=PayoutState.SENT.value,
            provider_payout_id=provider_payout_id,
            sent_at=now,
            next_attempt_at=None,
            last_error=None,
            updated_at=now,
        )
    )
    await session.execute(
        update(Payout)
        .where(
            Payout.tenant_id == tenant_id,
            Payout.id == payout_id,
            Payout.provider_payout_id.is_(None),
        )
        .values(provider_payout_id=provider_payout_id, updated_at=now)
    )


async def record_attempt_failed(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    payout_id: uuid.UUID,
    attempt: int,
    next_attempt_at: datetime | None,
    error: str,
    now: datetime,
) -> bool:
    """A retryable failure of attempt ``attempt``, recorded while the payout is still
    REQUESTED and that attempt its latest; whether it was."""
    done = await session.execute(
        update(Payout)
        .where(
            Payout.tenant_id == tenant_id,
            Payout.id == payout_id,
            Payout.state == PayoutState.REQUESTED.value,
            Payout.attempts == attempt,
        )
        .values(next_attempt_at=next_attempt_at, last_error=error, updated_at=now)
        .returning(Payout.id)
    )
    return done.first() is not None


async def due(
    session: AsyncSession, *, overdue_before: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """REQUESTED payouts due before ``overdue_before``: ``(tenant_id, payout_id)``. Platform
    scope."""
    stmt = (
        select(Payout.tenant_id, Payout.id)
        .where(Payout.state == PayoutState.REQUESTED.value, Payout.next_attempt_at < overdue_before)
        .order_by(Payout.next_attempt_at)
        .limit(limit)
    )
    return [(r[0], r[1]) for r in (await session.execute(stmt)).all()]


async def unsettled_sent(
    session: AsyncSession, *, sent_before: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """SENT payouts accepted by the rail before ``sent_before`` and still not settled (their
    callback may be lost): ``(tenant_id, payout_id)``. Platform scope."""
    stmt = (
        select(Payout.tenant_id, Payout.id)
        .where(Payout.state == PayoutState.SENT.value, Payout.sent_at < sent_before)
        .order_by(Payout.sent_at)
        .limit(limit)
    )
    return [(r[0], r[1]) for r in (await session.execute(stmt)).all()]


__all__ = [
    "by_key",
    "due",
    "insert_if_absent",
    "lock",
    "lock_by_id",
    "record_attempt_failed",
    "record_sent",
    "unsettled_sent",
]
