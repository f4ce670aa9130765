"""SQL of loans. Every query names the tenant.

What the API reads (a page of loans, loans by ID, the loans of deals) is plain rows through
SQLAlchemy Core: a loan's columns and its deal's applicant (the borrower), joined on the deal's
primary key, so that a page of loans with their borrowers needs no statement per deal."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, and_, any_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from domain.deals.models import Deal
from domain.loans.models import Loan, LoanStatus
from domain.persistence.base import uuid_array

#: A keyset position in a page of loans: ``(created_at, tenant_id, id)``.
Keyset = tuple[datetime, uuid.UUID, uuid.UUID]

_LOANS = cast(Table, Loan.__table__)
_L = _LOANS.c
_DEALS = cast(Table, Deal.__table__)
_D = _DEALS.c

# A loan's columns and its borrower: the deal's applicant.
_ROWS = select(_LOANS, _D.applicant_person_id, _D.applicant_organization_id).select_from(
    _LOANS.join(_DEALS, and_(_D.tenant_id == _L.tenant_id, _D.id == _L.deal_id))
)


async def of_deal(
    session: AsyncSession, *, tenant_id: uuid.UUID, deal_id: uuid.UUID
) -> Loan | None:
    """The deal's loan, if it has one."""
    stmt = select(Loan).where(Loan.tenant_id == tenant_id, Loan.deal_id == deal_id)
    return (await session.scalars(stmt)).first()


async def loans_page(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    limit: int,
    after: Keyset | None = None,
    status: LoanStatus | None = None,
) -> list[Row[Any]]:
    """Up to ``limit`` loans of ``tenant_id``, oldest first after the keyset position
    ``(created_at, tenant_id, id)`` (the order of ``ix_loans_page``), each with its borrower."""
    stmt = _ROWS.where(_L.tenant_id == tenant_id)
    if status is not None:
        stmt = stmt.where(_L.status == status.value)
    if after is not None:
        stmt = stmt.where(tuple_(_L.created_at, _L.tenant_id, _L.id) > tuple_(*after))
    stmt = stmt.order_by(_L.created_at, _L.tenant_id, _L.id).limit(limit)
    return list(await session.execute(stmt))


async def loans_by_ids(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Row[Any]]:
    """Batch getter: the visible loans among ``ids`` (``node(id:)``: row-level security names
    the tenant), each with its borrower."""
    if not ids:
        return {}
    rows = await session.execute(_ROWS.where(_L.id == any_(uuid_array(ids))))
    return {row.id: row for row in rows}


async def loans_of_deals(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], Row[Any]]:
    """Batch getter: the loan of each ``(tenant_id, deal_id)``, if it has one (``uq_loans_deal``
    is entered by both columns; the pairs the cross product of the two arrays adds are
    dropped)."""
    if not keys:
        return {}
    stmt = _ROWS.where(
        _L.tenant_id == any_(uuid_array({k[0] for k in keys})),
        _L.deal_id == any_(uuid_array({k[1] for k in keys})),
    )
    wanted = set(keys)
    out = {}
    for row in await session.execute(stmt):
        key = (row.tenant_id, row.deal_id)
        if key in wanted:
            out[key] = row
    return out


def add(session: AsyncSession, loan: Loan) -> None:
    """Stage a new loan (flushed by the caller)."""
    session.add(loan)


__all__ = ["Keyset", "add", "loans_by_ids", "loans_of_deals", "loans_page", "of_deal"]
