"""GraphQL types of deal reviews: one stage of one round of a deal's review, and the terms a
second review approved. Reviews are not Nodes: they are read through their deal
(``Deal.reviews``), a queue (``reviewQueue``) or a mutation's payload."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.relay import load_node
from api.scalars import MoneyType, Rate
from api.tenancy.types import UserNode
from domain.kernel.money import Money
from domain.reviews import models

ReviewStage = strawberry.enum(
    models.ReviewStage,
    description="Which of a deal's two reviews: FIRST (reviews:first) or SECOND "
    "(reviews:second), held and decided by two different people.",
)
ReviewDecision = strawberry.enum(
    models.ReviewDecision,
    description="What a reviewer decided: APPROVE (the first review passes the deal to the "
    "second; the second approves it), REJECT (the deal ends) or RETURN (back to the "
    "applicant for more information; a resubmission starts the next round).",
)


@strawberry.type(description="The terms a second review approved.")
class ApprovedTerms:
    amount: MoneyType = strawberry.field(
        description="The amount approved: at most the amount requested."
    )
    annual_rate: Rate = strawberry.field(
        description="The nominal annual rate approved: at most the product version's rate."
    )


@strawberry.type(
    name="DealReview",
    description="One stage (FIRST or SECOND) of one round of a deal's review: who holds it, "
    "what was decided, by whom and when, and for an approving second review the terms "
    "approved and when the approval lapses unless the deal is signed. Only the deal's funder "
    "sees its reviews.",
)
class DealReviewType:
    stage: ReviewStage = strawberry.field(description="Which review.")  # type: ignore[valid-type]
    round: int = strawberry.field(
        description="The round, from 1; a returned deal that is resubmitted starts the next."
    )
    opened_at: datetime = strawberry.field(description="When the review opened.")
    claimed_at: datetime | None = strawberry.field(
        description="When its reviewer took it; null while nobody holds it."
    )
    decision: ReviewDecision | None = strawberry.field(  # type: ignore[valid-type]
        description="What was decided; null while the review is open."
    )
    notes: str | None = strawberry.field(description="The reviewer's notes on the decision.")
    decided_at: datetime | None = strawberry.field(description="When it was decided.")
    system_decision: bool = strawberry.field(
        description="Whether the scorecard decided it by itself (no person did)."
    )
    approved_terms: ApprovedTerms | None = strawberry.field(
        description="The terms approved (an approving second review only)."
    )
    expires_at: datetime | None = strawberry.field(
        description="When the approval lapses unless the deal is signed (an approving second "
        "review only); the deal then becomes EXPIRED."
    )
    assignee_pk: strawberry.Private[uuid.UUID | None]
    decided_by_pk: strawberry.Private[uuid.UUID | None]

    @classmethod
    def from_row(cls, row: Any) -> DealReviewType:
        """The review of an ORM instance (a mutation's) or a plain row (a page's)."""
        terms = None
        if (
            row.approved_amount_minor is not None
            and row.approved_currency is not None
            and row.approved_rate is not None
        ):
            terms = ApprovedTerms(
                amount=MoneyType.of(Money(row.approved_amount_minor, row.approved_currency)),
                annual_rate=Rate(row.approved_rate),
            )
        return cls(
            stage=models.ReviewStage(row.stage),
            round=row.round,
            opened_at=row.created_at,
            claimed_at=row.claimed_at,
            decision=None if row.decision is None else models.ReviewDecision(row.decision),
            notes=row.notes,
            decided_at=row.decided_at,
            system_decision=bool(row.system_decision),
            approved_terms=terms,
            expires_at=row.expires_at,
            assignee_pk=row.assignee_id,
            decided_by_pk=row.decided_by,
        )

    @strawberry.field(
        description="The reviewer holding (or who held) the review, when you may see that "
        "user (with users:read, or yourself); null otherwise."
    )
    async def assignee(self, info: Info) -> UserNode | None:
        return await load_node(info, UserNode, self.assignee_pk)

    @strawberry.field(
        description="The reviewer who decided it, when you may see that user (with "
        "users:read, or yourself); null otherwise and for a system decision."
    )
    async def decided_by(self, info: Info) -> UserNode | None:
        return await load_node(info, UserNode, self.decided_by_pk)


__all__ = ["ApprovedTerms", "DealReviewType", "ReviewDecision", "ReviewStage"]
