"""Every query of commodity prices. Row-level security keeps each funder to its own rows;
the queries still name the tenant, so the operator's scope reads one funder at a time."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from domain.prices.models import CommodityPrice

__all__ = ["Keyset", "add", "latest_prices", "prices_page"]

#: A position in a page of prices, newest first: ``(as_of, id)``.
Keyset = tuple[datetime, uuid.UUID]


def add(session: AsyncSession, row: CommodityPrice) -> None:
    """Stage a new price; the caller's flush writes it."""
    session.add(row)


async def prices_page(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None,
    limit: int,
    commodity_code: str | None = None,
    after: Keyset | None = None,
) -> list[CommodityPrice]:
    """Up to ``limit`` prices of ``tenant_id`` (every visible funder's for None: the
    operator), of one commodity if named, newest first (by ``as_of``, then ID)."""
    stmt = select(CommodityPrice)
    if tenant_id is not None:
        stmt = stmt.where(CommodityPrice.tenant_id == tenant_id)
    if commodity_code is not None:
        stmt = stmt.where(CommodityPrice.commodity_code == commodity_code)
    if after is not None:
        stmt = stmt.where(tuple_(CommodityPrice.as_of, CommodityPrice.id) < tuple_(*after))
    stmt = stmt.order_by(CommodityPrice.as_of.desc(), CommodityPrice.id.desc()).limit(limit)
    return list(await session.scalars(stmt))


async def latest_prices(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    currency: str,
    commodity_codes: Collection[str],
) -> list[CommodityPrice]:
    """The funder's latest price in ``currency`` of each of ``commodity_codes``, one per
    (commodity, unit): a price per tonne and one per kilogram are different prices."""
    if not commodity_codes:
        return []
    stmt = (
        select(CommodityPrice)
        .where(
            CommodityPrice.tenant_id == tenant_id,
            CommodityPrice.currency == currency,
            CommodityPrice.commodity_code.in_(sorted(set(commodity_codes))),
        )
        .ext(distinct_on(CommodityPrice.commodity_code, CommodityPrice.unit))
        .order_by(
            CommodityPrice.commodity_code,
            CommodityPrice.unit,
            CommodityPrice.as_of.desc(),
            CommodityPrice.id.desc(),
        )
    )
    return list(await session.scalars(stmt))
