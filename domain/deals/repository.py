"""Every query of the deals context and the batch getters of its DataLoaders. Row-level security
decides what each scope sees (the funder its deals, the applicant its own, a partner app its
channel's); the pages still name whose deals they list."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, String, Table, and_, any_, column, insert, or_, select, table, tuple_
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from domain.deals.models import ActorKind, Deal, DealChannel, DealEvent, DealStatus
from domain.persistence.base import uuid_array
from domain.products.models import Product, ProductLine, ProductVersion

#: A keyset position in a page of deals: ``(created_at, tenant_id, id)``.
Keyset = tuple[datetime, uuid.UUID, uuid.UUID]

# The funder's time zone and status. A bare table clause: the domain does not import the
# tenants package (DESIGN.md section 4).
_tenants = table(
    "tenants",
    column("id", UUID(as_uuid=True)),
    column("name", String(200)),
    column("registration_number", String(18)),
    column("status", String(32)),
    column("time_zone", String(64)),
)


_DEALS = cast(Table, Deal.__table__)
_D = _DEALS.c


@dataclass(frozen=True, slots=True)
class Funder:
    """What a deal needs of its funder: whether it lends, its time zone (its today), and how
    its contracts name it."""

    id: uuid.UUID
    active: bool
    time_zone: str
    name: str
    #: Its unified social credit code; None until the operator records it.
    registration_number: str | None


async def deal(
    session: AsyncSession, deal_id: uuid.UUID, *, for_update: bool = False
) -> Deal | None:
    """One visible deal, fresh from the database; locked when ``for_update`` (a change of
    the deal waits for a concurrent one and then sees its outcome)."""
    stmt = select(Deal).where(Deal.id == deal_id).execution_options(populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def deals_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Deal]:
    """Batch getter: the visible deals among ``ids``."""
    if not ids:
        return {}
    rows = await session.scalars(select(Deal).where(Deal.id == any_(uuid_array(ids))))
    return {row.id: row for row in rows}


async def events_of_deals(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], list[Row[Any]]]:
    """Batch getter: each visible deal's timeline, oldest first, by ``(tenant_id, deal_id)``
    (the order of ``ix_deal_events_deal``: without the tenant PostgreSQL walks the whole
    index). Plain rows: the timeline is read, never changed."""
    out: dict[tuple[uuid.UUID, uuid.UUID], list[Row[Any]]] = defaultdict(list)
    if not keys:
        return out
    events = DealEvent.__table__
    # One index range per (tenant, deal) pair: ``= ANY`` of two arrays is one statement text
    # whatever the page size (one prepared statement), and a page has one or few tenants; the
    # pairs the cross product adds are dropped below.
    stmt = (
        select(events)
        .where(
            events.c.tenant_id == any_(uuid_array({k[0] for k in keys})),
            events.c.deal_id == any_(uuid_array({k[1] for k in keys})),
        )
        .order_by(events.c.tenant_id, events.c.deal_id, events.c.id)
    )
    wanted = set(keys)
    for row in await session.execute(stmt):
        key = (row.tenant_id, row.deal_id)
        if key in wanted:
            out[key].append(row)
    return out


async def funder(session: AsyncSession, tenant_id: uuid.UUID) -> Funder | None:
    """The funder of a deal, if this scope sees it."""
    stmt = select(
        _tenants.c.status, _tenants.c.time_zone, _tenants.c.name, _tenants.c.registration_number
    ).where(_tenants.c.id == tenant_id)
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    return Funder(
        id=tenant_id,
        active=row.status == "ACTIVE",
        time_zone=row.time_zone,
        name=row.name,
        registration_number=row.registration_number,
    )


def _page(
    condition: ColumnElement[bool] | None,
    *,
    after: Keyset | None,
    status: DealStatus | None,
    product_line: ProductLine | None,
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [] if condition is None else [condition]
    if status is not None:
        where.append(_D.status == status)
    if product_line is not None:
        where.append(_D.product_line == product_line)
    if after is not None:
        where.append(tuple_(_D.created_at, _D.tenant_id, _D.id) > tuple_(*after))
    return where


async def _list(
    session: AsyncSession,
    condition: ColumnElement[bool] | None,
    *,
    limit: int,
    after: Keyset | None,
    status: DealStatus | None,
    product_line: ProductLine | None,
) -> list[Row[Any]]:
    where = _page(condition, after=after, status=status, product_line=product_line)
    # Plain rows through SQLAlchemy Core (the table's columns, not the mapped attributes,
    # which would route the statement through ORM loading): a page is read, never changed,
    # and ORM identity and hydration cost more than the page's query itself.
    stmt = select(_DEALS).where(*where).order_by(_D.created_at, _D.tenant_id, _D.id).limit(limit)
    return list(await session.execute(stmt))


async def funder_deals_page(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None,
    limit: int,
    after: Keyset | None = None,
    status: DealStatus | None = None,
    product_line: ProductLine | None = None,
) -> list[Row[Any]]:
    """Up to ``limit`` deals of ``tenant_id`` (every visible deal for the operator, who passes
    None), oldest first after the keyset position ``(created_at, tenant_id, id)``."""
    condition = None if tenant_id is None else _D.tenant_id == tenant_id
    return await _list(
        session, condition, limit=limit, after=after, status=status, product_line=product_line
    )


async def own_deals_page(
    session: AsyncSession,
    *,
    person_id: uuid.UUID | None,
    organization_id: uuid.UUID | None,
    channel_client_id: str | None,
    limit: int,
    after: Keyset | None = None,
    status: DealStatus | None = None,
    product_line: ProductLine | None = None,
) -> list[Row[Any]]:
    """Up to ``limit`` deals of an applicant (a person, an organization) or of a partner app's
    channel (its client and organization), oldest first."""
    conditions: list[ColumnElement[bool]] = []
    if person_id is not None:
        conditions.append(_D.applicant_person_id == person_id)
    if organization_id is not None and channel_client_id is None:
        conditions.append(_D.applicant_organization_id == organization_id)
    if channel_client_id is not None and organization_id is not None:
        conditions.append(
            and_(
                _D.channel == DealChannel.PARTNER_APP,
                _D.channel_client_id == channel_client_id,
                _D.channel_organization_id == organization_id,
            )
        )
    if not conditions:
        return []
    return await _list(
        session,
        or_(*conditions),
        limit=limit,
        after=after,
        status=status,
        product_line=product_line,
    )


async def app_deals_page(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    channel_client_id: str,
    limit: int,
    after: Keyset | None = None,
    status: DealStatus | None = None,
    product_line: ProductLine | None = None,
) -> list[Row[Any]]:
    """Up to ``limit`` deals a funder's own app applied for through its client, oldest first."""
    condition = and_(
        _D.tenant_id == tenant_id,
        _D.channel == DealChannel.FUNDER_APP,
        _D.channel_client_id == channel_client_id,
    )
    return await _list(
        session, condition, limit=limit, after=after, status=status, product_line=product_line
    )


async def product_of(
    session: AsyncSession, deal: Deal
) -> tuple[Product | None, ProductVersion] | None:
    """The exact version the deal was applied under (whoever sees the deal sees it, even after
    the product moved on to a newer version or retired) and the product itself, when this
    scope may read it (its funder always; others while it is listed)."""
    stmt = (
        select(ProductVersion, Product)
        .outerjoin(
            Product,
            and_(
                Product.tenant_id == ProductVersion.tenant_id,
                Product.id == ProductVersion.product_id,
            ),
        )
        .where(
            ProductVersion.tenant_id == deal.tenant_id,
            ProductVersion.product_id == deal.product_id,
            ProductVersion.version == deal.product_version,
        )
    )
    row = (await session.execute(stmt)).first()
    return None if row is None else (row[1], row[0])


async def versions_by_keys(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, uuid.UUID, int]]
) -> dict[tuple[uuid.UUID, uuid.UUID, int], ProductVersion]:
    """Batch getter: the visible product versions among ``(tenant_id, product_id, version)``
    keys (the versions deals were applied under)."""
    if not keys:
        return {}
    # Arrays rather than a list of tuples: one statement text whatever the number of keys;
    # the pairs the cross product adds are dropped below.
    stmt = select(ProductVersion).where(
        ProductVersion.tenant_id == any_(uuid_array({k[0] for k in keys})),
        ProductVersion.product_id == any_(uuid_array({k[1] for k in keys})),
    )
    wanted = set(keys)
    found = {(v.tenant_id, v.product_id, v.version): v for v in await session.scalars(stmt)}
    return {key: row for key, row in found.items() if key in wanted}


def add(session: AsyncSession, row: Deal) -> None:
    """Stage a new deal; the caller's flush writes it."""
    session.add(row)


async def append_event(
    session: AsyncSession,
    *,
    deal: Deal,
    action: str,
    from_status: DealStatus | None,
    actor_kind: ActorKind,
    actor_user_id: uuid.UUID | None,
    actor_client_id: str | None,
    request_id: str | None,
    note: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one timeline entry for ``deal`` (in its current status). No RETURNING: the
    entry's ID is generated by the database and nothing needs it back."""
    await session.execute(
        insert(DealEvent)
        .values(
            tenant_id=deal.tenant_id,
            deal_id=deal.id,
            action=action,
            from_status=from_status,
            to_status=deal.status,
            actor_kind=actor_kind,
            actor_user_id=actor_user_id,
            actor_client_id=actor_client_id,
            request_id=request_id,
            note=note,
            details=details or {},
        )
        .inline()
    )


__all__ = [
    "Funder",
    "Keyset",
    "add",
    "app_deals_page",
    "append_event",
    "deal",
    "deals_by_ids",
    "events_of_deals",
    "funder",
    "funder_deals_page",
    "own_deals_page",
    "product_of",
    "versions_by_keys",
]


async def platform_deals_page(
    session: AsyncSession,
    *,
    limit: int,
    after: Keyset | None = None,
    tenant_id: uuid.UUID | None = None,
    product_line: ProductLine | None = None,
    statuses: Sequence[DealStatus] | None = None,
    created_before: datetime | None = None,
    submitted_before: datetime | None = None,
) -> list[Row[Any]]:
    """Up to ``limit`` deals across every funder (the operator's platform scope sees them all),
    oldest first after the keyset position ``(created_at, tenant_id, id)``, narrowed by funder,
    product line, statuses (any of them; an empty list matches none), creation before a moment
    and submission before a moment (never submitted: left out).

    Each filter has an index whose columns after it follow the page's order:
    ``ix_deals_tenant_created`` (the funder), ``ix_deals_line_created``,
    ``ix_deals_status_created``, ``ix_deals_created`` (no filter, or the creation moment, as a
    range) and ``ix_deals_submitted`` (the submission moment, as a range)."""
    if statuses is not None and not statuses:
        return []
    where: list[ColumnElement[bool]] = []
    if tenant_id is not None:
        where.append(_D.tenant_id == tenant_id)
    if product_line is not None:
        where.append(_D.product_line == product_line)
    if created_before is not None:
        where.append(_D.created_at < created_before)
    if submitted_before is not None:
        where.append(_D.submitted_at < submitted_before)
    if after is not None:
        where.append(tuple_(_D.created_at, _D.tenant_id, _D.id) > tuple_(*after))
    order = (_D.created_at, _D.tenant_id, _D.id)
    # Plain rows, as the other pages: read, never changed.
    if statuses is None:
        return list(
            await session.execute(select(_DEALS).where(*where).order_by(*order).limit(limit))
        )
    # One branch per status, each an equality: each branch is a range of the status index in
    # the page's order, and PostgreSQL merges them in order (a Merge Append) up to the limit,
    # where ``status IN (...)`` would read every deal of those statuses and sort them.
    branches = [
        select(_DEALS).where(*where, _D.status == s).order_by(*order).limit(limit)
        for s in sorted(set(statuses))
    ]
    if len(branches) == 1:
        return list(await session.execute(branches[0]))
    merged = branches[0].union_all(*branches[1:]).subquery("deals")
    stmt = (
        select(merged).order_by(merged.c.created_at, merged.c.tenant_id, merged.c.id).limit(limit)
    )
    return list(await session.execute(stmt))
