"""Pure rules of reviews: which deal status each stage reviews, where each decision leads, who
may claim and decide a review (four eyes), the notes, the terms a second review approves, and
who reads a deal's reviews. No I/O, no await, no clock.

Approved terms (second review, APPROVE): by default the amount requested and the rate of the
product version the deal was applied under. A reviewer may approve less than requested, but
never more (AMOUNT_ABOVE_REQUEST) nor less than the product's minimum (AMOUNT_NOT_OFFERED),
in the deal's currency (CURRENCY_MISMATCH); and a rate from zero up to the product version's
rate (ANNUAL_RATE_OUT_OF_RANGE), with at most 8 decimal places (INVALID_RATE). The product
version has one rate, no range: the borrower applied at that rate, so a review may concede a
lower one but not impose a higher one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Final

from domain.deals.models import DealStatus
from domain.deals.policy import clean_text
from domain.kernel.actor import Actor
from domain.kernel.errors import DomainError, ErrorCode, collect
from domain.kernel.money import Money
from domain.kernel.scopes import Scope
from domain.reviews.models import ReviewDecision, ReviewStage

S = DealStatus

#: The deal status each stage reviews.
STAGE_STATUS: Final[Mapping[ReviewStage, DealStatus]] = {
    ReviewStage.FIRST: S.FIRST_REVIEW,
    ReviewStage.SECOND: S.SECOND_REVIEW,
}

#: The scope that takes and decides each stage.
STAGE_SCOPE: Final[Mapping[ReviewStage, Scope]] = {
    ReviewStage.FIRST: Scope.REVIEWS_FIRST,
    ReviewStage.SECOND: Scope.REVIEWS_SECOND,
}

#: Where each decision of each stage moves the deal.
OUTCOMES: Final[Mapping[tuple[ReviewStage, ReviewDecision], DealStatus]] = {
    (ReviewStage.FIRST, ReviewDecision.APPROVE): S.SECOND_REVIEW,
    (ReviewStage.FIRST, ReviewDecision.REJECT): S.REJECTED,
    (ReviewStage.FIRST, ReviewDecision.RETURN): S.RETURNED,
    (ReviewStage.SECOND, ReviewDecision.APPROVE): S.APPROVED,
    (ReviewStage.SECOND, ReviewDecision.REJECT): S.REJECTED,
    (ReviewStage.SECOND, ReviewDecision.RETURN): S.RETURNED,
}

#: The same bound as a timeline entry's note, which carries them.
MAX_NOTES: Final[int] = 500
#: How long a second review's approval stands unless the deal is signed, when nothing says
#: otherwise; an approval takes its product version's window (``approval_validity_days``,
#: 30 by default), and ``expires_at`` keeps the instant it gave.
APPROVAL_VALIDITY: Final[timedelta] = timedelta(days=30)
#: Decimal places a stored rate keeps (``NUMERIC(10, 8)``).
RATE_PLACES: Final[int] = 8
MAX_PAGE: Final[int] = 100


def other_stage(stage: ReviewStage) -> ReviewStage:
    """The stage the four-eyes rule compares ``stage`` with."""
    return ReviewStage.SECOND if stage is ReviewStage.FIRST else ReviewStage.FIRST


def outcome(stage: ReviewStage, decision: ReviewDecision) -> DealStatus:
    """The status a deal moves to on ``decision`` in ``stage``."""
    return OUTCOMES[(stage, decision)]


def check_in_review(status: DealStatus, stage: ReviewStage) -> None:
    """The deal is in the status ``stage`` reviews (INVALID_TRANSITION otherwise)."""
    if status is not STAGE_STATUS[stage]:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"a {status.value} deal is not in {stage.value.lower()} review",
            "dealId",
        )


def clean_notes(notes: str | None) -> str:
    """A decision's notes: present (REQUIRED) and at most :data:`MAX_NOTES` characters."""
    return clean_text(notes or "", "notes", MAX_NOTES)


@dataclass(frozen=True, slots=True)
class Eyes:
    """Who holds or decided a review: its assignee and its decider."""

    assignee_id: uuid.UUID | None
    decided_by: uuid.UUID | None

    def includes(self, user_id: uuid.UUID) -> bool:
        """Whether ``user_id`` holds or decided the review."""
        return user_id in (self.assignee_id, self.decided_by)


def check_four_eyes(user_id: uuid.UUID, other: Eyes | None) -> None:
    """FOUR_EYES when ``user_id`` holds or decided the other stage of the same round."""
    if other is not None and other.includes(user_id):
        raise DomainError(
            ErrorCode.FOUR_EYES,
            "the other review of this deal is yours: a different person reviews this one",
            "dealId",
        )


def check_claimable(assignee_id: uuid.UUID | None, user_id: uuid.UUID) -> None:
    """REVIEW_TAKEN when another reviewer holds the review."""
    if assignee_id is not None and assignee_id != user_id:
        raise DomainError(ErrorCode.REVIEW_TAKEN, "another reviewer holds this review", "dealId")


def check_assignee(assignee_id: uuid.UUID | None, user_id: uuid.UUID) -> None:
    """FORBIDDEN unless ``user_id`` holds the review (only the assignee releases it)."""
    if assignee_id != user_id:
        raise DomainError(ErrorCode.FORBIDDEN, "only the reviewer holding it releases it", "dealId")


@dataclass(frozen=True, slots=True)
class ApprovedTerms:
    """What a second review approves."""

    amount: Money
    rate: Decimal


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def approved_terms(
    *,
    requested: Money,
    min_amount: Money,
    product_rate: Decimal,
    amount: Money | None = None,
    rate: Decimal | None = None,
) -> ApprovedTerms:
    """The terms a second review approves: ``amount`` and ``rate`` where given, else the
    request's amount and the product version's rate; every refusal reported at once."""
    problems: list[DomainError] = []
    approved_amount = requested if amount is None else amount
    if approved_amount.currency != requested.currency:
        problems.append(
            DomainError(
                ErrorCode.CURRENCY_MISMATCH,
                f"the deal is in {requested.currency}",
                "amount.currency",
            )
        )
    elif approved_amount.amount_minor > requested.amount_minor:
        problems.append(
            DomainError(
                ErrorCode.AMOUNT_ABOVE_REQUEST,
                f"at most the {requested} requested",
                "amount",
            )
        )
    elif approved_amount.amount_minor < min_amount.amount_minor:
        problems.append(
            DomainError(
                ErrorCode.AMOUNT_NOT_OFFERED,
                f"at least the product's minimum of {min_amount}",
                "amount",
            )
        )
    approved_rate = product_rate if rate is None else rate
    if not approved_rate.is_finite() or _places(approved_rate) > RATE_PLACES:
        problems.append(
            DomainError(
                ErrorCode.INVALID_RATE,
                f"a finite decimal with at most {RATE_PLACES} places",
                "rate",
            )
        )
    elif not Decimal(0) <= approved_rate <= product_rate:
        problems.append(
            DomainError(
                ErrorCode.ANNUAL_RATE_OUT_OF_RANGE,
                f"from 0 to the product's rate of {product_rate}",
                "rate",
            )
        )
    collect(problems)
    return ApprovedTerms(amount=approved_amount, rate=approved_rate)


def reviews_visible(actor: Actor, deal_tenant_id: uuid.UUID) -> bool:
    """Whether ``actor`` may read the reviews of a deal of tenant ``deal_tenant_id`` (their
    decisions, notes and reviewers): a principal of that very funder holding ``deals:read``.
    Reviews are the funder's internal record; the applicant, the partner app of the channel
    and the platform operator see none."""
    return actor.tenant_id == deal_tenant_id and actor.has(Scope.DEALS_READ)


def check_page_size(first: int) -> None:
    """A queue page holds 1 to :data:`MAX_PAGE` reviews (INVALID otherwise)."""
    if not 1 <= first <= MAX_PAGE:
        raise DomainError(ErrorCode.INVALID, f"from 1 to {MAX_PAGE}", "first")


__all__ = [
    "APPROVAL_VALIDITY",
    "MAX_NOTES",
    "MAX_PAGE",
    "OUTCOMES",
    "STAGE_SCOPE",
    "STAGE_STATUS",
    "ApprovedTerms",
    "Eyes",
    "approved_terms",
    "check_assignee",
    "check_claimable",
    "check_four_eyes",
    "check_in_review",
    "check_page_size",
    "clean_notes",
    "other_stage",
    "outcome",
    "reviews_visible",
]
