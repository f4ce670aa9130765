"""GraphQL type of a pledge's collateral valuation, as the VALUATION call stored it
(:mod:`domain.risk.valuation`). Like the other risk data, it is shown only to the deal's own
funder holding ``risk:read``; whoever resolves it checks that."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

from api.scalars import MoneyType
from domain.risk import valuation

PriceSource = strawberry.enum(
    valuation.PriceSource,
    name="ValuationPriceSource",
    description="Whose price valued a receipt: the funder's own recorded price (FUNDER) or "
    "the price feed's quote (FEED).",
)
UnvaluedReason = strawberry.enum(
    valuation.Unvalued,
    name="UnvaluedReason",
    description="Why a receipt has no value: no commodity code on it, a commodity (or "
    "currency) the feed does not quote, a price per another unit than the receipt's, or a "
    "price older than seven days.",
)


@strawberry.type(description="One pledged receipt's valuation: quantity x unit price.")
class CollateralValuationLine:
    receipt_id: relay.GlobalID = strawberry.field(description="The warehouse receipt.")
    receipt_number: str = strawberry.field(description="The receipt's number.")
    commodity_code: str | None = strawberry.field(description="The receipt's commodity code.")
    quantity: str = strawberry.field(description='The quantity, e.g. "120.500000".')
    unit: str = strawberry.field(description="The unit of the quantity and of the price.")
    unit_price: MoneyType | None = strawberry.field(
        description="The price of one unit used; null when unvalued."
    )
    source: PriceSource | None = strawberry.field(description="Whose price it is.")  # type: ignore[valid-type]
    market: str | None = strawberry.field(
        description="Where the price comes from (the funder's note or the feed's market)."
    )
    as_of: datetime | None = strawberry.field(description="When the price was set.")
    value: MoneyType | None = strawberry.field(
        description="Quantity x unit price, rounded half-up to the minor unit; null when unvalued."
    )
    unvalued_reason: UnvaluedReason | None = strawberry.field(  # type: ignore[valid-type]
        description="Why the receipt has no value (null when valued)."
    )


@strawberry.type(
    description="A warehouse-receipt pledge's value: the sum of its receipts' rounded values. "
    "complete is false when some receipt could not be valued; the total then covers the "
    "valued receipts only."
)
class CollateralValuation:
    total: MoneyType = strawberry.field(description="The sum of the valued lines.")
    complete: bool = strawberry.field(description="Whether every receipt was valued.")
    valued_at: datetime = strawberry.field(description="When the valuation was made.")
    lines: list[CollateralValuationLine] = strawberry.field(description="One per receipt.")

    @classmethod
    def of(cls, stored: dict[str, Any]) -> CollateralValuation:
        """The valuation stored by the VALUATION call (its ``result``)."""
        found = valuation.valuation_from_json(stored)
        return cls(
            total=MoneyType.of(found.total),
            complete=found.complete,
            valued_at=found.valued_at,
            lines=[_line(line) for line in found.lines],
        )


def _global_id(type_name: str, pk: uuid.UUID) -> relay.GlobalID:
    return relay.GlobalID(type_name, str(pk))


def _line(line: valuation.ValuationLine) -> CollateralValuationLine:
    price = line.price
    return CollateralValuationLine(
        receipt_id=_global_id("WarehouseReceipt", line.receipt_id),
        receipt_number=line.number,
        commodity_code=line.commodity_code,
        quantity=format(line.quantity, "f"),
        unit=line.unit,
        unit_price=None if price is None else MoneyType.of(price.price),
        source=None if price is None else price.source,
        market=None if price is None else price.market,
        as_of=None if price is None else price.as_of,
        value=None if line.value is None else MoneyType.of(line.value),
        unvalued_reason=line.reason,
    )


__all__ = ["CollateralValuation", "CollateralValuationLine"]
