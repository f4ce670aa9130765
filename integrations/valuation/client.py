"""The commodity price-feed client: ``GET /v1/quotes/{code}?currency=`` (protocol in
``integrations/README.md``). Implements :class:`domain.risk.ports.CommodityPriceFeed`."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from domain.risk.ports import (
    MalformedAnswer,
    PriceQuote,
    PriceQuoteRequest,
    ProviderKind,
)
from integrations.answers import Fields, Malformed
from integrations.http import ProviderClient

__all__ = ["HttpPriceFeed"]

KIND = ProviderKind.PRICE_FEED


def read_quote(data: Any, request_id: str, request: PriceQuoteRequest) -> PriceQuote:
    """A :class:`PriceQuote` from the feed's JSON. Raises :class:`Malformed`, also when the
    quote is for another commodity or currency than asked."""
    answer = Fields(data, "quote")
    result = PriceQuote(
        quote_id=answer.text("quote_id"),
        request_id=request_id,
        commodity_code=answer.text("commodity"),
        price=answer.money("price"),
        unit=answer.text("unit"),
        as_of=answer.moment("as_of"),
        source=answer.text("source"),
    )
    if result.commodity_code != request.commodity_code:
        raise Malformed("quote is for another commodity")
    if result.price.currency != request.currency:
        raise Malformed("quote is in another currency")
    if result.price.amount_minor <= 0:
        raise Malformed("price is not positive")
    return result


class HttpPriceFeed(ProviderClient):
    """A :class:`~domain.risk.ports.CommodityPriceFeed` over a price feed's HTTP API."""

    kind = KIND

    async def quote(self, request: PriceQuoteRequest) -> PriceQuote:
        """The feed's latest price for the commodity, in the requested currency."""
        answer = await self._client.call(
            "GET",
            f"/v1/quotes/{quote(request.commodity_code, safe='')}",
            params={"currency": request.currency},
        )
        try:
            return read_quote(answer.data, answer.request_id, request)
        except Malformed as exc:
            raise MalformedAnswer(str(exc), kind=KIND, request_id=answer.request_id) from None
