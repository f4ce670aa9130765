"""The scorecard of a product's terms: each rule refused once with its code and field, the
line-specific rules refused on the other lines, and valid scorecards accepted as given."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from domain.kernel.errors import ErrorCode, ValidationErrors
from domain.kernel.money import Money
from domain.products import policy
from domain.products.models import ProductLine
from domain.products.policy import ProductTerms, ScorecardTerms
from tests.products_support import cny, consumer_terms, order_terms, warehouse_terms

CC = ProductLine.CONSUMER_CREDIT
OF = ProductLine.ORDER_FINANCING
WRP = ProductLine.WAREHOUSE_RECEIPT_PLEDGE
CORE = uuid.UUID(int=1)
WAREHOUSE = uuid.UUID(int=2)


def with_scorecard(line: ProductLine, **rules: Any) -> ProductTerms:
    """Valid terms of ``line`` (amounts 1,000.00 to 200,000.00 CNY) with a scorecard."""
    scorecard = ScorecardTerms(**rules)
    if line is OF:
        return order_terms([CORE], scorecard=scorecard)
    if line is WRP:
        return warehouse_terms([WAREHOUSE], scorecard=scorecard)
    return consumer_terms(scorecard=scorecard)


def refusals(line: ProductLine, terms: ProductTerms) -> list[tuple[str | None, ErrorCode]]:
    try:
        policy.validate_terms(line, terms)
    except ValidationErrors as exc:
        return [(e.field, e.code) for e in exc.errors]
    return []


def test_the_default_scorecard_has_no_rules_and_thirty_days() -> None:
    assert ScorecardTerms() == ScorecardTerms(
        min_bureau_score=None,
        max_current_delinquencies=None,
        max_debt_to_income=None,
        max_core_enterprise_exposure=None,
        auto_approve_below=None,
        approval_validity_days=30,
    )
    assert consumer_terms().scorecard == ScorecardTerms()


@pytest.mark.parametrize("line", list(ProductLine))
def test_terms_without_scorecard_rules_pass_on_every_line(line: ProductLine) -> None:
    assert refusals(line, with_scorecard(line)) == []


def test_a_full_consumer_scorecard_passes_and_is_kept() -> None:
    terms = with_scorecard(
        CC,
        min_bureau_score=650,
        max_current_delinquencies=0,
        max_debt_to_income=Decimal("0.4500"),
        auto_approve_below=cny("20000.00"),
        approval_validity_days=14,
    )
    assert policy.validate_terms(CC, terms).scorecard == ScorecardTerms(
        min_bureau_score=650,
        max_current_delinquencies=0,
        max_debt_to_income=Decimal("0.45"),
        auto_approve_below=Money(2_000_000, "CNY"),
        approval_validity_days=14,
    )


def test_a_full_order_financing_scorecard_passes() -> None:
    terms = with_scorecard(
        OF,
        min_bureau_score=500,
        max_current_delinquencies=2,
        max_core_enterprise_exposure=cny("5000000.00"),
        approval_validity_days=365,
    )
    assert refusals(OF, terms) == []


@pytest.mark.parametrize(
    "rules",
    [
        {"min_bureau_score": 0},
        {"min_bureau_score": 1000},
        {"max_current_delinquencies": 0},
        {"max_current_delinquencies": 25},
        {"approval_validity_days": 1},
        {"approval_validity_days": 365},
        {"max_debt_to_income": Decimal("0.0001")},
        {"max_debt_to_income": Decimal("5")},
        {"max_debt_to_income": Decimal("1.23450000")},  # trailing zeros are not places
        {"auto_approve_below": cny("0.01")},
        {"auto_approve_below": cny("200000.00")},  # the maximum amount itself
    ],
)
def test_consumer_bounds_are_inclusive(rules: dict[str, Any]) -> None:
    assert refusals(CC, with_scorecard(CC, **rules)) == []


@pytest.mark.parametrize(
    ("rules", "field", "code"),
    [
        ({"min_bureau_score": -1}, "minBureauScore", ErrorCode.ELIGIBILITY_OUT_OF_RANGE),
        ({"min_bureau_score": 1001}, "minBureauScore", ErrorCode.ELIGIBILITY_OUT_OF_RANGE),
        ({"min_bureau_score": True}, "minBureauScore", ErrorCode.ELIGIBILITY_OUT_OF_RANGE),
        (
            {"max_current_delinquencies": -1},
            "maxCurrentDelinquencies",
            ErrorCode.ELIGIBILITY_OUT_OF_RANGE,
        ),
        ({"approval_validity_days": 0}, "approvalValidityDays", ErrorCode.INVALID),
        ({"approval_validity_days": 366}, "approvalValidityDays", ErrorCode.INVALID),
        (
            {"max_debt_to_income": Decimal("0")},
            "maxDebtToIncome",
            ErrorCode.ELIGIBILITY_OUT_OF_RANGE,
        ),
        (
            {"max_debt_to_income": Decimal("-0.5")},
            "maxDebtToIncome",
            ErrorCode.ELIGIBILITY_OUT_OF_RANGE,
        ),
        (
            {"max_debt_to_income": Decimal("5.0001")},
            "maxDebtToIncome",
            ErrorCode.ELIGIBILITY_OUT_OF_RANGE,
        ),
        ({"max_debt_to_income": Decimal("0.45001")}, "maxDebtToIncome", ErrorCode.INVALID_RATE),
        ({"max_debt_to_income": Decimal("NaN")}, "maxDebtToIncome", ErrorCode.INVALID_RATE),
        (
            {"auto_approve_below": cny("0.00")},
            "autoApproveBelow",
            ErrorCode.ELIGIBILITY_OUT_OF_RANGE,
        ),
        (
            {"auto_approve_below": cny("-1.00")},
            "autoApproveBelow",
            ErrorCode.ELIGIBILITY_OUT_OF_RANGE,
        ),
        (
            {"auto_approve_below": cny("200000.01")},
            "autoApproveBelow",
            ErrorCode.ELIGIBILITY_OUT_OF_RANGE,
        ),
        (
            {"auto_approve_below": Money.parse("100.00", "USD")},
            "autoApproveBelow",
            ErrorCode.CURRENCY_MISMATCH,
        ),
    ],
)
def test_each_consumer_rule_out_of_bounds_is_refused(
    rules: dict[str, Any], field: str, code: ErrorCode
) -> None:
    assert refusals(CC, with_scorecard(CC, **rules)) == [(f"terms.scorecard.{field}", code)]


@pytest.mark.parametrize(
    ("exposure", "code"),
    [
        (cny("0.00"), ErrorCode.ELIGIBILITY_OUT_OF_RANGE),
        (cny("-0.01"), ErrorCode.ELIGIBILITY_OUT_OF_RANGE),
        (Money.parse("1000.00", "USD"), ErrorCode.CURRENCY_MISMATCH),
    ],
)
def test_an_exposure_limit_out_of_bounds_is_refused(exposure: Money, code: ErrorCode) -> None:
    terms = with_scorecard(OF, max_core_enterprise_exposure=exposure)
    assert refusals(OF, terms) == [("terms.scorecard.maxCoreEnterpriseExposure", code)]


def test_an_exposure_limit_of_one_fen_passes() -> None:
    assert refusals(OF, with_scorecard(OF, max_core_enterprise_exposure=cny("0.01"))) == []


@pytest.mark.parametrize(
    ("line", "rules", "field"),
    [
        (OF, {"max_debt_to_income": Decimal("0.5")}, "maxDebtToIncome"),
        (WRP, {"max_debt_to_income": Decimal("0.5")}, "maxDebtToIncome"),
        (OF, {"auto_approve_below": cny("5000.00")}, "autoApproveBelow"),
        (WRP, {"auto_approve_below": cny("5000.00")}, "autoApproveBelow"),
        (CC, {"max_core_enterprise_exposure": cny("5000.00")}, "maxCoreEnterpriseExposure"),
        (WRP, {"max_core_enterprise_exposure": cny("5000.00")}, "maxCoreEnterpriseExposure"),
    ],
)
def test_a_rule_of_another_line_is_refused(
    line: ProductLine, rules: dict[str, Any], field: str
) -> None:
    assert refusals(line, with_scorecard(line, **rules)) == [
        (f"terms.scorecard.{field}", ErrorCode.PRODUCT_LINE_TERMS_NOT_ALLOWED)
    ]


def test_a_rule_of_another_line_is_refused_whatever_its_value() -> None:
    # Only the line is reported: the value of a rule that cannot apply is not judged.
    terms = with_scorecard(OF, max_debt_to_income=Decimal("9.123456"))
    assert refusals(OF, terms) == [
        ("terms.scorecard.maxDebtToIncome", ErrorCode.PRODUCT_LINE_TERMS_NOT_ALLOWED)
    ]


@pytest.mark.parametrize("line", [OF, WRP])
def test_rules_of_every_line_are_accepted_on_every_line(line: ProductLine) -> None:
    terms = with_scorecard(
        line, min_bureau_score=700, max_current_delinquencies=1, approval_validity_days=7
    )
    assert refusals(line, terms) == []


def test_every_scorecard_refusal_is_reported_at_once() -> None:
    terms = with_scorecard(
        CC,
        min_bureau_score=2000,
        max_current_delinquencies=-3,
        max_debt_to_income=Decimal("0.12345"),
        max_core_enterprise_exposure=cny("1.00"),
        auto_approve_below=cny("300000.00"),
        approval_validity_days=0,
    )
    assert sorted(refusals(CC, terms), key=lambda r: str(r[0])) == [
        ("terms.scorecard.approvalValidityDays", ErrorCode.INVALID),
        ("terms.scorecard.autoApproveBelow", ErrorCode.ELIGIBILITY_OUT_OF_RANGE),
        ("terms.scorecard.maxCoreEnterpriseExposure", ErrorCode.PRODUCT_LINE_TERMS_NOT_ALLOWED),
        ("terms.scorecard.maxCurrentDelinquencies", ErrorCode.ELIGIBILITY_OUT_OF_RANGE),
        ("terms.scorecard.maxDebtToIncome", ErrorCode.INVALID_RATE),
        ("terms.scorecard.minBureauScore", ErrorCode.ELIGIBILITY_OUT_OF_RANGE),
    ]
