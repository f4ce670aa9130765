"""The funder admins' mutation: record a commodity price."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from api.errors import run_use_case, to_user_errors
from api.permissions import has_scope
from api.prices.types import CommodityPrice, RecordCommodityPricePayload
from api.scalars import MoneyInput
from domain.kernel.errors import DomainError
from domain.prices import service


@strawberry.input(description="A commodity price to record.")
class RecordCommodityPriceInput:
    commodity_code: str = strawberry.field(
        description="The commodity code, e.g. CU (upper-cased; 1-32 of A-Z 0-9 . _ -), as on "
        "the warehouse receipts it prices."
    )
    price: MoneyInput = strawberry.field(description="The price of one unit (more than zero).")
    unit: str = strawberry.field(description="The unit priced, e.g. t, as on the receipts.")
    as_of: datetime = strawberry.field(
        description="When the price was set, with its offset; not in the future."
    )
    source: str = strawberry.field(
        description="Where the price comes from, e.g. a market report (at most 200 characters)."
    )


@strawberry.type
class PriceMutations:
    @strawberry.mutation(
        description="Record your funder's price of a commodity (funder admins: the "
        "products:write scope of product configuration). Valuations of your pledges prefer "
        "your latest price not older than seven days to the price feed's. Append-only: a "
        "second price for the same commodity, currency, unit and moment is refused.",
        permission_classes=[has_scope(service.RECORD_SCOPE)],
    )
    async def record_commodity_price(
        self, info: Info, input: RecordCommodityPriceInput
    ) -> RecordCommodityPricePayload:
        try:
            price = input.price.to_money("price")
        except DomainError as exc:
            return RecordCommodityPricePayload(
                commodity_price=None, user_errors=to_user_errors(exc)
            )
        async with info.context.db() as session:
            row, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.record_commodity_price(
                    s,
                    a,
                    commodity_code=input.commodity_code,
                    price=price,
                    unit=input.unit,
                    as_of=input.as_of,
                    source=input.source,
                ),
            )
        return RecordCommodityPricePayload(
            commodity_price=CommodityPrice.of(row) if row is not None else None,
            user_errors=errors,
        )
