"""Queries on the inbox of provider callbacks. Row-level security shows it to the platform
scope only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, cast, func, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.persistence.base import new_id
from domain.webhooks.models import WebhookEvent


async def claim(
    session: AsyncSession,
    *,
    provider: str,
    event_id: str,
    event_type: str,
    body_sha256: str,
    payload: dict[str, Any],
) -> bool:
    """Insert the event unprocessed; whether it was new. The unique ``(provider,
    event_id)`` decides: a concurrent insertion of the same event waits here for the other
    transaction and then finds its row (or, if that one rolled back, inserts after all)."""
    stmt = (
        insert(WebhookEvent)
        .values(
            id=new_id(),
            provider=provider,
            event_id=event_id,
            event_type=event_type,
            body_sha256=body_sha256,
            payload=payload,
        )
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        .returning(WebhookEvent.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the inbox holds of an event already received."""

    outcome: str | None
    #: Whether it is the same event: the same body bytes, or the same JSON.
    same: bool


async def recorded(
    session: AsyncSession,
    *,
    provider: str,
    event_id: str,
    body_sha256: str,
    payload: dict[str, Any],
) -> Recorded | None:
    """The inbox's row of the event, compared with a new delivery of it (None: no row)."""
    same_json = WebhookEvent.payload == cast(bindparam("payload", payload, type_=JSONB), JSONB)
    stmt = select(
        WebhookEvent.outcome,
        or_(WebhookEvent.body_sha256 == body_sha256, same_json),
    ).where(WebhookEvent.provider == provider, WebhookEvent.event_id == event_id)
    row = (await session.execute(stmt)).one_or_none()
    return None if row is None else Recorded(outcome=row[0], same=bool(row[1]))


async def mark_processed(
    session: AsyncSession, *, provider: str, event_id: str, outcome: str
) -> None:
    """Record what was done with the event, at the transaction's time."""
    await session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.provider == provider, WebhookEvent.event_id == event_id)
        .values(processed_at=func.now(), outcome=outcome)
        .execution_options(synchronize_session=False)
    )


async def find(session: AsyncSession, provider: str, event_id: str) -> WebhookEvent | None:
    """The inbox's row of the event, fresh from the database."""
    stmt = (
        select(WebhookEvent)
        .where(WebhookEvent.provider == provider, WebhookEvent.event_id == event_id)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).first()
