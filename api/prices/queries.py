"""The ``commodityPrices`` query: a funder's recorded prices, newest first."""

from __future__ import annotations

from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from api.pagination import After, First, check_first
from api.permissions import has_scope
from api.prices.types import CommodityPriceConnection, decode_cursor, price_connection
from domain.kernel.errors import DomainError
from domain.prices import service


@strawberry.type
class PriceQueries:
    @strawberry.field(
        description="Your funder's recorded commodity prices, newest first (by asOf), of one "
        "commodity if named. For the funder's staff (products:read); every funder's for the "
        "operator.",
        permission_classes=[has_scope(service.READ_SCOPE)],
    )
    async def commodity_prices(
        self,
        info: Info,
        first: First,
        after: After = None,
        commodity_code: Annotated[
            str | None, strawberry.argument(description="Only this commodity, e.g. CU.")
        ] = None,
    ) -> CommodityPriceConnection:
        check_first(first)
        keyset = decode_cursor(after)
        async with info.context.db() as session:
            try:
                rows = await service.commodity_prices(
                    session,
                    info.context.actor,
                    limit=first + 1,
                    commodity_code=commodity_code,
                    after=keyset,
                )
            except DomainError as exc:
                raise GraphQLError(
                    f"{exc.field}: {exc.message}", extensions={"code": "BAD_USER_INPUT"}
                ) from exc
        return price_connection(rows, first)
