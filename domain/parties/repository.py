"""Every query on organizations and persons. Row-level security filters what each scope sees;
these queries never widen it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import any_, column, exists, select, table, update
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession

from domain.parties.models import AgentKind, Organization, PartyAgent, Person, TenantCustomer
from domain.persistence.base import uuid_array


async def organizations_by_ids(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Organization]:
    """Batch getter: the visible organizations among ``ids``."""
    if not ids:
        return {}
    rows = await session.scalars(
        select(Organization).where(Organization.id == any_(uuid_array(ids)))
    )
    return {row.id: row for row in rows}


async def organization_by_code(session: AsyncSession, code: str) -> Organization | None:
    """The organization with this unified social credit code, if visible."""
    result = await session.scalars(
        select(Organization).where(Organization.social_credit_code == code)
    )
    return result.first()


async def persons_by_ids(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Person]:
    """Batch getter: the visible persons among ``ids``."""
    if not ids:
        return {}
    rows = await session.scalars(select(Person).where(Person.id == any_(uuid_array(ids))))
    return {row.id: row for row in rows}


async def person_by_resident_id_hash(session: AsyncSession, digest: bytes) -> Person | None:
    """The person whose resident ID has this keyed hash, if visible."""
    result = await session.scalars(select(Person).where(Person.resident_id_hash == digest))
    return result.first()


def add(session: AsyncSession, row: Organization | Person | PartyAgent | TenantCustomer) -> None:
    """Stage a new row; the caller's flush writes it."""
    session.add(row)


# -- who acts for whom ----------------------------------------------------------------------------


async def live_agent(
    session: AsyncSession,
    *,
    agent_organization_id: uuid.UUID,
    kind: AgentKind,
    person_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
) -> PartyAgent | None:
    """The live relationship of an agent organization with a party, if visible."""
    stmt = select(PartyAgent).where(
        PartyAgent.agent_organization_id == agent_organization_id,
        PartyAgent.kind == kind,
        PartyAgent.revoked_at.is_(None),
        PartyAgent.person_id == person_id
        if person_id is not None
        else PartyAgent.organization_id == organization_id,
    )
    return (await session.scalars(stmt.execution_options(populate_existing=True))).first()


async def live_customer(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    person_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
) -> TenantCustomer | None:
    """The live relationship of a funder with a party, if visible."""
    stmt = select(TenantCustomer).where(
        TenantCustomer.tenant_id == tenant_id,
        TenantCustomer.revoked_at.is_(None),
        TenantCustomer.person_id == person_id
        if person_id is not None
        else TenantCustomer.organization_id == organization_id,
    )
    return (await session.scalars(stmt.execution_options(populate_existing=True))).first()


async def revoke(session: AsyncSession, row: PartyAgent | TenantCustomer, at: datetime) -> bool:
    """End a live relationship; False when it had ended already (or is not the caller's)."""
    model = type(row)
    stmt = (
        update(model)
        .where(model.id == row.id, model.revoked_at.is_(None))
        .values(revoked_at=at)
        .execution_options(synchronize_session=False)
    )
    if isinstance(row, TenantCustomer):
        stmt = stmt.where(TenantCustomer.tenant_id == row.tenant_id)
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


# The funders a party may name as its agent. A bare table clause: the domain does not import
# the tenants package (DESIGN.md section 4).
_tenants = table("tenants", column("id", UUID(as_uuid=True)))


async def tenant_visible(session: AsyncSession, tenant_id: uuid.UUID) -> bool:
    """Whether this scope sees the funder (a listed one, or one of its deals)."""
    stmt = select(exists().where(_tenants.c.id == tenant_id))
    return bool((await session.execute(stmt)).scalar())
