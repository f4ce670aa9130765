"""SQL of loans. Every query names the tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import any_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.loans.models import Loan
from domain.persistence.base import uuid_array


async def of_deal(
    session: AsyncSession, *, tenant_id: uuid.UUID, deal_id: uuid.UUID
) -> Loan | None:
    """The deal's loan, if it has one."""
    stmt = select(Loan).where(Loan.tenant_id == tenant_id, Loan.deal_id == deal_id)
    return (await session.scalars(stmt)).first()


async def of_deals(
    session: AsyncSession, tenant_id: uuid.UUID, deal_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Loan]:
    """The loans of ``deal_ids`` of one tenant, by deal."""
    if not deal_ids:
        return {}
    stmt = select(Loan).where(
        Loan.tenant_id == tenant_id, Loan.deal_id == any_(uuid_array(deal_ids))
    )
    return {row.deal_id: row for row in await session.scalars(stmt)}


def add(session: AsyncSession, loan: Loan) -> None:
    """Stage a new loan (flushed by the caller)."""
    session.add(loan)


__all__ = ["add", "of_deal", "of_deals"]
