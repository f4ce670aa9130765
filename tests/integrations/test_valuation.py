"""The commodity price-feed client against the sandbox feed over loopback HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.kernel.money import Money
from domain.risk.ports import (
    MalformedAnswer,
    PriceQuoteRequest,
    ProviderKind,
    RequestRejected,
    RiskProviders,
)
from integrations.sandboxes import SandboxServer


async def test_a_quote(providers: RiskProviders, sandbox: SandboxServer) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    quote = await providers.price_feed.quote(PriceQuoteRequest("CU", "CNY"))
    assert quote.commodity_code == "CU"
    assert quote.price == Money.parse("71230.00", "CNY")
    assert quote.unit == "t"
    assert quote.source == "SANDBOX-SHFE"
    assert quote.quote_id.startswith("PQ-")
    assert before <= quote.as_of <= datetime.now(UTC)
    received = sandbox.log.find(quote.request_id)
    assert received is not None
    assert (received.method, received.path) == ("GET", "/prices/v1/quotes/CU")


async def test_a_stale_quote_says_how_old_it_is(providers: RiskProviders) -> None:
    quote = await providers.price_feed.quote(PriceQuoteRequest("A-STALE", "CNY"))
    assert quote.price == Money.parse("4380.00", "CNY")
    now = datetime.now(UTC)
    assert quote.age_days(now) == 10
    assert now - quote.as_of >= timedelta(days=10)


async def test_a_quote_without_a_price_is_malformed(providers: RiskProviders) -> None:
    with pytest.raises(MalformedAnswer) as caught:
        await providers.price_feed.quote(PriceQuoteRequest("CU-MALFORMED", "CNY"))
    assert "price" in str(caught.value)


@pytest.mark.parametrize(
    ("request_", "status", "code"),
    [
        (PriceQuoteRequest("XAU", "CNY"), 404, "UNKNOWN_COMMODITY"),
        (PriceQuoteRequest("CU", "USD"), 422, "UNSUPPORTED_CURRENCY"),
        # A code that needs escaping reaches the feed signed as sent (percent-encoded).
        (PriceQuoteRequest("CU AL", "CNY"), 404, "UNKNOWN_COMMODITY"),
    ],
    ids=["unknown-commodity", "other-currency", "escaped-code"],
)
async def test_refusals(
    providers: RiskProviders, request_: PriceQuoteRequest, status: int, code: str
) -> None:
    with pytest.raises(RequestRejected) as caught:
        await providers.price_feed.quote(request_)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert caught.value.kind is ProviderKind.PRICE_FEED
