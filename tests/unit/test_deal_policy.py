"""The pure rules of deals: the lifecycle table, the channel and applicant of an application,
and each submission rule with its own code (worked figures a reviewer can check by hand)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.deals import policy
from domain.deals.models import DealChannel, DealStatus
from domain.deals.policy import (
    Applicant,
    OrderFacts,
    ReceiptFacts,
    Submission,
    advance_limit,
    age_on,
    birth_date_of,
    can_transition,
    check_submission,
    pledge_limit,
)
from domain.kernel.actor import Actor
from domain.kernel.errors import DomainError, ErrorCode, ValidationErrors
from domain.kernel.money import Money
from domain.products.models import ProductLine, ProductStatus
from tests.products_support import cny, consumer_terms, order_terms, warehouse_terms

S = DealStatus
CORE, OTHER_CORE = uuid.uuid4(), uuid.uuid4()
DEPOT, OTHER_DEPOT = uuid.uuid4(), uuid.uuid4()
TRADER, CARGO, STRANGER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
TODAY = date(2026, 12, 3)


# -- the lifecycle --------------------------------------------------------------------------------


def test_every_status_has_a_row() -> None:
    assert set(policy.TRANSITIONS) == set(DealStatus)
    for targets in policy.TRANSITIONS.values():
        assert targets <= set(DealStatus)


def test_the_main_path_of_design_section_2() -> None:
    path = [
        S.DRAFT,
        S.SUBMITTED,
        S.FIRST_REVIEW,
        S.SECOND_REVIEW,
        S.APPROVED,
        S.SIGNING,
        S.SIGNED,
        S.DISBURSING,
        S.ACTIVE,
        S.SETTLED,
    ]
    for source, target in itertools.pairwise(path):
        assert can_transition(source, target), (source, target)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (S.SUBMITTED, S.RETURNED),
        (S.RETURNED, S.SUBMITTED),
        (S.FIRST_REVIEW, S.RETURNED),
        (S.FIRST_REVIEW, S.REJECTED),
        (S.SECOND_REVIEW, S.REJECTED),
        (S.APPROVED, S.EXPIRED),
        (S.SIGNING, S.EXPIRED),
        (S.ACTIVE, S.OVERDUE),
        (S.OVERDUE, S.ACTIVE),
        (S.OVERDUE, S.SETTLED),
        (S.OVERDUE, S.COLLECTIONS),
        (S.COLLECTIONS, S.SETTLED),
        (S.COLLECTIONS, S.SOLD),
        (S.COLLECTIONS, S.WRITTEN_OFF),
    ],
)
def test_side_paths(source: DealStatus, target: DealStatus) -> None:
    assert can_transition(source, target)


def test_withdrawn_from_every_state_before_signed_and_none_after() -> None:
    before = {
        S.DRAFT,
        S.SUBMITTED,
        S.RETURNED,
        S.FIRST_REVIEW,
        S.SECOND_REVIEW,
        S.APPROVED,
        S.SIGNING,
    }
    assert {s for s in DealStatus if can_transition(s, S.WITHDRAWN)} == before


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (S.DRAFT, S.APPROVED),
        (S.DRAFT, S.FIRST_REVIEW),
        (S.SUBMITTED, S.APPROVED),
        (S.FIRST_REVIEW, S.APPROVED),
        (S.APPROVED, S.DISBURSING),
        (S.SIGNED, S.WITHDRAWN),
        (S.ACTIVE, S.WITHDRAWN),
        (S.RETURNED, S.FIRST_REVIEW),
        (S.DRAFT, S.DRAFT),
    ],
)
def test_forbidden_transitions(source: DealStatus, target: DealStatus) -> None:
    assert not can_transition(source, target)
    with pytest.raises(DomainError) as caught:
        policy.check_transition(source, target)
    assert caught.value.code is ErrorCode.INVALID_TRANSITION


def test_final_states_go_nowhere() -> None:
    assert {S.REJECTED, S.WITHDRAWN, S.EXPIRED, S.SETTLED, S.SOLD, S.WRITTEN_OFF} == policy.FINAL
    for status in policy.FINAL:
        assert not policy.holds_collateral(status)


def test_only_drafts_and_returned_deals_are_edited() -> None:
    for status in DealStatus:
        if status in (S.DRAFT, S.RETURNED):
            policy.check_editable(status)
        else:
            with pytest.raises(DomainError) as caught:
                policy.check_editable(status)
            assert caught.value.code is ErrorCode.DEAL_NOT_EDITABLE


def test_collateral_is_held_from_submission_until_the_end() -> None:
    assert not policy.holds_collateral(S.DRAFT)
    assert policy.holds_collateral(S.SUBMITTED)
    assert policy.holds_collateral(S.RETURNED)
    assert policy.holds_collateral(S.COLLECTIONS)


# -- channel and applicant ------------------------------------------------------------------------


def _actor(**kw: object) -> Actor:
    base: dict[str, object] = {"user_id": None, "client_id": "c", "tenant_id": None}
    base.update(kw)
    return Actor(**base)  # type: ignore[arg-type]


def test_channels() -> None:
    partner = _actor(organization_id=uuid.uuid4())
    assert policy.channel_of(partner, organization_is_partner=True) is DealChannel.PARTNER_APP
    funder = _actor(tenant_id=uuid.uuid4())
    assert policy.channel_of(funder, organization_is_partner=False) is DealChannel.FUNDER_APP
    person = _actor(user_id=uuid.uuid4(), person_id=uuid.uuid4())
    assert policy.channel_of(person, organization_is_partner=False) is DealChannel.DIRECT
    company = _actor(user_id=uuid.uuid4(), organization_id=uuid.uuid4())
    assert policy.channel_of(company, organization_is_partner=False) is DealChannel.DIRECT
    for nobody in (
        _actor(user_id=uuid.uuid4()),  # the operator, or a user of nothing
        _actor(organization_id=uuid.uuid4()),  # a client of an organization that is no partner
    ):
        with pytest.raises(DomainError) as caught:
            policy.channel_of(nobody, organization_is_partner=False)
        assert caught.value.code is ErrorCode.FORBIDDEN


def test_applicants_apply_for_themselves_and_apps_name_them() -> None:
    me = uuid.uuid4()
    person = _actor(user_id=uuid.uuid4(), person_id=me)
    assert policy.applicant_of(
        person,
        DealChannel.DIRECT,
        ProductLine.CONSUMER_CREDIT,
        person_id=None,
        organization_id=None,
    ) == Applicant(person_id=me)
    with pytest.raises(DomainError) as caught:
        policy.applicant_of(
            person,
            DealChannel.DIRECT,
            ProductLine.CONSUMER_CREDIT,
            person_id=uuid.uuid4(),
            organization_id=None,
        )
    assert caught.value.code is ErrorCode.FORBIDDEN
    app = _actor(organization_id=uuid.uuid4())
    with pytest.raises(DomainError) as caught:
        policy.applicant_of(
            app,
            DealChannel.PARTNER_APP,
            ProductLine.ORDER_FINANCING,
            person_id=None,
            organization_id=None,
        )
    assert caught.value.code is ErrorCode.REQUIRED
    with pytest.raises(DomainError) as caught:
        policy.applicant_of(
            app,
            DealChannel.PARTNER_APP,
            ProductLine.ORDER_FINANCING,
            person_id=uuid.uuid4(),
            organization_id=None,
        )
    assert caught.value.code is ErrorCode.INVALID


def test_collateral_of_another_line_is_refused() -> None:
    with pytest.raises(ValidationErrors) as caught:
        policy.check_collateral_for_line(ProductLine.CONSUMER_CREDIT, uuid.uuid4(), [uuid.uuid4()])
    assert [e.code for e in caught.value.errors] == [ErrorCode.COLLATERAL_NOT_ALLOWED] * 2
    r = uuid.uuid4()
    assert policy.check_collateral_for_line(ProductLine.WAREHOUSE_RECEIPT_PLEDGE, None, [r, r]) == (
        r,
    )


# -- limits: worked examples ----------------------------------------------------------------------


def test_advance_limit_is_rounded_down() -> None:
    # 1,250,000.00 x 0.80 = 1,000,000.00 exactly.
    assert advance_limit(cny("1250000.00"), Decimal("0.80")) == cny("1000000.00")
    # 1,234.57 x 0.8 = 987.656 -> 987.65 (down, not half-up to 987.66).
    assert advance_limit(cny("1234.57"), Decimal("0.8")) == cny("987.65")
    # JPY has no minor digits: 999 x 0.75 = 749.25 -> 749.
    assert advance_limit(Money.parse("999", "JPY"), Decimal("0.75")) == Money.parse("749", "JPY")


def test_pledge_limit_applies_haircut_then_ltv_once() -> None:
    # 25.5 t of copper at 68,000.00 = 1,734,000.00; x (1 - 0.10) x 0.70 = 1,092,420.00.
    assert pledge_limit([cny("1734000.00")], Decimal("0.10"), Decimal("0.70")) == cny("1092420.00")
    # Two receipts of 100.01 each: 200.02 x 0.9 x 0.7 = 126.0126 -> 126.01 (rounded once at
    # the end; per receipt it would be 63.00 + 63.00 = 126.00).
    two = [cny("100.01"), cny("100.01")]
    assert pledge_limit(two, Decimal("0.10"), Decimal("0.70")) == cny("126.01")


@given(
    amount=st.integers(min_value=1, max_value=10**15),
    rate=st.decimals(min_value=Decimal("0.0001"), max_value=1, places=4),
)
def test_advance_limit_never_exceeds_the_exact_product(amount: int, rate: Decimal) -> None:
    limit = advance_limit(Money(amount, "CNY"), rate)
    exact = Decimal(amount) * rate  # in fen
    assert Decimal(limit.amount_minor) <= exact < Decimal(limit.amount_minor) + 1


def test_age_from_the_resident_id() -> None:
    assert birth_date_of("11010519491231002X") == date(1949, 12, 31)
    assert age_on(date(1990, 3, 7), date(2026, 3, 6)) == 35
    assert age_on(date(1990, 3, 7), date(2026, 3, 7)) == 36
    # Born on 29 February: a year older on 1 March of a common year.
    assert age_on(date(2000, 2, 29), date(2026, 2, 28)) == 25
    assert age_on(date(2000, 2, 29), date(2026, 3, 1)) == 26


# -- submission: one rule broken at a time, one code ----------------------------------------------


def _order(**kw: object) -> OrderFacts:
    base: dict[str, object] = {
        "id": uuid.uuid4(),
        "seller_organization_id": TRADER,
        "buyer_organization_id": CORE,
        "amount": cny("1250000.00"),
        "due_date": date(2027, 3, 1),
        "confirmed": True,
        "status": "CONFIRMED",
    }
    base.update(kw)
    return OrderFacts(**base)  # type: ignore[arg-type]


def _receipt(**kw: object) -> ReceiptFacts:
    base: dict[str, object] = {
        "id": uuid.uuid4(),
        "owner_organization_id": CARGO,
        "warehouse_organization_id": DEPOT,
        "valuation": cny("1734000.00"),
        "issued": True,
        "status": "ISSUED",
    }
    base.update(kw)
    return ReceiptFacts(**base)  # type: ignore[arg-type]


WIDE = {"max_amount": cny("2000000.00")}

VALID = {
    ProductLine.ORDER_FINANCING: Submission(
        line=ProductLine.ORDER_FINANCING,
        terms=order_terms([CORE], **WIDE),
        product_status=ProductStatus.PUBLISHED,
        funder_active=True,
        amount=cny("1000000.00"),  # exactly the advance limit
        term=3,
        has_consent=True,
        applicant=Applicant(organization_id=TRADER),
        today=TODAY,
        order=_order(),
    ),
    ProductLine.WAREHOUSE_RECEIPT_PLEDGE: Submission(
        line=ProductLine.WAREHOUSE_RECEIPT_PLEDGE,
        terms=warehouse_terms([DEPOT], **WIDE),
        product_status=ProductStatus.PUBLISHED,
        funder_active=True,
        amount=cny("1092420.00"),  # exactly the pledge limit
        term=90,
        has_consent=True,
        applicant=Applicant(organization_id=CARGO),
        today=TODAY,
        receipts=(_receipt(),),
    ),
    ProductLine.CONSUMER_CREDIT: Submission(
        line=ProductLine.CONSUMER_CREDIT,
        terms=consumer_terms(),
        product_status=ProductStatus.PUBLISHED,
        funder_active=True,
        amount=cny("50000.00"),
        term=12,
        has_consent=True,
        applicant=Applicant(person_id=uuid.uuid4()),
        today=TODAY,
        applicant_birth_date=date(1990, 3, 7),
    ),
}

OF, WP, CC = (
    ProductLine.ORDER_FINANCING,
    ProductLine.WAREHOUSE_RECEIPT_PLEDGE,
    ProductLine.CONSUMER_CREDIT,
)

BROKEN = [
    # Every line.
    (OF, {"product_status": ProductStatus.RETIRED}, ErrorCode.PRODUCT_NOT_AVAILABLE),
    (WP, {"funder_active": False}, ErrorCode.PRODUCT_NOT_AVAILABLE),
    (CC, {"amount": cny("999.99")}, ErrorCode.AMOUNT_NOT_OFFERED),
    (CC, {"amount": cny("200000.01")}, ErrorCode.AMOUNT_NOT_OFFERED),
    (CC, {"amount": Money.parse("50000.00", "USD")}, ErrorCode.CURRENCY_MISMATCH),
    (CC, {"term": 9}, ErrorCode.TERM_NOT_OFFERED),
    (WP, {"term": 91}, ErrorCode.TERM_NOT_OFFERED),
    (OF, {"has_consent": False}, ErrorCode.CONSENT_REQUIRED),
    # ORDER_FINANCING.
    (OF, {"order": None}, ErrorCode.COLLATERAL_REQUIRED),
    (
        OF,
        {"order": _order(confirmed=False, status="PENDING_CONFIRMATION")},
        ErrorCode.PURCHASE_ORDER_NOT_CONFIRMED,
    ),
    (
        OF,
        {"order": _order(buyer_organization_id=OTHER_CORE)},
        ErrorCode.CORE_ENTERPRISE_NOT_ELIGIBLE,
    ),
    (
        OF,
        {"order": _order(seller_organization_id=STRANGER)},
        ErrorCode.PURCHASE_ORDER_SELLER_MISMATCH,
    ),
    (OF, {"order": _order(due_date=TODAY)}, ErrorCode.PURCHASE_ORDER_MATURED),
    (OF, {"amount": cny("1000000.01")}, ErrorCode.ADVANCE_RATE_EXCEEDED),
    (
        OF,
        {"order": _order(amount=Money.parse("1250000.00", "USD"))},
        ErrorCode.CURRENCY_MISMATCH,
    ),
    # WAREHOUSE_RECEIPT_PLEDGE.
    (WP, {"receipts": ()}, ErrorCode.COLLATERAL_REQUIRED),
    (WP, {"receipts": (_receipt(issued=False, status="CANCELLED"),)}, ErrorCode.RECEIPT_CANCELLED),
    (
        WP,
        {"receipts": (_receipt(owner_organization_id=STRANGER),)},
        ErrorCode.RECEIPT_OWNER_MISMATCH,
    ),
    (
        WP,
        {"receipts": (_receipt(warehouse_organization_id=OTHER_DEPOT),)},
        ErrorCode.WAREHOUSE_NOT_ACCEPTED,
    ),
    (WP, {"amount": cny("1092420.01")}, ErrorCode.LTV_EXCEEDED),
    # CONSUMER_CREDIT: 22 to 55 years old.
    (CC, {"applicant_birth_date": date(2004, 12, 4)}, ErrorCode.APPLICANT_AGE_NOT_ELIGIBLE),
    (CC, {"applicant_birth_date": date(1949, 12, 31)}, ErrorCode.APPLICANT_AGE_NOT_ELIGIBLE),
]


@pytest.mark.parametrize("line", list(VALID))
def test_valid_submissions_pass(line: ProductLine) -> None:
    check_submission(VALID[line])


def test_age_bounds_are_inclusive() -> None:
    youngest = replace(VALID[CC], applicant_birth_date=date(2004, 12, 3))  # 22 today
    oldest = replace(VALID[CC], applicant_birth_date=date(1970, 12, 4))  # 55, 56 tomorrow
    check_submission(youngest)
    check_submission(oldest)


@pytest.mark.parametrize(
    ("line", "change", "code"), BROKEN, ids=[f"{b[0].value}-{b[2].value}" for b in BROKEN]
)
def test_each_broken_rule_gives_its_own_code(
    line: ProductLine, change: dict[str, object], code: ErrorCode
) -> None:
    with pytest.raises(DomainError) as caught:
        check_submission(replace(VALID[line], **change))  # type: ignore[arg-type]
    errors = caught.value.errors if isinstance(caught.value, ValidationErrors) else [caught.value]
    assert [e.code for e in errors] == [code], errors


def test_every_broken_rule_is_reported_at_once() -> None:
    broken = replace(
        VALID[OF],
        has_consent=False,
        term=9,
        order=_order(
            confirmed=False, status="PENDING_CONFIRMATION", buyer_organization_id=OTHER_CORE
        ),
    )
    with pytest.raises(ValidationErrors) as caught:
        check_submission(broken)
    assert {e.code for e in caught.value.errors} == {
        ErrorCode.CONSENT_REQUIRED,
        ErrorCode.TERM_NOT_OFFERED,
        ErrorCode.PURCHASE_ORDER_NOT_CONFIRMED,
        ErrorCode.CORE_ENTERPRISE_NOT_ELIGIBLE,
    }
