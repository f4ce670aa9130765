"""Inputs and payloads of the review mutations."""

from __future__ import annotations

import strawberry

from api.deals.inputs import IDEMPOTENCY_KEY_DESCRIPTION
from api.deals.types import DealNode
from api.errors import UserError
from api.ids import DealID
from api.reviews.types import DealReviewType, ReviewDecision, ReviewStage
from api.scalars import MoneyInput, Rate


@strawberry.input(description="The open review of one stage of a deal, to take.")
class ClaimReviewInput:
    deal_id: DealID = strawberry.field(description="The deal.")
    stage: ReviewStage = strawberry.field(  # type: ignore[valid-type]
        description="Which review: FIRST needs reviews:first, SECOND reviews:second."
    )


@strawberry.input(description="A review you hold, to give back.")
class ReleaseReviewInput:
    deal_id: DealID = strawberry.field(description="The deal.")
    stage: ReviewStage = strawberry.field(  # type: ignore[valid-type]
        description="Which review: FIRST needs reviews:first, SECOND reviews:second."
    )


@strawberry.input(description="The decision of a deal's first review.")
class DecideFirstReviewInput:
    deal_id: DealID = strawberry.field(description="The deal, in FIRST_REVIEW.")
    decision: ReviewDecision = strawberry.field(  # type: ignore[valid-type]
        description="APPROVE (on to the second review), REJECT or RETURN."
    )
    notes: str = strawberry.field(
        description="Why (required, at most 500 characters); the second reviewer reads them. "
        "They stay the funder's, except a RETURN's, which the applicant reads on the timeline."
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description=IDEMPOTENCY_KEY_DESCRIPTION
    )


@strawberry.input(
    description="The decision of a deal's second review; an approval may concede less than "
    "was requested."
)
class DecideSecondReviewInput:
    deal_id: DealID = strawberry.field(description="The deal, in SECOND_REVIEW.")
    decision: ReviewDecision = strawberry.field(  # type: ignore[valid-type]
        description="APPROVE, REJECT or RETURN."
    )
    notes: str = strawberry.field(
        description="Why (required, at most 500 characters). They stay the funder's, except a "
        "RETURN's, which the applicant reads on the timeline."
    )
    amount: MoneyInput | None = strawberry.field(
        default=None,
        description="The amount approved (APPROVE only): at most the amount requested and at "
        "least the product's minimum, in the deal's currency; the amount requested when "
        "omitted.",
    )
    annual_rate: Rate | None = strawberry.field(
        default=None,
        description='The nominal annual rate approved (APPROVE only), e.g. "0.095": from 0 to '
        "the rate of the product version the deal applied under, at most 8 decimal places; "
        "that rate when omitted.",
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description=IDEMPOTENCY_KEY_DESCRIPTION
    )


@strawberry.type(description="Result of claimReview.")
class ClaimReviewPayload:
    deal: DealNode | None = strawberry.field(description="The deal.")
    review: DealReviewType | None = strawberry.field(description="The review, now yours.")
    user_errors: list[UserError] = strawberry.field(description="Why the claim was refused.")


@strawberry.type(description="Result of releaseReview.")
class ReleaseReviewPayload:
    deal: DealNode | None = strawberry.field(description="The deal.")
    review: DealReviewType | None = strawberry.field(description="The review, held by nobody now.")
    user_errors: list[UserError] = strawberry.field(description="Why the release was refused.")


@strawberry.type(description="Result of decideFirstReview.")
class DecideFirstReviewPayload:
    deal: DealNode | None = strawberry.field(
        description="The deal, in SECOND_REVIEW, REJECTED or RETURNED."
    )
    review: DealReviewType | None = strawberry.field(description="The decided first review.")
    user_errors: list[UserError] = strawberry.field(description="Why the decision was refused.")


@strawberry.type(description="Result of decideSecondReview.")
class DecideSecondReviewPayload:
    deal: DealNode | None = strawberry.field(
        description="The deal, APPROVED, REJECTED or RETURNED."
    )
    review: DealReviewType | None = strawberry.field(
        description="The decided second review, with the approved terms."
    )
    user_errors: list[UserError] = strawberry.field(description="Why the decision was refused.")


__all__ = [
    "ClaimReviewInput",
    "ClaimReviewPayload",
    "DecideFirstReviewInput",
    "DecideFirstReviewPayload",
    "DecideSecondReviewInput",
    "DecideSecondReviewPayload",
    "ReleaseReviewInput",
    "ReleaseReviewPayload",
]
