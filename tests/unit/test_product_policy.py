"""Pure product rules: each rule violated once gives its own code; quotes agree with the
schedule engine; lifecycle and visibility."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.kernel.actor import Actor
from domain.kernel.errors import DomainError, ErrorCode, ValidationErrors
from domain.kernel.money import Money
from domain.kernel.scopes import Scope
from domain.loans.policy import RepaymentMethod
from domain.parties.models import OrganizationKind
from domain.products import policy
from domain.products.models import FeeKind, Product, ProductLine, ProductStatus, TermUnit
from domain.products.policy import (
    ConsumerEligibility,
    LatePenalty,
    OrderFinancingTerms,
    OriginationFee,
    PrepaymentPenalty,
    ProductTerms,
    WarehousePledgeTerms,
)
from tests.products_support import cny, consumer_terms, order_terms, warehouse_terms

CC = ProductLine.CONSUMER_CREDIT
OF = ProductLine.ORDER_FINANCING
WRP = ProductLine.WAREHOUSE_RECEIPT_PLEDGE
CORE = uuid.UUID(int=1)
WAREHOUSE = uuid.UUID(int=2)


def valid(line: ProductLine, **overrides: Any) -> ProductTerms:
    if line is OF:
        return order_terms([CORE], **overrides)
    if line is WRP:
        return warehouse_terms([WAREHOUSE], **overrides)
    return consumer_terms(**overrides)


def refusals(line: ProductLine, terms: ProductTerms) -> list[tuple[str | None, ErrorCode]]:
    try:
        policy.validate_terms(line, terms)
    except ValidationErrors as exc:
        return [(e.field, e.code) for e in exc.errors]
    return []


@pytest.mark.parametrize("line", list(ProductLine))
def test_valid_terms_of_every_line_pass(line: ProductLine) -> None:
    assert refusals(line, valid(line)) == []


def _late(**kw: Any) -> LatePenalty:
    return replace(consumer_terms().late_penalty, **kw)


def _prepay(**kw: Any) -> PrepaymentPenalty:
    return replace(consumer_terms().prepayment_penalty, **kw)


def _eligibility(**kw: Any) -> ConsumerEligibility:
    base = consumer_terms().consumer_eligibility
    assert base is not None
    return replace(base, **kw)


def _order(**kw: Any) -> OrderFinancingTerms:
    base = order_terms([CORE]).order_financing
    assert base is not None
    return replace(base, **kw)


def _pledge(**kw: Any) -> WarehousePledgeTerms:
    base = warehouse_terms([WAREHOUSE]).warehouse_pledge
    assert base is not None
    return replace(base, **kw)


E = ErrorCode
# (line, override of the valid terms, the one field refused, its code)
RULES: list[tuple[ProductLine, dict[str, Any], str, ErrorCode]] = [
    # amount range: min > 0, min <= max, one currency
    (CC, {"min_amount": cny("0.00")}, "terms.minAmount", E.AMOUNT_RANGE_INVALID),
    (CC, {"min_amount": cny("-1.00")}, "terms.minAmount", E.AMOUNT_RANGE_INVALID),
    (CC, {"max_amount": cny("999.99")}, "terms.maxAmount", E.AMOUNT_RANGE_INVALID),
    (CC, {"max_amount": Money.parse("5000", "USD")}, "terms.maxAmount", E.CURRENCY_MISMATCH),
    (CC, {"currency": "GBP"}, "terms.currency", E.INVALID_CURRENCY),
    # annual rate 0..36 %
    (CC, {"annual_rate": Decimal("0.3601")}, "terms.annualRate", E.ANNUAL_RATE_OUT_OF_RANGE),
    (CC, {"annual_rate": Decimal("-0.0001")}, "terms.annualRate", E.ANNUAL_RATE_OUT_OF_RANGE),
    (CC, {"annual_rate": Decimal("NaN")}, "terms.annualRate", E.INVALID_RATE),
    (CC, {"annual_rate": Decimal("0.123456789")}, "terms.annualRate", E.INVALID_RATE),
    # allowed terms: non-empty, 1..60 months, 1..366 days; days repay BULLET
    (CC, {"allowed_terms": ()}, "terms.allowedTerms", E.ALLOWED_TERMS_INVALID),
    (CC, {"allowed_terms": (12, 61)}, "terms.allowedTerms", E.ALLOWED_TERMS_INVALID),
    (CC, {"allowed_terms": (0, 12)}, "terms.allowedTerms", E.ALLOWED_TERMS_INVALID),
    (WRP, {"allowed_terms": (367,)}, "terms.allowedTerms", E.ALLOWED_TERMS_INVALID),
    (
        WRP,
        {"repayment_method": RepaymentMethod.INTEREST_ONLY},
        "terms.repaymentMethod",
        E.REPAYMENT_METHOD_NOT_ALLOWED,
    ),
    # origination fee: 0..10 % or a flat amount below the minimum amount
    (
        CC,
        {"origination_fee": OriginationFee(FeeKind.PERCENT, rate=Decimal("0.1001"))},
        "terms.originationFee.percent",
        E.ORIGINATION_FEE_OUT_OF_RANGE,
    ),
    (
        CC,
        {"origination_fee": OriginationFee(FeeKind.PERCENT, rate=Decimal("-0.01"))},
        "terms.originationFee.percent",
        E.ORIGINATION_FEE_OUT_OF_RANGE,
    ),
    (
        CC,
        {"origination_fee": OriginationFee(FeeKind.FLAT, flat=cny("1000.00"))},
        "terms.originationFee.flat",
        E.ORIGINATION_FEE_OUT_OF_RANGE,
    ),
    (
        CC,
        {"origination_fee": OriginationFee(FeeKind.FLAT, flat=cny("-1.00"))},
        "terms.originationFee.flat",
        E.ORIGINATION_FEE_OUT_OF_RANGE,
    ),
    (
        CC,
        {"origination_fee": OriginationFee(FeeKind.FLAT, flat=Money.parse("5", "USD"))},
        "terms.originationFee.flat",
        E.CURRENCY_MISMATCH,
    ),
    (
        CC,
        {"origination_fee": OriginationFee(FeeKind.FLAT, rate=Decimal("0.01"))},
        "terms.originationFee",
        E.INVALID,
    ),
    # late penalty: 0 <= daily x 365 <= 36 %, grace 0..30 days
    (
        CC,
        {"late_penalty": _late(daily_rate=Decimal("0.001"))},
        "terms.latePenalty.dailyRate",
        E.LATE_PENALTY_OUT_OF_RANGE,
    ),
    (
        CC,
        {"late_penalty": _late(daily_rate=Decimal("-0.0001"))},
        "terms.latePenalty.dailyRate",
        E.LATE_PENALTY_OUT_OF_RANGE,
    ),
    (
        CC,
        {"late_penalty": _late(grace_days=31)},
        "terms.latePenalty.graceDays",
        E.LATE_PENALTY_OUT_OF_RANGE,
    ),
    (
        CC,
        {"late_penalty": _late(grace_days=-1)},
        "terms.latePenalty.graceDays",
        E.LATE_PENALTY_OUT_OF_RANGE,
    ),
    # prepayment penalty: 0..5 % with a 0..100 % free allowance
    (
        CC,
        {"prepayment_penalty": _prepay(rate=Decimal("0.0501"))},
        "terms.prepaymentPenalty.rate",
        E.PREPAYMENT_PENALTY_OUT_OF_RANGE,
    ),
    (
        CC,
        {"prepayment_penalty": _prepay(free_allowance=Decimal("1.01"))},
        "terms.prepaymentPenalty.freeAllowance",
        E.PREPAYMENT_PENALTY_OUT_OF_RANGE,
    ),
    # ORDER_FINANCING
    (OF, {"order_financing": None}, "terms.orderFinancing", E.PRODUCT_LINE_TERMS_REQUIRED),
    (
        OF,
        {"order_financing": _order(max_advance_rate=Decimal("0"))},
        "terms.orderFinancing.maxAdvanceRate",
        E.ADVANCE_RATE_OUT_OF_RANGE,
    ),
    (
        OF,
        {"order_financing": _order(max_advance_rate=Decimal("1.0001"))},
        "terms.orderFinancing.maxAdvanceRate",
        E.ADVANCE_RATE_OUT_OF_RANGE,
    ),
    (
        OF,
        {"order_financing": _order(eligible_core_enterprise_ids=())},
        "terms.orderFinancing.eligibleCoreEnterpriseIds",
        E.COUNTERPARTIES_REQUIRED,
    ),
    (
        OF,
        {"warehouse_pledge": _pledge()},
        "terms.warehousePledge",
        E.PRODUCT_LINE_TERMS_NOT_ALLOWED,
    ),
    # WAREHOUSE_RECEIPT_PLEDGE
    (WRP, {"warehouse_pledge": None}, "terms.warehousePledge", E.PRODUCT_LINE_TERMS_REQUIRED),
    (
        WRP,
        {"warehouse_pledge": _pledge(max_ltv=Decimal("0"))},
        "terms.warehousePledge.maxLtv",
        E.LTV_OUT_OF_RANGE,
    ),
    (
        WRP,
        {"warehouse_pledge": _pledge(max_ltv=Decimal("1.5"))},
        "terms.warehousePledge.maxLtv",
        E.LTV_OUT_OF_RANGE,
    ),
    (
        WRP,
        {"warehouse_pledge": _pledge(haircut=Decimal("1"))},
        "terms.warehousePledge.haircut",
        E.HAIRCUT_OUT_OF_RANGE,
    ),
    (
        WRP,
        {"warehouse_pledge": _pledge(haircut=Decimal("-0.1"))},
        "terms.warehousePledge.haircut",
        E.HAIRCUT_OUT_OF_RANGE,
    ),
    (
        WRP,
        {"warehouse_pledge": _pledge(accepted_warehouse_ids=())},
        "terms.warehousePledge.acceptedWarehouseIds",
        E.COUNTERPARTIES_REQUIRED,
    ),
    (
        WRP,
        {"consumer_eligibility": _eligibility()},
        "terms.consumerEligibility",
        E.PRODUCT_LINE_TERMS_NOT_ALLOWED,
    ),
    # CONSUMER_CREDIT
    (
        CC,
        {"consumer_eligibility": None},
        "terms.consumerEligibility",
        E.PRODUCT_LINE_TERMS_REQUIRED,
    ),
    (
        CC,
        {"consumer_eligibility": _eligibility(min_age=17)},
        "terms.consumerEligibility.minAge",
        E.ELIGIBILITY_OUT_OF_RANGE,
    ),
    (
        CC,
        {"consumer_eligibility": _eligibility(min_age=60, max_age=50)},
        "terms.consumerEligibility.minAge",
        E.ELIGIBILITY_OUT_OF_RANGE,
    ),
    (
        CC,
        {"consumer_eligibility": _eligibility(max_age=101)},
        "terms.consumerEligibility.minAge",
        E.ELIGIBILITY_OUT_OF_RANGE,
    ),
    (
        CC,
        {"consumer_eligibility": _eligibility(min_credit_score=1001)},
        "terms.consumerEligibility.minCreditScore",
        E.ELIGIBILITY_OUT_OF_RANGE,
    ),
    (
        CC,
        {"order_financing": _order()},
        "terms.orderFinancing",
        E.PRODUCT_LINE_TERMS_NOT_ALLOWED,
    ),
]


@pytest.mark.parametrize(
    ("line", "override", "field", "code"),
    RULES,
    ids=[f"{r[0].value}-{r[2]}-{r[3].value}" for r in RULES],
)
def test_each_rule_violated_once_gives_its_code(
    line: ProductLine, override: dict[str, Any], field: str, code: ErrorCode
) -> None:
    assert refusals(line, valid(line, **override)) == [(field, code)]


def test_every_product_code_is_exercised() -> None:
    exercised = {rule[3] for rule in RULES}
    product_codes = {
        E.AMOUNT_RANGE_INVALID,
        E.ANNUAL_RATE_OUT_OF_RANGE,
        E.ALLOWED_TERMS_INVALID,
        E.REPAYMENT_METHOD_NOT_ALLOWED,
        E.ORIGINATION_FEE_OUT_OF_RANGE,
        E.LATE_PENALTY_OUT_OF_RANGE,
        E.PREPAYMENT_PENALTY_OUT_OF_RANGE,
        E.ADVANCE_RATE_OUT_OF_RANGE,
        E.LTV_OUT_OF_RANGE,
        E.HAIRCUT_OUT_OF_RANGE,
        E.ELIGIBILITY_OUT_OF_RANGE,
        E.PRODUCT_LINE_TERMS_REQUIRED,
        E.PRODUCT_LINE_TERMS_NOT_ALLOWED,
        E.COUNTERPARTIES_REQUIRED,
        E.CURRENCY_MISMATCH,
        E.INVALID_RATE,
    }
    assert product_codes <= exercised


def test_boundaries_are_inclusive_where_the_rule_says() -> None:
    ok = [
        (CC, {"annual_rate": Decimal("0.36")}),
        (CC, {"annual_rate": Decimal("0")}),
        (CC, {"allowed_terms": (1, 60)}),
        (CC, {"min_amount": cny("200000.00")}),  # min == max
        (CC, {"origination_fee": OriginationFee(FeeKind.PERCENT, rate=Decimal("0.10"))}),
        (CC, {"origination_fee": OriginationFee(FeeKind.FLAT, flat=cny("999.99"))}),
        (CC, {"late_penalty": _late(daily_rate=Decimal("0.00098630"), grace_days=30)}),
        (CC, {"prepayment_penalty": _prepay(rate=Decimal("0.05"), free_allowance=Decimal(1))}),
        (CC, {"consumer_eligibility": _eligibility(min_age=18, max_age=100)}),
        (CC, {"annual_rate": Decimal("0.120000000000")}),  # trailing zeros are not places
        (OF, {"order_financing": _order(max_advance_rate=Decimal(1))}),
        (WRP, {"warehouse_pledge": _pledge(max_ltv=Decimal(1), haircut=Decimal(0))}),
        (WRP, {"allowed_terms": (1, 366)}),
    ]
    for line, override in ok:
        assert refusals(line, valid(line, **override)) == [], override


def test_several_problems_are_reported_together() -> None:
    terms = valid(CC, annual_rate=Decimal("0.5"), allowed_terms=(), consumer_eligibility=None)
    assert sorted(code for _, code in refusals(CC, terms)) == sorted(
        [E.ANNUAL_RATE_OUT_OF_RANGE, E.ALLOWED_TERMS_INVALID, E.PRODUCT_LINE_TERMS_REQUIRED]
    )


def test_validation_normalises_terms_and_lists() -> None:
    terms = order_terms([CORE, CORE, WAREHOUSE], allowed_terms=(6, 3, 6))
    clean = policy.validate_terms(OF, terms)
    assert clean.allowed_terms == (3, 6)
    assert clean.order_financing is not None
    assert clean.order_financing.eligible_core_enterprise_ids == (CORE, WAREHOUSE)
    field, kind = "terms.orderFinancing.eligibleCoreEnterpriseIds", OrganizationKind.CORE_ENTERPRISE
    assert policy.counterparty_kinds(clean) == [(field, CORE, kind), (field, WAREHOUSE, kind)]


@given(rate=st.decimals(min_value=Decimal("0.3601"), max_value=Decimal(10), places=4))
def test_any_rate_above_the_ceiling_is_refused_alone(rate: Decimal) -> None:
    assert refusals(CC, valid(CC, annual_rate=rate)) == [
        ("terms.annualRate", E.ANNUAL_RATE_OUT_OF_RANGE)
    ]


@given(
    rate=st.decimals(min_value=Decimal(0), max_value=Decimal("0.36"), places=8),
    terms=st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=10),
)
def test_any_rate_and_terms_in_bounds_pass(rate: Decimal, terms: list[int]) -> None:
    assert refusals(CC, valid(CC, annual_rate=rate, allowed_terms=tuple(terms))) == []


# --- quotes --------------------------------------------------------------------------------------

START = date(2026, 1, 15)


def test_quote_of_the_worked_example() -> None:
    # 100,000.00 at 12 % over 12 months, equal instalments (tests/unit/test_schedule_examples):
    # payment 8,884.88, the last 8,884.85, total interest 6,618.53; no fee, so the APR is the
    # IRR of a 1 %-a-month annuity: 1.01**12 - 1 = 12.68 % effective, 12 % compounded monthly.
    q = policy.quote(valid(CC), cny("100000.00"), 12, START)
    totals = [line.total.to_decimal_string() for line in q.schedule.installments]
    assert totals == ["8884.88"] * 11 + ["8884.85"]
    assert q.cost.total_interest == cny("6618.53")
    assert q.cost.fees == cny("0.00")
    assert q.cost.total_cost_of_credit == cny("6618.53")
    assert q.cost.total_repayable == cny("106618.53")
    assert (q.cost.apr, q.apr_nominal) == (Decimal("0.1268"), Decimal("0.1200"))


def test_percentage_fee_is_rounded_half_up_and_raises_the_apr() -> None:
    terms = valid(CC, origination_fee=OriginationFee(FeeKind.PERCENT, rate=Decimal("0.015")))
    # 1.5 % of 1,234.57 = 18.51855 -> 18.52
    assert policy.origination_fee(terms, cny("1234.57")) == cny("18.52")
    q = policy.quote(terms, cny("100000.00"), 12, START)
    assert q.cost.fees == cny("1500.00")
    assert q.cost.net_disbursed == cny("98500.00")
    assert q.cost.total_cost_of_credit == cny("8118.53")  # 6,618.53 + 1,500.00
    assert q.cost.apr > Decimal("0.1268")


def test_flat_fee() -> None:
    terms = valid(CC, origination_fee=OriginationFee(FeeKind.FLAT, flat=cny("200.00")))
    assert policy.origination_fee(terms, cny("50000.00")) == cny("200.00")


def test_day_product_is_one_bullet_period() -> None:
    # 100,000.00 at 12 % for 90 days, ACT/365: 100,000 x 0.12 x 90 / 365 = 2,958.904... -> 2,958.90
    q = policy.quote(valid(WRP), cny("100000.00"), 90, START)
    (line,) = q.schedule.installments
    assert line.interest == cny("2958.90")
    assert line.due_date == date(2026, 4, 15)
    assert q.term_unit is TermUnit.DAY


@pytest.mark.parametrize(
    ("amount", "term", "expected"),
    [
        (cny("999.99"), 12, [("amount", E.AMOUNT_NOT_OFFERED)]),
        (cny("200000.01"), 12, [("amount", E.AMOUNT_NOT_OFFERED)]),
        (cny("5000.00"), 9, [("term", E.TERM_NOT_OFFERED)]),
        (Money.parse("5000", "USD"), 12, [("amount", E.CURRENCY_MISMATCH)]),
        (cny("1.00"), 7, [("amount", E.AMOUNT_NOT_OFFERED), ("term", E.TERM_NOT_OFFERED)]),
    ],
)
def test_quote_refuses_what_the_product_does_not_offer(
    amount: Money, term: int, expected: list[tuple[str, ErrorCode]]
) -> None:
    with pytest.raises(DomainError) as caught:
        policy.quote(valid(CC), amount, term, START)
    errors = caught.value.errors if isinstance(caught.value, ValidationErrors) else [caught.value]
    assert [(e.field, e.code) for e in errors] == expected


# --- lifecycle and visibility --------------------------------------------------------------------


def _product(
    status: ProductStatus, tenant: uuid.UUID = CORE, *, listed: bool | None = None
) -> Product:
    # ``listed`` is the database's flag: PUBLISHED by an ACTIVE funder (so by default, here,
    # exactly the published ones).
    return Product(
        tenant_id=tenant,
        id=uuid.uuid4(),
        product_line=CC,
        name="p",
        status=status,
        listed=status is ProductStatus.PUBLISHED if listed is None else listed,
    )


def test_lifecycle() -> None:
    draft, live, retired = (_product(s) for s in ProductStatus)
    policy.check_publish(draft)
    policy.check_retire(live)
    for check, product in (
        (policy.check_publish, live),
        (policy.check_publish, retired),
        (policy.check_retire, draft),
        (policy.check_retire, retired),
        (policy.check_editable, retired),
    ):
        with pytest.raises(DomainError) as caught:
            check(product)
        assert caught.value.code is E.INVALID_TRANSITION
    policy.check_editable(draft)
    policy.check_editable(live)
    assert not policy.edit_makes_new_version(draft)
    assert policy.edit_makes_new_version(live)


def _actor(tenant: uuid.UUID | None, *scopes: Scope) -> Actor:
    return Actor(
        user_id=None, client_id="c", tenant_id=tenant, scopes=frozenset(s.value for s in scopes)
    )


def test_visibility() -> None:
    mine, other = uuid.uuid4(), uuid.uuid4()
    draft, live = _product(ProductStatus.DRAFT, mine), _product(ProductStatus.PUBLISHED, mine)
    staff = _actor(mine, Scope.PRODUCTS_READ)
    assert policy.product_visible(staff, draft) and policy.product_visible(staff, live)
    rival = _actor(other, Scope.PRODUCTS_READ)
    assert not policy.product_visible(rival, draft)
    assert not policy.product_visible(rival, live)  # no marketplace:read
    partner = _actor(None, Scope.MARKETPLACE_READ)
    assert policy.product_visible(partner, live) and not policy.product_visible(partner, draft)
    own_market_only = _actor(mine, Scope.MARKETPLACE_READ)
    assert policy.product_visible(own_market_only, live)
    assert not policy.product_visible(own_market_only, draft)
    operator = _actor(None, Scope.PLATFORM_ADMIN)
    assert policy.product_visible(operator, draft)
    assert not policy.product_visible(_actor(None), live)
    # Published by a disabled funder (not listed): its own staff and the operator only.
    unlisted = _product(ProductStatus.PUBLISHED, mine, listed=False)
    assert not policy.product_visible(partner, unlisted)
    assert not policy.product_visible(own_market_only, unlisted)
    assert policy.product_visible(staff, unlisted) and policy.product_visible(operator, unlisted)
