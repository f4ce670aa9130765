"""Mutations on reviews: claim and release a review, decide the first and the second review.
The decisions take an idempotency key (``api.idempotency``), as submitDeal does."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.permission import BasePermission
from strawberry.types import Info

from api.deals.inputs import deal_id
from api.deals.types import DealNode
from api.errors import run_use_case
from api.idempotency import idempotent
from api.permissions import has_scope, scopes_of
from api.reviews.inputs import (
    ClaimReviewInput,
    ClaimReviewPayload,
    DecideFirstReviewInput,
    DecideFirstReviewPayload,
    DecideSecondReviewInput,
    DecideSecondReviewPayload,
    ReleaseReviewInput,
    ReleaseReviewPayload,
)
from api.reviews.types import DealReviewType
from domain.kernel.scopes import Scope
from domain.reviews import policy, service
from domain.reviews.models import ReviewStage
from domain.reviews.service import ReviewOutcome


def stage_scope_error(stage: ReviewStage) -> GraphQLError:
    """The refusal of a token without the scope of ``stage``."""
    return GraphQLError(
        f"Requires the {policy.STAGE_SCOPE[stage].value} scope", extensions={"code": "FORBIDDEN"}
    )


class StageScope(BasePermission):
    """The scope of the stage named in the field's ``input`` (or ``stage`` argument):
    reviews:first for a first review, reviews:second for a second one. UNAUTHENTICATED
    without a token."""

    message = "Requires the reviews:first or reviews:second scope"
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        given = kwargs.get("input")
        stage = ReviewStage(given.stage if given is not None else kwargs["stage"])
        if policy.STAGE_SCOPE[stage].value in scopes_of(info):
            return True
        # The stage's own scope named, as a field that needs one scope names it.
        raise stage_scope_error(stage)


def _payload(outcome: ReviewOutcome | None) -> dict[str, Any]:
    if outcome is None:
        return {"deal": None, "review": None}
    return {
        "deal": DealNode.from_row(outcome.deal),
        "review": DealReviewType.from_row(outcome.review),
    }


@strawberry.type
class ReviewMutations:
    @strawberry.mutation(
        description="Take the open review of one stage of a deal of your funder: you become "
        "its reviewer and nobody else may decide it until you release it. Taking your own "
        "review again changes nothing; REVIEW_TAKEN when another reviewer holds it, FOUR_EYES "
        "when you hold or decided the deal's other review of the same round.",
        permission_classes=[StageScope],
    )
    async def claim_review(self, info: Info, input: ClaimReviewInput) -> ClaimReviewPayload:
        async with info.context.db() as session:
            outcome, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.claim_review(
                    s, a, deal_id=deal_id(input.deal_id, "dealId"), stage=input.stage
                ),
            )
        return ClaimReviewPayload(**_payload(outcome), user_errors=errors)

    @strawberry.mutation(
        description="Give back an open review you hold, so that another reviewer may take it "
        "(FORBIDDEN for anyone but its reviewer).",
        permission_classes=[StageScope],
    )
    async def release_review(self, info: Info, input: ReleaseReviewInput) -> ReleaseReviewPayload:
        async with info.context.db() as session:
            outcome, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.release_review(
                    s, a, deal_id=deal_id(input.deal_id, "dealId"), stage=input.stage
                ),
            )
        return ReleaseReviewPayload(**_payload(outcome), user_errors=errors)

    @strawberry.mutation(
        description="Decide a deal's first review, with notes (required). Deciding a review "
        "nobody holds takes it. APPROVE moves the deal to SECOND_REVIEW and opens its second "
        "review; REJECT ends it (REJECTED, its collateral released); RETURN sends it back to "
        "the applicant (RETURNED). Every decision is on the deal's timeline.",
        permission_classes=[has_scope(Scope.REVIEWS_FIRST)],
    )
    async def decide_first_review(
        self, info: Info, input: DecideFirstReviewInput
    ) -> DecideFirstReviewPayload:
        async with info.context.db() as session:
            outcome, errors = await run_use_case(
                session,
                info.context.actor,
                idempotent(
                    info,
                    input,
                    lambda s, a: service.decide_first_review(
                        s,
                        a,
                        deal_id=deal_id(input.deal_id, "dealId"),
                        decision=input.decision,
                        notes=input.notes,
                    ),
                ),
            )
        return DecideFirstReviewPayload(**_payload(outcome), user_errors=errors)

    @strawberry.mutation(
        description="Decide a deal's second review, with notes (required); never by whoever "
        "held or decided its first review (FOUR_EYES). APPROVE makes it APPROVED on the "
        "approved terms (the amount requested and the product version's rate unless less is "
        "given), which stand 30 days unless the deal is signed; REJECT ends it (REJECTED, "
        "its collateral released); RETURN sends it back to the applicant (RETURNED).",
        permission_classes=[has_scope(Scope.REVIEWS_SECOND)],
    )
    async def decide_second_review(
        self, info: Info, input: DecideSecondReviewInput
    ) -> DecideSecondReviewPayload:
        async with info.context.db() as session:
            outcome, errors = await run_use_case(
                session,
                info.context.actor,
                idempotent(
                    info,
                    input,
                    lambda s, a: service.decide_second_review(
                        s,
                        a,
                        deal_id=deal_id(input.deal_id, "dealId"),
                        decision=input.decision,
                        notes=input.notes,
                        amount=input.amount.to_money("amount")
                        if input.amount is not None
                        else None,
                        rate=input.annual_rate,
                    ),
                ),
            )
        for error in errors:
            # The domain names the rate ``rate``; the input calls it ``annualRate``.
            if error.field == "rate":
                error.field = "annualRate"
        return DecideSecondReviewPayload(**_payload(outcome), user_errors=errors)


__all__ = ["ReviewMutations", "StageScope"]
