"""Queries on idempotency keys. Row-level security shows a principal only its own keys."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.idempotency.models import IdempotencyKey
from domain.kernel.clock import utcnow
from domain.persistence.base import new_id


async def try_lock(session: AsyncSession, lock_key: int) -> bool:
    """Take the transaction-level advisory lock ``lock_key`` if no other transaction holds it;
    never waits. Held until the transaction ends (commit or rollback)."""
    taken = await session.scalar(select(func.pg_try_advisory_xact_lock(lock_key)))
    return bool(taken)


async def insert_new(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None,
    client_id: str,
    user_id: uuid.UUID | None,
    operation: str,
    key: str,
    request_hash: str,
) -> uuid.UUID | None:
    """Record the key; its row ID, or None when the principal already has this key for this
    operation (the unique key decides, whatever the caller checked before)."""
    stmt = (
        insert(IdempotencyKey)
        .values(
            id=new_id(),
            tenant_id=tenant_id,
            client_id=client_id,
            user_id=user_id,
            operation=operation,
            key=key,
            request_hash=request_hash,
        )
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def find(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None,
    client_id: str,
    user_id: uuid.UUID | None,
    operation: str,
    key: str,
) -> IdempotencyKey | None:
    """The principal's row for this key and operation, fresh from the database."""
    stmt = (
        select(IdempotencyKey)
        .where(
            IdempotencyKey.client_id == client_id,
            IdempotencyKey.user_id.is_not_distinct_from(user_id),
            IdempotencyKey.tenant_id.is_not_distinct_from(tenant_id),
            IdempotencyKey.operation == operation,
            IdempotencyKey.key == key,
        )
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).first()


async def complete(session: AsyncSession, row_id: uuid.UUID, response: str) -> bool:
    """Store the answer to replay, in the transaction of the effect; whether the key was
    still there (a rolled-back savepoint takes it away with the effect)."""
    result = await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == row_id)
        .values(response=response, completed_at=utcnow())
        .returning(IdempotencyKey.id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none() is not None


async def purge_expired(session: AsyncSession) -> int:
    """Delete the keys older than 24 hours; how many. Through ``purge_idempotency_keys()``
    (migration 0007), which alone may delete keys, and only those."""
    return int(await session.scalar(text("select purge_idempotency_keys()")) or 0)
