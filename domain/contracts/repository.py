"""SQL of the contracts context: a deal's current contract, its latest version number, the
current contracts of many deals (for ``Deal.contract``), and staging a new version. (The
funder a contract names is read by ``domain.deals.repository.funder``.)"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, any_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.contracts.models import Contract, ContractStatus
from domain.deals.models import Deal, DealStatus
from domain.persistence.base import uuid_array
from domain.reviews.models import DealReview, ReviewDecision, ReviewStage

__all__ = [
    "add",
    "current",
    "current_of_deals",
    "latest_version",
    "lock_by_id",
    "signing_past_deadline",
    "unheard_envelopes",
    "unsent_envelopes",
]


def add(session: AsyncSession, row: Contract) -> None:
    """Stage a new version; the caller's flush writes it."""
    session.add(row)


async def current(
    session: AsyncSession, *, tenant_id: uuid.UUID, deal_id: uuid.UUID, for_update: bool = False
) -> Contract | None:
    """The deal's contract that is not VOID, fresh from the database; locked when
    ``for_update``."""
    stmt = (
        select(Contract)
        .where(
            Contract.tenant_id == tenant_id,
            Contract.deal_id == deal_id,
            Contract.status != ContractStatus.VOID,
        )
        .execution_options(populate_existing=True)
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def latest_version(session: AsyncSession, *, tenant_id: uuid.UUID, deal_id: uuid.UUID) -> int:
    """The highest version of the deal's contract, 0 when it has none."""
    stmt = select(func.coalesce(func.max(Contract.version), 0)).where(
        Contract.tenant_id == tenant_id, Contract.deal_id == deal_id
    )
    return int((await session.execute(stmt)).scalar_one())


async def current_of_deals(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], Contract]:
    """Batch getter keyed by ``(tenant_id, deal_id)``: each deal's visible contract that is
    not VOID."""
    if not keys:
        return {}
    wanted = set(keys)
    rows = await session.scalars(
        select(Contract).where(
            Contract.tenant_id == any_(uuid_array({k[0] for k in keys})),
            Contract.deal_id == any_(uuid_array({k[1] for k in keys})),
            Contract.status != ContractStatus.VOID,
        )
    )
    return {(r.tenant_id, r.deal_id): r for r in rows if (r.tenant_id, r.deal_id) in wanted}


async def lock_by_id(
    session: AsyncSession,
    contract_id: uuid.UUID,
    *,
    tenant_id: uuid.UUID | None = None,
    skip_locked: bool = False,
) -> Contract | None:
    """The contract of that ID, locked (``FOR UPDATE``), if this scope sees it (and it is
    ``tenant_id``'s, when given); ``None`` also when, with ``skip_locked``, another
    transaction holds it."""
    stmt = (
        select(Contract)
        .where(Contract.id == contract_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )
    if tenant_id is not None:
        stmt = stmt.where(Contract.tenant_id == tenant_id)
    return (await session.scalars(stmt)).first()


async def unsent_envelopes(
    session: AsyncSession, *, due_before: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """SENT contracts without a recorded envelope whose next creation attempt was due before
    ``due_before`` (their message was lost, or their worker died holding the lease):
    ``(tenant_id, contract_id)``, the longest overdue first. Platform scope
    (``ix_contracts_envelope_due``)."""
    stmt = (
        select(Contract.tenant_id, Contract.id)
        .where(
            Contract.status == ContractStatus.SENT,
            Contract.envelope_id.is_(None),
            Contract.envelope_next_attempt_at < due_before,
        )
        .order_by(Contract.envelope_next_attempt_at)
        .limit(limit)
    )
    return [(r[0], r[1]) for r in (await session.execute(stmt)).all()]


async def unheard_envelopes(
    session: AsyncSession, *, seen_before: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """SENT contracts with an envelope the service has told nothing of since before
    ``seen_before`` (its callbacks may be lost): ``(tenant_id, contract_id)``, the longest
    unheard first. Platform scope (``ix_contracts_envelope_seen``)."""
    stmt = (
        select(Contract.tenant_id, Contract.id)
        .where(
            Contract.status == ContractStatus.SENT,
            Contract.envelope_id.is_not(None),
            Contract.envelope_seen_at < seen_before,
        )
        .order_by(Contract.envelope_seen_at)
        .limit(limit)
    )
    return [(r[0], r[1]) for r in (await session.execute(stmt)).all()]


async def signing_past_deadline(
    session: AsyncSession, *, now: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Up to ``limit`` SIGNING deals, as ``(tenant_id, deal_id)``, with a second-review
    approval that expired at or before ``now``, soonest expired first. Candidates only: the
    use case checks the approval of the deal's latest round. Across funders: the platform's
    scope (``ix_deal_reviews_expiry``)."""
    stmt = (
        select(DealReview.tenant_id, DealReview.deal_id)
        .join(Deal, and_(Deal.tenant_id == DealReview.tenant_id, Deal.id == DealReview.deal_id))
        .where(
            DealReview.expires_at <= now,
            DealReview.stage == ReviewStage.SECOND,
            DealReview.decision == ReviewDecision.APPROVE,
            Deal.status == DealStatus.SIGNING,
        )
        .order_by(DealReview.expires_at, DealReview.tenant_id, DealReview.deal_id)
        .limit(limit)
    )
    # A deal approved in several rounds is listed once.
    return list(dict.fromkeys((r[0], r[1]) for r in (await session.execute(stmt)).all()))
