"""The schedule engine and the APR give, case for case, the answers recorded from the engine
before it was optimised (tests/unit/schedule_reference.py explains the fixture)."""

from __future__ import annotations

import decimal
import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from domain.kernel.money import Money
from domain.loans.policy import PeriodUnit
from domain.products import policy
from domain.products.models import FeeKind, TermUnit
from domain.products.policy import OriginationFee
from tests.products_support import base_terms
from tests.unit.schedule_reference import FIXTURE, outcome, schedule_outcome, terms_of

RECORDS: list[dict[str, Any]] = [
    json.loads(line) for line in FIXTURE.read_text().splitlines() if line
]
CHUNK = 100
CHUNKS = range(0, len(RECORDS), CHUNK)


def test_fixture_covers_the_grid() -> None:
    # Guard against an emptied or truncated fixture passing vacuously: the product grid
    # (702 cases) plus 1,500 random ones, with the refusals among them.
    assert len(RECORDS) == 2202
    assert sum("error" in r["outcome"] for r in RECORDS) >= 5
    quotes = [q for r in RECORDS for q in r["outcome"].get("quotes", [])]
    assert sum(isinstance(q, str) for q in quotes) >= 10  # "beyond any quotable range"
    assert len({r["case"]["terms"]["periods"] for r in RECORDS}) >= 60


@pytest.mark.parametrize("first", CHUNKS, ids=lambda first: f"cases-{first}")
def test_schedules_and_aprs_equal_the_reference(first: int) -> None:
    mismatches = []
    for index, record in enumerate(RECORDS[first : first + CHUNK], start=first):
        got = outcome(record["case"])
        if got != record["outcome"]:
            mismatches.append((index, record["case"], record["outcome"], got))
    assert mismatches == []


def _product_terms(case: dict[str, Any], fee: list[Any]) -> policy.ProductTerms:
    t = case["terms"]
    currency = t["principal"][1]
    amount = Money(t["principal"][0], currency)
    kind = FeeKind[fee[0]]
    origination = OriginationFee(kind=kind)
    if kind is FeeKind.FLAT:
        origination = OriginationFee(kind=kind, flat=Money(fee[1], currency))
    elif kind is FeeKind.PERCENT:
        origination = OriginationFee(kind=kind, rate=Decimal(fee[1]))
    day = t["unit"] == PeriodUnit.DAY.name
    return replace(
        base_terms(),
        currency=currency,
        min_amount=amount,
        max_amount=amount,
        term_unit=TermUnit.DAY if day else TermUnit.MONTH,
        allowed_terms=(t["period_days"] if day else t["periods"],),
        annual_rate=Decimal(t["rate"]),
        repayment_method=terms_of(case).method,
        day_count=terms_of(case).day_count,
        origination_fee=origination,
    )


def test_product_quotes_equal_the_reference() -> None:
    # The quote API prices through domain.products.policy.quote (one IRR for both APRs); it
    # must agree with quote_cost as recorded, fee kind by fee kind.
    priced = 0
    mismatches = []
    for index, record in enumerate(RECORDS):
        case = record["case"]
        if "product_fees" not in case:
            continue
        terms = terms_of(case)
        for fee, expected in zip(case["product_fees"], record["outcome"]["quotes"], strict=True):
            product = _product_terms(case, fee)
            term = product.allowed_terms[0]
            quoted = policy.quote(product, terms.principal, term, terms.start_date)
            currency = terms.principal.currency
            cost = quoted.cost
            got = [
                str(cost.apr),
                str(quoted.apr_nominal),
                *(
                    m.amount_minor if m.currency == currency else str(m)
                    for m in (
                        cost.principal,
                        cost.fees,
                        cost.net_disbursed,
                        cost.total_interest,
                        cost.total_cost_of_credit,
                        cost.total_repayable,
                    )
                ),
            ]
            if (
                got != expected
                or schedule_outcome(quoted.schedule) != (record["outcome"]["schedule"])
            ):
                mismatches.append((index, fee, expected, got))
            priced += 1
    assert priced == 702 * 3
    assert mismatches == []


def test_figures_do_not_depend_on_the_callers_decimal_context() -> None:
    # The engine sets the precision of every Decimal operation it makes: a caller running in a
    # three-digit context that floors everything (or one that traps inexact results) gets the
    # recorded figures all the same.
    sample = RECORDS[::23]
    for context in (
        decimal.Context(prec=3, rounding=decimal.ROUND_FLOOR),
        decimal.Context(traps=[decimal.Inexact, decimal.Rounded]),
    ):
        with decimal.localcontext(context):
            got = [outcome(record["case"]) for record in sample]
        assert got == [record["outcome"] for record in sample]
