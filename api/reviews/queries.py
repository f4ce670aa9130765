"""Queries of reviews: a funder's review queues, oldest first."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry import relay
from strawberry.types import Info

from api.deals.types import DealNode
from api.pagination import After, First, check_first, decode_keyset, encode_keyset, page_info
from api.products.types import ProductLine
from api.relay import load_node
from api.reviews.mutations import StageScope
from api.reviews.types import DealReviewType, ReviewStage
from api.scalars import MoneyType
from domain.kernel.errors import DomainError
from domain.reviews import models, service

QUEUE_CURSOR = "rq"


@strawberry.enum(description="Whose reviews a queue lists.")
class ReviewAssigneeFilter(Enum):
    ME = strawberry.enum_value("me", description="Those you hold.")
    UNASSIGNED = strawberry.enum_value("unassigned", description="Those nobody holds.")


@strawberry.type(description="An open review in a queue, with its deal.")
class ReviewQueueEdge:
    cursor: str = strawberry.field(description="Opaque keyset cursor of this review.")
    review: DealReviewType = strawberry.field(description="The open review.")
    queued_at: datetime = strawberry.field(
        description="Since when the review has waited: when it opened (the queue's order)."
    )
    product_line: ProductLine = strawberry.field(description="The deal's product line.")  # type: ignore[valid-type]
    amount: MoneyType = strawberry.field(description="The amount the deal asks for.")
    entry: strawberry.Private[service.QueueEntry]

    @strawberry.field(description="The deal under review.")
    async def deal(self, info: Info) -> DealNode | None:
        return await load_node(info, DealNode, self.entry.deal_id)


@strawberry.type(description="A page of a review queue, oldest first.")
class ReviewQueueConnection:
    edges: list[ReviewQueueEdge] = strawberry.field(description="The reviews of this page.")
    page_info: relay.PageInfo = strawberry.field(description="Where this page ends.")


def _edge(entry: service.QueueEntry) -> ReviewQueueEdge:
    # The queue's rows are open reviews: nothing decided, no terms.
    review = DealReviewType(
        stage=entry.stage,
        round=entry.round,
        opened_at=entry.created_at,
        claimed_at=entry.claimed_at,
        decision=None,
        notes=None,
        decided_at=None,
        system_decision=False,
        approved_terms=None,
        expires_at=None,
        assignee_pk=entry.assignee_id,
        decided_by_pk=None,
    )
    return ReviewQueueEdge(
        cursor=encode_keyset(QUEUE_CURSOR, entry.created_at, entry.review_id),
        review=review,
        queued_at=entry.created_at,
        product_line=entry.product_line,
        amount=MoneyType.of(entry.amount),
        entry=entry,
    )


@strawberry.type
class ReviewQueries:
    @strawberry.field(
        description="The open reviews of one stage of your funder's deals, oldest first: the "
        "first queue (reviews:first) or the second (reviews:second). Narrowed by product "
        "line, by whom they are held (yours, or nobody's) and by how long they have waited.",
        permission_classes=[StageScope],
    )
    async def review_queue(
        self,
        info: Info,
        *,
        stage: Annotated[
            ReviewStage,  # type: ignore[valid-type]
            strawberry.argument(description="Which queue."),
        ],
        first: First,
        after: After = None,
        product_line: Annotated[
            ProductLine | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only deals of this product line."),
        ] = None,
        assignee: Annotated[
            ReviewAssigneeFilter | None,
            strawberry.argument(description="Only the reviews you hold, or nobody holds."),
        ] = None,
        older_than: Annotated[
            datetime | None,
            strawberry.argument(description="Only reviews opened before this instant."),
        ] = None,
    ) -> ReviewQueueConnection:
        check_first(first)
        found = decode_keyset(QUEUE_CURSOR, after, 1)
        keyset = None if found is None else (found[0], found[1][0])
        which: Any = None if assignee is None else assignee.value
        async with info.context.db() as session:
            try:
                page = await service.review_queue(
                    session,
                    info.context.actor,
                    stage=models.ReviewStage(stage),
                    line=product_line,
                    assignee=which,
                    older_than=older_than,
                    first=first,
                    after=keyset,
                )
            except DomainError as exc:
                raise GraphQLError(exc.message, extensions={"code": exc.code.value}) from exc
        edges = [_edge(e) for e in page.entries]
        return ReviewQueueConnection(
            edges=edges, page_info=page_info([e.cursor for e in edges], page.has_next)
        )


__all__ = ["ReviewAssigneeFilter", "ReviewQueries", "ReviewQueueConnection", "ReviewQueueEdge"]
