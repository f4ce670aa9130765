"""Every query on organizations and persons. Row-level security filters what each scope sees;
these queries never widen it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.parties.models import Organization, Person


async def organizations_by_ids(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Organization]:
    """Batch getter: the visible organizations among ``ids``."""
    if not ids:
        return {}
    rows = await session.scalars(select(Organization).where(Organization.id.in_(ids)))
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
    rows = await session.scalars(select(Person).where(Person.id.in_(ids)))
    return {row.id: row for row in rows}


async def person_by_resident_id_hash(session: AsyncSession, digest: bytes) -> Person | None:
    """The person whose resident ID has this keyed hash, if visible."""
    result = await session.scalars(select(Person).where(Person.resident_id_hash == digest))
    return result.first()


def add(session: AsyncSession, row: Organization | Person) -> None:
    """Stage a new row; the caller's flush writes it."""
    session.add(row)
