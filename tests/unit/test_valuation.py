"""The pledge valuation rule (domain/risk/valuation.py), its stored form, the port's call
against a scripted feed, and the commodity price rules, with figures computed by hand."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from api.risk.valuation_types import CollateralValuation as CollateralValuationType
from domain.collateral.policy import clean_commodity_code, optional_commodity_code
from domain.integration_calls.models import IntegrationKind
from domain.integration_calls.ports import CallRequest, PermanentFailure
from domain.kernel.errors import DomainError, ErrorCode, ValidationErrors
from domain.kernel.money import Money
from domain.prices.policy import validate_price
from domain.risk.ports import (
    PriceQuote,
    PriceQuoteRequest,
    ProviderKind,
    ProviderTimeout,
    RequestRejected,
)
from domain.risk.valuation import (
    MAX_PRICE_AGE,
    PriceSource,
    ReceiptToValue,
    UnitPrice,
    Unvalued,
    ValuationPort,
    codes_to_quote,
    line_value,
    valuation_from_json,
    valuation_to_json,
    value_pledge,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
R1 = uuid.UUID(int=1)
R2 = uuid.UUID(int=2)
R3 = uuid.UUID(int=3)


def cny(text: str) -> Money:
    return Money.parse(text, "CNY")


def receipt(
    rid: uuid.UUID = R1, code: str | None = "CU", quantity: str = "120.5", unit: str = "t"
) -> ReceiptToValue:
    return ReceiptToValue(
        receipt_id=rid,
        number=f"WR-{rid.int}",
        commodity_code=code,
        quantity=Decimal(quantity),
        unit=unit,
    )


def funder(
    price: str, *, age: timedelta = timedelta(days=1), code: str = "CU", unit: str = "t"
) -> UnitPrice:
    return UnitPrice(
        commodity_code=code,
        price=cny(price),
        unit=unit,
        as_of=NOW - age,
        source=PriceSource.FUNDER,
        reference="price-1",
        market="desk",
    )


def feed(
    price: str, *, age: timedelta = timedelta(hours=1), code: str = "CU", unit: str = "t"
) -> UnitPrice:
    return UnitPrice(
        commodity_code=code,
        price=cny(price),
        unit=unit,
        as_of=NOW - age,
        source=PriceSource.FEED,
        reference="PQ-1",
        market="SANDBOX-SHFE",
    )


# -- the arithmetic ---------------------------------------------------------------------------


def test_quantity_times_price_is_exact_and_rounded_half_up_once() -> None:
    # 120.5 x 3,456.78 = 414,813.60 + 1,728.39 = 416,541.99 (exact).
    assert line_value(Decimal("120.5"), cny("3456.78")) == cny("416541.99")
    # 0.125 x 1.00 = 0.125: half-up gives 0.13 (half-even would give 0.12).
    assert line_value(Decimal("0.125"), cny("1.00")) == cny("0.13")
    # 0.333333 x 0.10 = 0.0333333 -> 0.03.
    assert line_value(Decimal("0.333333"), cny("0.10")) == cny("0.03")
    # 25.5 x 68,000.00 = 1,700,000.00 + 34,000.00 = 1,734,000.00.
    assert line_value(Decimal("25.5"), cny("68000.00")) == cny("1734000.00")
    # 0.005 x 1.00 = 0.005: half a fen rounds up to 0.01.
    assert line_value(Decimal("0.005"), cny("1.00")) == cny("0.01")
    # The largest quantity at a small price: 99,999,999,999,999.999999 x 0.01
    # = 999,999,999,999.99999999 -> 1,000,000,000,000.00.
    assert line_value(Decimal("99999999999999.999999"), cny("0.01")) == cny("1000000000000.00")


def test_each_receipt_is_rounded_before_the_total() -> None:
    # Two receipts of 0.125 at 1.00: 0.13 + 0.13 = 0.26 (rounding the sum 0.25 would not).
    found = value_pledge(
        [receipt(R1, quantity="0.125"), receipt(R2, quantity="0.125")],
        currency="CNY",
        funder_prices=[funder("1.00")],
        feed_quotes={},
        now=NOW,
    )
    assert [line.value for line in found.lines] == [cny("0.13"), cny("0.13")]
    assert found.total == cny("0.26")
    assert found.complete is True


# -- whose price --------------------------------------------------------------------------------


def test_a_fresh_funder_price_wins_over_the_feed() -> None:
    found = value_pledge(
        [receipt()],
        currency="CNY",
        funder_prices=[funder("3456.78", age=timedelta(days=1))],
        feed_quotes={"CU": feed("71230.00")},
        now=NOW,
    )
    (line,) = found.lines
    assert line.price is not None and line.price.source is PriceSource.FUNDER
    assert line.price.price == cny("3456.78")
    assert line.value == cny("416541.99")
    assert found.total == cny("416541.99") and found.complete is True


def test_the_latest_funder_price_of_a_pair_is_used() -> None:
    found = value_pledge(
        [receipt()],
        currency="CNY",
        funder_prices=[
            funder("3000.00", age=timedelta(days=3)),
            funder("3456.78", age=timedelta(days=1)),
        ],
        feed_quotes={},
        now=NOW,
    )
    assert found.total == cny("416541.99")


def test_a_funder_price_seven_days_old_is_still_fresh() -> None:
    assert timedelta(days=7) == MAX_PRICE_AGE
    found = value_pledge(
        [receipt()],
        currency="CNY",
        funder_prices=[funder("3456.78", age=timedelta(days=7))],
        feed_quotes={},
        now=NOW,
    )
    assert found.total == cny("416541.99")


def test_a_stale_funder_price_falls_back_to_the_feed() -> None:
    stale = funder("3456.78", age=timedelta(days=7, seconds=1))
    assert codes_to_quote([receipt()], {("CU", "t"): stale}, "CNY", NOW) == ["CU"]
    found = value_pledge(
        [receipt()],
        currency="CNY",
        funder_prices=[stale],
        feed_quotes={"CU": feed("71230.00")},
        now=NOW,
    )
    (line,) = found.lines
    assert line.price is not None and line.price.source is PriceSource.FEED
    # 120.5 x 71,230.00 = 8,547,600.00 + 35,615.00 = 8,583,215.00.
    assert line.value == cny("8583215.00")
    assert found.total == cny("8583215.00")


def test_a_funder_price_per_another_unit_or_currency_is_not_used() -> None:
    in_usd = UnitPrice(
        commodity_code="CU",
        price=Money.parse("480.00", "USD"),
        unit="t",
        as_of=NOW,
        source=PriceSource.FUNDER,
        reference="usd",
        market="desk",
    )
    prices = [funder("3.46", unit="kg"), in_usd]
    latest = {(p.commodity_code, p.unit): p for p in prices}
    assert codes_to_quote([receipt()], latest, "CNY", NOW) == ["CU"]
    found = value_pledge(
        [receipt()],
        currency="CNY",
        funder_prices=prices,
        feed_quotes={"CU": feed("71230.00")},
        now=NOW,
    )
    assert found.total == cny("8583215.00")


def test_a_feed_price_per_another_unit_leaves_the_receipt_unvalued() -> None:
    found = value_pledge(
        [receipt(R1, unit="kg", quantity="500"), receipt(R2)],
        currency="CNY",
        funder_prices=[],
        feed_quotes={"CU": feed("71230.00")},
        now=NOW,
    )
    first, second = found.lines
    assert (first.value, first.reason, first.price) == (None, Unvalued.UNIT_MISMATCH, None)
    assert second.value == cny("8583215.00")
    assert found.complete is False
    assert found.total == cny("8583215.00")  # the valued receipts only


def test_unvalued_receipts_say_why() -> None:
    found = value_pledge(
        [
            receipt(R1, code=None),
            receipt(R2, code="XAU"),
            receipt(R3, code="A-STALE"),
        ],
        currency="CNY",
        funder_prices=[],
        feed_quotes={
            "XAU": Unvalued.UNKNOWN_COMMODITY,
            "A-STALE": feed("4380.00", code="A-STALE", age=timedelta(days=10)),
        },
        now=NOW,
    )
    assert [line.reason for line in found.lines] == [
        Unvalued.NO_COMMODITY_CODE,
        Unvalued.UNKNOWN_COMMODITY,
        Unvalued.STALE_PRICE,
    ]
    assert found.total == cny("0.00") and found.complete is False


def test_only_codes_without_a_fresh_funder_price_are_quoted_once_each() -> None:
    receipts = [
        receipt(R1, code="CU"),
        receipt(R2, code="AL"),
        receipt(R3, code="AL"),
        receipt(uuid.UUID(int=4), code=None),
    ]
    latest = {("CU", "t"): funder("70000.00")}
    assert codes_to_quote(receipts, latest, "CNY", NOW) == ["AL"]


# -- stored form ------------------------------------------------------------------------------


def _mixed() -> Any:
    return value_pledge(
        [receipt(R1), receipt(R2, code="XAU", quantity="3", unit="t")],
        currency="CNY",
        funder_prices=[funder("3456.78")],
        feed_quotes={"XAU": Unvalued.UNKNOWN_COMMODITY},
        now=NOW,
    )


def test_the_stored_form_is_versioned_and_exact() -> None:
    stored = valuation_to_json(_mixed())
    assert stored == {
        "v": 1,
        "total": {"minor": 41654199, "currency": "CNY"},
        "complete": False,
        "valued_at": "2026-12-04T12:00:00+00:00",
        "lines": [
            {
                "receipt_id": str(R1),
                "number": "WR-1",
                "commodity_code": "CU",
                "quantity": "120.5",
                "unit": "t",
                "unit_price": {"minor": 345678, "currency": "CNY"},
                "source": "FUNDER",
                "as_of": "2026-12-03T12:00:00+00:00",
                "reference": "price-1",
                "market": "desk",
                "value": {"minor": 41654199, "currency": "CNY"},
                "reason": None,
            },
            {
                "receipt_id": str(R2),
                "number": "WR-2",
                "commodity_code": "XAU",
                "quantity": "3",
                "unit": "t",
                "unit_price": None,
                "source": None,
                "as_of": None,
                "reference": None,
                "market": None,
                "value": None,
                "reason": "UNKNOWN_COMMODITY",
            },
        ],
    }
    assert valuation_from_json(stored) == _mixed()


def test_an_unknown_version_is_refused() -> None:
    stored = valuation_to_json(_mixed())
    with pytest.raises(ValueError, match="version"):
        valuation_from_json({**stored, "v": 2})


def test_the_graphql_type_reads_the_stored_form() -> None:
    shown = CollateralValuationType.of(valuation_to_json(_mixed()))
    assert (shown.total.amount, shown.total.currency, shown.complete) == (
        "416541.99",
        "CNY",
        False,
    )
    first, second = shown.lines
    assert first.receipt_id.type_name == "WarehouseReceipt"
    assert first.receipt_id.node_id == str(R1)
    assert (first.quantity, first.unit, first.source, first.market) == (
        "120.5",
        "t",
        PriceSource.FUNDER,
        "desk",
    )
    assert first.unit_price is not None and first.unit_price.amount == "3456.78"
    assert first.value is not None and first.value.amount == "416541.99"
    assert (second.value, second.unit_price, second.unvalued_reason) == (
        None,
        None,
        Unvalued.UNKNOWN_COMMODITY,
    )


# -- the port's call against a scripted feed --------------------------------------------------


class ScriptedFeed:
    """Answers per commodity code: a price string (per t, now) or an exception."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.asked: list[PriceQuoteRequest] = []

    async def quote(self, request: PriceQuoteRequest) -> PriceQuote:
        self.asked.append(request)
        answer = self.answers[request.commodity_code]
        if isinstance(answer, Exception):
            raise answer
        return PriceQuote(
            quote_id=f"PQ-{request.commodity_code}",
            request_id="req",
            commodity_code=request.commodity_code,
            price=Money.parse(answer, request.currency),
            unit="t",
            as_of=NOW - timedelta(hours=2),
            source="FEED-MKT",
        )


REQUEST = CallRequest(
    tenant_id=uuid.UUID(int=10),
    deal_id=uuid.UUID(int=11),
    call_id=uuid.UUID(int=12),
    kind=IntegrationKind.VALUATION,
    idempotency_reference=uuid.UUID(int=13),
    attempt=1,
)


def _rejected(code: str, status: int = 404) -> RequestRejected:
    return RequestRejected("no", kind=ProviderKind.PRICE_FEED, status=status, code=code)


async def test_the_port_asks_the_feed_only_for_what_the_funder_has_not_priced() -> None:
    feed_ = ScriptedFeed({"AL": "19420.00", "XAU": _rejected("UNKNOWN_COMMODITY")})
    port = ValuationPort(feed_, client_timeout=5.0, clock=lambda: NOW)
    assert port.timeout_seconds == 15.0
    inputs = {
        "currency": "CNY",
        "receipts": [
            receipt(R1, code="CU"),
            receipt(R2, code="AL", quantity="10"),
            receipt(R3, code="XAU", quantity="1"),
        ],
        "funder_prices": [funder("3456.78")],
    }
    stored = await port.call(REQUEST, inputs)
    assert sorted(r.commodity_code for r in feed_.asked) == ["AL", "XAU"]
    assert all(r.currency == "CNY" for r in feed_.asked)
    # 416,541.99 + 10 x 19,420.00 = 416,541.99 + 194,200.00 = 610,741.99.
    assert stored["total"] == {"minor": 61074199, "currency": "CNY"}
    assert stored["complete"] is False
    assert [line["source"] for line in stored["lines"]] == ["FUNDER", "FEED", None]
    assert stored["lines"][1]["reference"] == "PQ-AL"
    assert stored["lines"][1]["market"] == "FEED-MKT"
    assert stored["lines"][2]["reason"] == "UNKNOWN_COMMODITY"


async def test_a_timeout_propagates_so_the_call_is_retried() -> None:
    timeout = ProviderTimeout("slow", kind=ProviderKind.PRICE_FEED)
    feed_ = ScriptedFeed({"AL": "19420.00", "CU": timeout})
    port = ValuationPort(feed_, client_timeout=5.0, clock=lambda: NOW)
    inputs = {
        "currency": "CNY",
        "receipts": [receipt(R1, code="CU"), receipt(R2, code="AL")],
        "funder_prices": [],
    }
    with pytest.raises(ProviderTimeout):
        await port.call(REQUEST, inputs)
    assert len(feed_.asked) == 2


async def test_another_refusal_fails_the_call_for_good() -> None:
    feed_ = ScriptedFeed({"CU": _rejected("UNAUTHENTICATED", 401)})
    port = ValuationPort(feed_, client_timeout=5.0, clock=lambda: NOW)
    inputs = {"currency": "CNY", "receipts": [receipt()], "funder_prices": []}
    with pytest.raises(PermanentFailure, match="PRICE_FEED refused the request: UNAUTHENTICATED"):
        await port.call(REQUEST, inputs)


async def test_an_unsupported_currency_leaves_receipts_unvalued() -> None:
    feed_ = ScriptedFeed({"CU": _rejected("UNSUPPORTED_CURRENCY", 422)})
    port = ValuationPort(feed_, client_timeout=5.0, clock=lambda: NOW)
    inputs = {"currency": "USD", "receipts": [receipt()], "funder_prices": []}
    stored = await port.call(REQUEST, inputs)
    assert stored["total"] == {"minor": 0, "currency": "USD"}
    assert stored["lines"][0]["reason"] == "UNSUPPORTED_CURRENCY"


# -- commodity codes and recorded prices ------------------------------------------------------


def test_commodity_codes_are_upper_cased_and_checked() -> None:
    assert clean_commodity_code("  cu ") == "CU"
    assert clean_commodity_code("sc.2603_a-1") == "SC.2603_A-1"
    assert optional_commodity_code(None) is None
    assert optional_commodity_code("   ") is None
    for bad, code in (
        ("C U", ErrorCode.INVALID),
        ("铜", ErrorCode.INVALID),
        ("X" * 33, ErrorCode.TOO_LONG),
        ("", ErrorCode.REQUIRED),
    ):
        with pytest.raises(DomainError) as caught:
            clean_commodity_code(bad)
        assert (caught.value.code, caught.value.field) == (code, "commodityCode")


def test_a_price_is_validated_with_every_problem_at_once() -> None:
    good = validate_price(
        commodity_code="cu",
        price=cny("71230.00"),
        unit=" t ",
        as_of=NOW,
        source=" SHFE settlement ",
        now=NOW,
    )
    assert (good.commodity_code, good.unit, good.source) == ("CU", "t", "SHFE settlement")
    with pytest.raises(ValidationErrors) as caught:
        validate_price(
            commodity_code="c u",
            price=cny("0.00"),
            unit="",
            as_of=NOW + timedelta(seconds=1),
            source="",
            now=NOW,
        )
    assert [(e.field, e.code) for e in caught.value.errors] == [
        ("commodityCode", ErrorCode.INVALID),
        ("price", ErrorCode.INVALID_AMOUNT),
        ("unit", ErrorCode.REQUIRED),
        ("source", ErrorCode.REQUIRED),
        ("asOf", ErrorCode.INVALID_DATE_RANGE),
    ]
    with pytest.raises(DomainError) as naive:
        validate_price(
            commodity_code="CU",
            price=cny("1.00"),
            unit="t",
            as_of=datetime(2026, 12, 1, 8, 0),
            source="desk",
            now=NOW,
        )
    assert (naive.value.field, naive.value.code) == ("asOf", ErrorCode.INVALID)
