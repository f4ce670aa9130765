"""Every query of reviews. Each names ``tenant_id`` (the ``(tenant_id, ...)`` key and indexes)
except the expiry sweep, which runs in the platform's scope across funders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, any_, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from domain.deals.models import Deal, DealStatus
from domain.persistence.base import uuid_array
from domain.products.models import ProductLine
from domain.reviews.models import DealReview, ReviewDecision, ReviewStage

#: A keyset position in a queue: ``(created_at, id)`` of a review.
Keyset = tuple[datetime, uuid.UUID]

_REVIEWS = cast(Table, DealReview.__table__)
_R = _REVIEWS.c
_DEALS = cast(Table, Deal.__table__)
_D = _DEALS.c


def add(session: AsyncSession, review: DealReview) -> None:
    """Stage a new review; the caller's flush writes it."""
    session.add(review)


async def latest_round(session: AsyncSession, *, tenant_id: uuid.UUID, deal_id: uuid.UUID) -> int:
    """The highest round of the deal's reviews, 0 when it has none."""
    stmt = select(func.coalesce(func.max(DealReview.round), 0)).where(
        DealReview.tenant_id == tenant_id, DealReview.deal_id == deal_id
    )
    return int((await session.execute(stmt)).scalar_one())


async def review(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    deal_id: uuid.UUID,
    stage: ReviewStage,
    round: int,
    for_update: bool = False,
) -> DealReview | None:
    """The review of one stage and round of a deal, fresh from the database; locked when
    ``for_update``."""
    stmt = (
        select(DealReview)
        .where(
            DealReview.tenant_id == tenant_id,
            DealReview.deal_id == deal_id,
            DealReview.stage == stage,
            DealReview.round == round,
        )
        .execution_options(populate_existing=True)
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def reviews_of_deal(
    session: AsyncSession, *, tenant_id: uuid.UUID, deal_id: uuid.UUID
) -> list[DealReview]:
    """Every review of a deal, by round and stage."""
    stmt = (
        select(DealReview)
        .where(DealReview.tenant_id == tenant_id, DealReview.deal_id == deal_id)
        .order_by(DealReview.round, DealReview.stage)
        .execution_options(populate_existing=True)
    )
    return list(await session.scalars(stmt))


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """What a queue lists: open reviews of ``stage`` of one funder whose deal is in
    ``status``; optionally of one product line, held by one reviewer or by none, created
    before an instant."""

    tenant_id: uuid.UUID
    stage: ReviewStage
    status: DealStatus
    line: ProductLine | None = None
    assignee_id: uuid.UUID | None = None
    unassigned: bool = False
    older_than: datetime | None = None


async def queue_page(
    session: AsyncSession, where: QueueFilter, *, limit: int, after: Keyset | None = None
) -> list[Row[Any]]:
    """Up to ``limit`` open reviews, oldest first after the keyset position
    ``(created_at, id)``, each with its deal's product line, amount and status. Plain rows:
    a queue is read, never changed. The range runs on ``ix_deal_reviews_queue``
    (tenant, stage, created_at, id over open reviews); the deal is joined on its key."""
    conditions: list[ColumnElement[bool]] = [
        _R.tenant_id == where.tenant_id,
        _R.stage == where.stage,
        _R.decision.is_(None),
        _D.status == where.status,
    ]
    if where.line is not None:
        conditions.append(_D.product_line == where.line)
    if where.assignee_id is not None:
        conditions.append(_R.assignee_id == where.assignee_id)
    if where.unassigned:
        conditions.append(_R.assignee_id.is_(None))
    if where.older_than is not None:
        conditions.append(_R.created_at < where.older_than)
    if after is not None:
        conditions.append(tuple_(_R.created_at, _R.id) > tuple_(*after))
    stmt = (
        select(
            _REVIEWS,
            _D.product_line,
            _D.currency.label("deal_currency"),
            _D.amount_minor.label("deal_amount_minor"),
            _D.status.label("deal_status"),
        )
        .join(_DEALS, (_D.tenant_id == _R.tenant_id) & (_D.id == _R.deal_id))
        .where(*conditions)
        .order_by(_R.created_at, _R.id)
        .limit(limit)
    )
    return list(await session.execute(stmt))


async def expired_approvals(
    session: AsyncSession, *, now: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Up to ``limit`` deals, as ``(tenant_id, deal_id)``, whose second review's approval
    expired at or before ``now`` and which are still APPROVED, soonest expired first. Across
    funders: asked in the platform's scope (``ix_deal_reviews_expiry``)."""
    stmt = (
        select(_R.tenant_id, _R.deal_id)
        .join(_DEALS, (_D.tenant_id == _R.tenant_id) & (_D.id == _R.deal_id))
        .where(
            _R.expires_at <= now,
            _R.stage == ReviewStage.SECOND,
            _R.decision == ReviewDecision.APPROVE,
            _D.status == DealStatus.APPROVED,
        )
        .order_by(_R.expires_at, _R.tenant_id, _R.deal_id)
        .limit(limit)
    )
    return [(row.tenant_id, row.deal_id) for row in await session.execute(stmt)]


__all__ = [
    "Keyset",
    "QueueFilter",
    "add",
    "expired_approvals",
    "latest_round",
    "queue_page",
    "review",
    "reviews_of_deal",
    "reviews_of_deals",
]


async def reviews_of_deals(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], list[Row[Any]]]:
    """Batch getter: each visible deal's reviews, by round and stage, by ``(tenant_id,
    deal_id)`` (the order of ``uq_deal_reviews_round``). Plain rows: read, never changed."""
    out: dict[tuple[uuid.UUID, uuid.UUID], list[Row[Any]]] = {}
    if not keys:
        return out
    # One index range per (tenant, deal) pair, as the timeline's getter: two arrays keep one
    # statement text whatever the page size; the pairs the cross product adds are dropped.
    stmt = (
        select(_REVIEWS)
        .where(
            _R.tenant_id == any_(uuid_array({k[0] for k in keys})),
            _R.deal_id == any_(uuid_array({k[1] for k in keys})),
        )
        .order_by(_R.tenant_id, _R.deal_id, _R.round, _R.stage)
    )
    wanted = set(keys)
    for row in await session.execute(stmt):
        key = (row.tenant_id, row.deal_id)
        if key in wanted:
            out.setdefault(key, []).append(row)
    return out
