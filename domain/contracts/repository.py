"""SQL of the contracts context: a deal's current contract, its latest version number, the
current contracts of many deals (for ``Deal.contract``), and staging a new version."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import String, any_, column, func, select, table
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession

from domain.contracts.models import Contract, ContractStatus
from domain.persistence.base import uuid_array

__all__ = [
    "Funder",
    "add",
    "current",
    "current_of_deals",
    "funder",
    "latest_version",
    "lock_by_id",
]

_tenants = table(
    "tenants",
    column("id", UUID(as_uuid=True)),
    column("name", String(200)),
    column("registration_number", String(18)),
    column("time_zone", String(64)),
)


@dataclass(frozen=True, slots=True)
class Funder:
    """What a contract names of its funder, and the funder's time zone (its today)."""

    name: str
    #: Its unified social credit code; None until the operator records it.
    registration_number: str | None
    time_zone: str


async def funder(session: AsyncSession, tenant_id: uuid.UUID) -> Funder | None:
    """The deal's funder, if this scope sees it."""
    stmt = select(_tenants.c.name, _tenants.c.registration_number, _tenants.c.time_zone).where(
        _tenants.c.id == tenant_id
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    return Funder(
        name=row.name, registration_number=row.registration_number, time_zone=row.time_zone
    )


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
    session: AsyncSession, contract_id: uuid.UUID, *, tenant_id: uuid.UUID | None = None
) -> Contract | None:
    """The contract of that ID, locked (``FOR UPDATE``), if this scope sees it (and it is
    ``tenant_id``'s, when given)."""
    stmt = (
        select(Contract)
        .where(Contract.id == contract_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if tenant_id is not None:
        stmt = stmt.where(Contract.tenant_id == tenant_id)
    return (await session.scalars(stmt)).first()
