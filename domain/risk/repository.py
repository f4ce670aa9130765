"""Every query of risk assessments, and the facts an assessment reads that no other context
answers (a funder's exposure on one core enterprise). Each names ``tenant_id``, except the
sweeper's, which runs in the platform scope."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, any_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.collateral.models import PurchaseOrder
from domain.deals.models import Deal, DealStatus
from domain.deals.policy import FINAL
from domain.integration_calls.models import CallState, IntegrationCall
from domain.persistence.base import uuid_array
from domain.risk.models import RiskAssessment

#: Deals that count towards a funder's exposure: submitted and not ended.
_OPEN = tuple(s.value for s in DealStatus if s is not DealStatus.DRAFT and s not in FINAL)


def add(session: AsyncSession, row: RiskAssessment) -> None:
    """Stage a new assessment."""
    session.add(row)


async def assessment_of_submission(
    session: AsyncSession, *, tenant_id: uuid.UUID, deal_id: uuid.UUID, submitted_at: datetime
) -> RiskAssessment | None:
    """The assessment of one submission of the deal, if made."""
    found = await session.scalars(
        select(RiskAssessment).where(
            RiskAssessment.tenant_id == tenant_id,
            RiskAssessment.deal_id == deal_id,
            RiskAssessment.submitted_at == submitted_at,
        )
    )
    return found.first()


async def latest_of_deals(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], RiskAssessment]:
    """Batch getter: each visible deal's latest assessment, by ``(tenant_id, deal_id)``."""
    if not keys:
        return {}
    wanted = set(keys)
    found = await session.scalars(
        select(RiskAssessment)
        .where(
            RiskAssessment.tenant_id == any_(uuid_array({k[0] for k in keys})),
            RiskAssessment.deal_id == any_(uuid_array({k[1] for k in keys})),
        )
        .order_by(RiskAssessment.submitted_at)
    )
    out: dict[tuple[uuid.UUID, uuid.UUID], RiskAssessment] = {}
    for row in found:
        key = (row.tenant_id, row.deal_id)
        if key in wanted:
            out[key] = row  # the later submission replaces the earlier
    return out


async def core_enterprise_exposure_minor(
    session: AsyncSession, *, tenant_id: uuid.UUID, core_enterprise_id: uuid.UUID, currency: str
) -> int:
    """What the funder has open (applied for, under review, approved, lent) on orders bought
    by one core enterprise, in ``currency``: minor units."""
    found = await session.scalar(
        select(func.coalesce(func.sum(Deal.amount_minor), 0))
        .select_from(Deal)
        .join(PurchaseOrder, PurchaseOrder.id == Deal.purchase_order_id)
        .where(
            Deal.tenant_id == tenant_id,
            Deal.purchase_order_id.is_not(None),
            PurchaseOrder.buyer_organization_id == core_enterprise_id,
            Deal.currency == currency,
            Deal.status.in_(_OPEN),
        )
    )
    return int(found or 0)


async def deals_awaiting_assessment(
    session: AsyncSession, *, settled_before: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """``(tenant_id, deal_id)`` of SUBMITTED deals whose calls are all final (the last before
    ``settled_before``) and whose submission has no assessment: their assessment job was
    lost. Platform scope."""
    calls = IntegrationCall
    unfinished = exists().where(
        calls.tenant_id == Deal.tenant_id,
        calls.deal_id == Deal.id,
        calls.state.in_((CallState.PENDING, CallState.RUNNING)),
    )
    recent = exists().where(
        calls.tenant_id == Deal.tenant_id,
        calls.deal_id == Deal.id,
        calls.finished_at >= settled_before,
    )
    assessed = exists().where(
        and_(
            RiskAssessment.tenant_id == Deal.tenant_id,
            RiskAssessment.deal_id == Deal.id,
            RiskAssessment.submitted_at == Deal.submitted_at,
        )
    )
    found = await session.execute(
        select(Deal.tenant_id, Deal.id)
        .where(
            Deal.status == DealStatus.SUBMITTED,
            Deal.submitted_at < settled_before,
            ~unfinished,
            ~recent,
            ~assessed,
        )
        .order_by(Deal.submitted_at)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in found.all()]
