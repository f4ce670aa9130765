"""GraphQL types of a funder's commodity prices."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry import relay

from api.errors import UserError
from api.pagination import decode_keyset, encode_keyset, page_info
from api.scalars import MoneyType
from domain.prices.models import CommodityPrice as CommodityPriceRow
from domain.prices.repository import Keyset


@strawberry.type(
    description="A funder's price of one unit of a commodity as of a moment. Prices are "
    "append-only: a newer price is a new entry. Valuations of the funder's pledges prefer "
    "its latest price not older than seven days to the price feed's."
)
class CommodityPrice:
    commodity_code: str = strawberry.field(description="The commodity code, e.g. CU.")
    price: MoneyType = strawberry.field(description="The price of one unit.")
    unit: str = strawberry.field(description="The unit priced, e.g. t; matched to receipts'.")
    as_of: datetime = strawberry.field(description="When the price was set.")
    source: str = strawberry.field(description="Where the price comes from.")
    recorded_at: datetime = strawberry.field(description="When it was recorded.")
    row: strawberry.Private[CommodityPriceRow]

    @classmethod
    def of(cls, row: CommodityPriceRow) -> CommodityPrice:
        return cls(
            commodity_code=row.commodity_code,
            price=MoneyType.of(row.price),
            unit=row.unit,
            as_of=row.as_of,
            source=row.source,
            recorded_at=row.created_at,
            row=row,
        )


@strawberry.type(description="Result of recordCommodityPrice.")
class RecordCommodityPricePayload:
    commodity_price: CommodityPrice | None = strawberry.field(
        description="The recorded price, unless refused."
    )
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


@strawberry.type(description="A commodity price in a page.")
class CommodityPriceEdge:
    cursor: str = strawberry.field(description="Opaque keyset cursor of this price.")
    node: CommodityPrice = strawberry.field(description="The price.")


@strawberry.type(description="A page of commodity prices, newest first.")
class CommodityPriceConnection:
    edges: list[CommodityPriceEdge] = strawberry.field(description="The prices of this page.")
    page_info: relay.PageInfo = strawberry.field(description="Where this page ends.")


PRICES_CURSOR = "cp"


def decode_cursor(cursor: str | None) -> Keyset | None:
    """The keyset position ``(as_of, id)`` in ``cursor``; a GraphQL error if not ours."""
    found = decode_keyset(PRICES_CURSOR, cursor, 1)
    return None if found is None else (found[0], found[1][0])


def price_connection(rows: list[CommodityPriceRow], first: int) -> CommodityPriceConnection:
    """A connection from up to ``first + 1`` rows (the extra one only says there is more)."""
    edges = [
        CommodityPriceEdge(
            cursor=encode_keyset(PRICES_CURSOR, r.as_of, r.id), node=CommodityPrice.of(r)
        )
        for r in rows[:first]
    ]
    return CommodityPriceConnection(
        edges=edges, page_info=page_info([e.cursor for e in edges], len(rows) > first)
    )


__all__ = [
    "CommodityPrice",
    "CommodityPriceConnection",
    "CommodityPriceEdge",
    "RecordCommodityPricePayload",
    "decode_cursor",
    "price_connection",
]
