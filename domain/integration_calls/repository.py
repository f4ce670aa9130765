"""Every query of integration calls. Each names ``tenant_id`` (the ``(tenant_id, ...)`` keys),
except the sweeper's, which runs in the platform scope over the partial index of due rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import any_, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.integration_calls.models import CallState, IntegrationCall, IntegrationKind
from domain.persistence.base import uuid_array


async def insert_pending(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    deal_id: uuid.UUID,
    call_id: uuid.UUID,
    kind: IntegrationKind,
    max_attempts: int,
) -> None:
    """Request a call (a deal has one of each kind: a second is refused by the database). No
    RETURNING: the applicant's side may request calls it may not read."""
    await session.execute(
        insert(IntegrationCall)
        .values(
            tenant_id=tenant_id,
            id=call_id,
            deal_id=deal_id,
            kind=kind,
            state=CallState.PENDING,
            attempts=0,
            max_attempts=max_attempts,
            idempotency_reference=uuid.uuid4(),
        )
        .inline()
    )


async def lock_call(
    session: AsyncSession, *, tenant_id: uuid.UUID, call_id: uuid.UUID
) -> IntegrationCall | None:
    """The call, locked for this transaction; None when it does not exist in this scope or
    another transaction holds it (``SKIP LOCKED``: that one is claiming it)."""
    found = await session.execute(
        select(IntegrationCall)
        .where(IntegrationCall.tenant_id == tenant_id, IntegrationCall.id == call_id)
        .with_for_update(skip_locked=True)
    )
    return found.scalar_one_or_none()


async def calls_of_deal(
    session: AsyncSession, *, tenant_id: uuid.UUID, deal_id: uuid.UUID
) -> Sequence[IntegrationCall]:
    """A deal's calls, by kind."""
    found = await session.execute(
        select(IntegrationCall)
        .where(IntegrationCall.tenant_id == tenant_id, IntegrationCall.deal_id == deal_id)
        .order_by(IntegrationCall.kind)
    )
    return found.scalars().all()


async def calls_of_deals(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], list[IntegrationCall]]:
    """Batch getter: the visible calls of each deal, by ``(tenant_id, deal_id)`` (the order of
    ``uq_integration_calls_deal_kind``), each deal's by kind."""
    out: dict[tuple[uuid.UUID, uuid.UUID], list[IntegrationCall]] = {}
    if not keys:
        return out
    wanted = set(keys)
    found = await session.scalars(
        select(IntegrationCall)
        .where(
            IntegrationCall.tenant_id == any_(uuid_array({k[0] for k in keys})),
            IntegrationCall.deal_id == any_(uuid_array({k[1] for k in keys})),
        )
        .order_by(IntegrationCall.tenant_id, IntegrationCall.deal_id, IntegrationCall.kind)
    )
    for call in found:
        key = (call.tenant_id, call.deal_id)
        if key in wanted:
            out.setdefault(key, []).append(call)
    return out


async def finish_attempt(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    call_id: uuid.UUID,
    attempt: int,
    now: datetime,
    state: CallState,
    next_attempt_at: datetime | None = None,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> bool:
    """Record how attempt ``attempt`` ended, if it is still the call's current attempt (a
    later attempt took over when this one outlived its lease); whether it was recorded."""
    values: dict[str, Any] = {"state": state, "updated_at": now, "last_error": error}
    if state in (CallState.SUCCEEDED, CallState.FAILED):
        values["finished_at"] = now
    if result is not None:
        values["result"] = result
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    done = await session.execute(
        update(IntegrationCall)
        .where(
            IntegrationCall.tenant_id == tenant_id,
            IntegrationCall.id == call_id,
            IntegrationCall.state == CallState.RUNNING,
            IntegrationCall.attempts == attempt,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(done, "rowcount", 0))


async def due_calls(
    session: AsyncSession, *, overdue_before: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """``(tenant_id, id)`` of unfinished calls whose next attempt (or lease) was due before
    ``overdue_before``, the most overdue first. Platform scope."""
    found = await session.execute(
        select(IntegrationCall.tenant_id, IntegrationCall.id)
        .where(
            IntegrationCall.state.in_((CallState.PENDING, CallState.RUNNING)),
            IntegrationCall.next_attempt_at < overdue_before,
        )
        .order_by(IntegrationCall.next_attempt_at)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in found.all()]


async def serialize_deal(session: AsyncSession, tenant_id: uuid.UUID, deal_id: uuid.UUID) -> None:
    """Take the deal's transaction-scoped lock of its integration calls: the transactions that
    finish its calls take turns at the "are they all final?" check, so the last one to finish
    sees every other's outcome."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"integration_calls:{tenant_id}:{deal_id}"},
    )


async def unfinished_calls(
    session: AsyncSession, *, tenant_id: uuid.UUID, deal_id: uuid.UUID
) -> int:
    """How many of the deal's integration calls are not final."""
    found = await session.scalar(
        select(func.count())
        .select_from(IntegrationCall)
        .where(
            IntegrationCall.tenant_id == tenant_id,
            IntegrationCall.deal_id == deal_id,
            IntegrationCall.state.in_((CallState.PENDING, CallState.RUNNING)),
        )
    )
    return int(found or 0)
