"""Use cases on a funder's commodity prices: recording one (its admins, with the product
configuration scope ``products:write``) and reading them (its staff, ``products:read``).

Prices are append-only: recording a price for a moment already priced is refused
(DUPLICATE); a correction is a newer price. Every use case flushes and never commits;
refusals raise :class:`DomainError`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import repository as audit
from domain.collateral.policy import clean_commodity_code
from domain.events import repository as events
from domain.kernel.actor import Actor, require
from domain.kernel.clock import transaction_now
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.money import Money
from domain.kernel.scopes import Scope
from domain.persistence.base import new_id
from domain.persistence.constraints import refusing
from domain.prices import policy, repository
from domain.prices.models import CommodityPrice

__all__ = ["commodity_prices", "record_commodity_price"]

#: Whose scope records prices: the funder admins' product configuration scope.
RECORD_SCOPE = Scope.PRODUCTS_WRITE
#: Whose scope reads them: every member of the funder's staff holds it.
READ_SCOPE = Scope.PRODUCTS_READ


def _own_tenant(actor: Actor) -> uuid.UUID:
    if actor.tenant_id is None:
        raise DomainError(
            ErrorCode.FORBIDDEN, "commodity prices belong to a funder; act in a tenant"
        )
    return actor.tenant_id


async def record_commodity_price(
    session: AsyncSession,
    actor: Actor,
    *,
    commodity_code: str,
    price: Money,
    unit: str,
    as_of: datetime,
    source: str,
) -> CommodityPrice:
    """Record the funder's price of one ``unit`` of a commodity as of ``as_of`` (not in the
    future). Valuations of the funder's pledges prefer its latest fresh price to the feed's."""
    require(actor, RECORD_SCOPE)
    tenant_id = _own_tenant(actor)
    data = policy.validate_price(
        commodity_code=commodity_code,
        price=price,
        unit=unit,
        as_of=as_of,
        source=source,
        now=await transaction_now(session),
    )
    row = CommodityPrice(
        tenant_id=tenant_id,
        id=new_id(),
        commodity_code=data.commodity_code,
        currency=data.price.currency,
        unit=data.unit,
        price_minor=data.price.amount_minor,
        as_of=data.as_of,
        source=data.source,
        created_by_user_id=actor.user_id,
    )
    async with refusing(
        session,
        {
            "uq_commodity_prices_as_of": DomainError(
                ErrorCode.DUPLICATE,
                "a price of this commodity, currency and unit is already recorded as of then",
                "asOf",
            ),
        },
    ):
        repository.add(session, row)
    await session.refresh(row)
    details: dict[str, object] = {
        "commodity_code": row.commodity_code,
        "price": row.price.to_decimal_string(),
        "currency": row.currency,
        "unit": row.unit,
        "as_of": row.as_of.isoformat(),
        "source": row.source,
    }
    await audit.record(
        session,
        actor,
        action="commodity_price.record",
        object_type="CommodityPrice",
        object_id=row.id,
        tenant_id=tenant_id,
        details=details,
    )
    await events.append(
        session,
        tenant_id=tenant_id,
        type="commodity_price.recorded",
        aggregate_type="CommodityPrice",
        aggregate_id=row.id,
        payload=details,
    )
    return row


async def commodity_prices(
    session: AsyncSession,
    actor: Actor,
    *,
    limit: int,
    commodity_code: str | None = None,
    after: repository.Keyset | None = None,
) -> list[CommodityPrice]:
    """Up to ``limit`` of the actor's funder's prices (every funder's for the operator),
    newest first, of one commodity if named (its code is normalised as on recording)."""
    require(actor, READ_SCOPE)
    if actor.tenant_id is None and not actor.is_platform:
        return []
    code = None if commodity_code is None else clean_commodity_code(commodity_code)
    return await repository.prices_page(
        session,
        tenant_id=actor.tenant_id,
        limit=limit,
        commodity_code=code,
        after=after,
    )
