"""Worked examples of the review rules: where each decision leads, four eyes, notes, and the
terms a second review may approve (a request of 50,000.00 CNY under a product lending from
1,000.00 at 12 %)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from domain.deals.models import DealStatus
from domain.kernel.errors import DomainError, ErrorCode, ValidationErrors
from domain.kernel.money import Money
from domain.reviews import policy
from domain.reviews.models import ReviewDecision, ReviewStage

ALICE = uuid.UUID("00000000-0000-0000-0000-00000000a11c")
BOB = uuid.UUID("00000000-0000-0000-0000-000000000b0b")

REQUESTED = Money(5_000_000, "CNY")  # 50,000.00
MINIMUM = Money(100_000, "CNY")  # 1,000.00
RATE = Decimal("0.12")


def _codes(exc: DomainError) -> list[tuple[ErrorCode, str | None]]:
    errors = exc.errors if isinstance(exc, ValidationErrors) else [exc]
    return [(e.code, e.field) for e in errors]


@pytest.mark.parametrize(
    ("stage", "decision", "status"),
    [
        (ReviewStage.FIRST, ReviewDecision.APPROVE, DealStatus.SECOND_REVIEW),
        (ReviewStage.FIRST, ReviewDecision.REJECT, DealStatus.REJECTED),
        (ReviewStage.FIRST, ReviewDecision.RETURN, DealStatus.RETURNED),
        (ReviewStage.SECOND, ReviewDecision.APPROVE, DealStatus.APPROVED),
        (ReviewStage.SECOND, ReviewDecision.REJECT, DealStatus.REJECTED),
        (ReviewStage.SECOND, ReviewDecision.RETURN, DealStatus.RETURNED),
    ],
)
def test_each_decision_leads_to_one_status(
    stage: ReviewStage, decision: ReviewDecision, status: DealStatus
) -> None:
    assert policy.outcome(stage, decision) is status


def test_each_stage_reviews_one_status() -> None:
    policy.check_in_review(DealStatus.FIRST_REVIEW, ReviewStage.FIRST)
    policy.check_in_review(DealStatus.SECOND_REVIEW, ReviewStage.SECOND)
    for status, stage in (
        (DealStatus.SECOND_REVIEW, ReviewStage.FIRST),
        (DealStatus.SUBMITTED, ReviewStage.FIRST),
        (DealStatus.FIRST_REVIEW, ReviewStage.SECOND),
        (DealStatus.APPROVED, ReviewStage.SECOND),
    ):
        with pytest.raises(DomainError) as caught:
            policy.check_in_review(status, stage)
        assert caught.value.code is ErrorCode.INVALID_TRANSITION


def test_other_stage() -> None:
    assert policy.other_stage(ReviewStage.FIRST) is ReviewStage.SECOND
    assert policy.other_stage(ReviewStage.SECOND) is ReviewStage.FIRST


def test_four_eyes_refuses_whoever_held_or_decided_the_other_stage() -> None:
    # Alice decided the first review; Bob had claimed it once and kept it assigned.
    for other in (policy.Eyes(assignee_id=ALICE, decided_by=None), policy.Eyes(BOB, ALICE)):
        with pytest.raises(DomainError) as caught:
            policy.check_four_eyes(ALICE, other)
        assert caught.value.code is ErrorCode.FOUR_EYES
    # Someone else, no other stage yet, or a system decision (no person on it): allowed.
    policy.check_four_eyes(BOB, policy.Eyes(ALICE, ALICE))
    policy.check_four_eyes(ALICE, None)
    policy.check_four_eyes(ALICE, policy.Eyes(None, None))


def test_claims() -> None:
    policy.check_claimable(None, ALICE)
    policy.check_claimable(ALICE, ALICE)
    with pytest.raises(DomainError) as caught:
        policy.check_claimable(BOB, ALICE)
    assert caught.value.code is ErrorCode.REVIEW_TAKEN
    policy.check_assignee(ALICE, ALICE)
    for holder in (BOB, None):
        with pytest.raises(DomainError) as caught:
            policy.check_assignee(holder, ALICE)
        assert caught.value.code is ErrorCode.FORBIDDEN


def test_notes_are_required_and_bounded() -> None:
    assert policy.clean_notes("  income verified  ") == "income verified"
    for empty in (None, "", "   "):
        with pytest.raises(DomainError) as caught:
            policy.clean_notes(empty)
        assert (caught.value.code, caught.value.field) == (ErrorCode.REQUIRED, "notes")
    assert policy.clean_notes("x" * 500) == "x" * 500
    with pytest.raises(DomainError) as caught:
        policy.clean_notes("x" * 501)
    assert (caught.value.code, caught.value.field) == (ErrorCode.TOO_LONG, "notes")


def _terms(amount: Money | None = None, rate: Decimal | None = None) -> policy.ApprovedTerms:
    return policy.approved_terms(
        requested=REQUESTED, min_amount=MINIMUM, product_rate=RATE, amount=amount, rate=rate
    )


def test_approved_terms_default_to_the_request_and_the_product_rate() -> None:
    assert _terms() == policy.ApprovedTerms(amount=Money(5_000_000, "CNY"), rate=Decimal("0.12"))


def test_a_review_may_approve_less_and_cheaper() -> None:
    # 30,000.00 at 9.5 %; the bounds themselves: 1,000.00, 50,000.00, 0 % and 12 %.
    assert _terms(Money(3_000_000, "CNY"), Decimal("0.095")) == policy.ApprovedTerms(
        Money(3_000_000, "CNY"), Decimal("0.095")
    )
    assert _terms(Money(100_000, "CNY"), Decimal("0")).amount == Money(100_000, "CNY")
    assert _terms(Money(5_000_000, "CNY"), Decimal("0.12")).rate == Decimal("0.12")


@pytest.mark.parametrize(
    ("amount", "rate", "expected"),
    [
        # 50,000.01: one fen more than requested.
        (Money(5_000_001, "CNY"), None, [(ErrorCode.AMOUNT_ABOVE_REQUEST, "amount")]),
        # 999.99: one fen under the product's minimum.
        (Money(99_999, "CNY"), None, [(ErrorCode.AMOUNT_NOT_OFFERED, "amount")]),
        (Money(3_000_000, "USD"), None, [(ErrorCode.CURRENCY_MISMATCH, "amount.currency")]),
        (None, Decimal("0.12000001"), [(ErrorCode.ANNUAL_RATE_OUT_OF_RANGE, "rate")]),
        (None, Decimal("-0.01"), [(ErrorCode.ANNUAL_RATE_OUT_OF_RANGE, "rate")]),
        (None, Decimal("0.100000001"), [(ErrorCode.INVALID_RATE, "rate")]),
        (None, Decimal("NaN"), [(ErrorCode.INVALID_RATE, "rate")]),
        # Both at once are reported together.
        (
            Money(6_000_000, "CNY"),
            Decimal("0.2"),
            [
                (ErrorCode.AMOUNT_ABOVE_REQUEST, "amount"),
                (ErrorCode.ANNUAL_RATE_OUT_OF_RANGE, "rate"),
            ],
        ),
    ],
)
def test_approved_terms_refusals(
    amount: Money | None, rate: Decimal | None, expected: list[tuple[ErrorCode, str]]
) -> None:
    with pytest.raises(DomainError) as caught:
        _terms(amount, rate)
    assert _codes(caught.value) == expected


def test_page_size() -> None:
    policy.check_page_size(1)
    policy.check_page_size(100)
    for bad in (0, 101, -1):
        with pytest.raises(DomainError) as caught:
            policy.check_page_size(bad)
        assert (caught.value.code, caught.value.field) == (ErrorCode.INVALID, "first")


def test_approvals_stand_thirty_days() -> None:
    assert policy.APPROVAL_VALIDITY.days == 30
