"""Queries: a funder's deals, and the deals of an applicant or a partner app's channel."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from api.deals.types import DealConnection, DealStatus, deal_connection, with_related
from api.pagination import After, First
from api.permissions import has_scope
from api.products.types import ProductLine, check_first, decode_cursor
from domain.deals import repository
from domain.kernel.actor import Actor
from domain.kernel.scopes import Scope

DEALS_CURSOR = "dl"
MY_DEALS_CURSOR = "md"


@strawberry.type
class DealQueries:
    @strawberry.field(
        description="The caller's funder's deals in every status and channel, oldest first "
        "(every funder's for the operator).",
        permission_classes=[has_scope(Scope.DEALS_READ)],
    )
    async def deals(
        self,
        info: Info,
        *,
        first: First,
        after: After = None,
        status: Annotated[
            DealStatus | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only deals in this status."),
        ] = None,
        product_line: Annotated[
            ProductLine | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only deals of this product line."),
        ] = None,
    ) -> DealConnection:
        check_first(first)
        keyset = decode_cursor(DEALS_CURSOR, after)
        actor: Actor = info.context.actor
        if not actor.is_platform and actor.tenant_id is None:
            return deal_connection([], first, DEALS_CURSOR)
        async with info.context.db() as session:
            rows = await repository.funder_deals_page(
                session,
                tenant_id=None if actor.is_platform else actor.tenant_id,
                limit=first + 1,
                after=keyset,
                status=status,
                product_line=product_line,
            )
        return await with_related(info, deal_connection(rows, first, DEALS_CURSOR))

    @strawberry.field(
        description="Your own applications, oldest first: a borrower's (as a person or its "
        "company), a partner app's (those of its channel) or a funder app's (those it applied "
        "for).",
        permission_classes=[has_scope(Scope.DEALS_READ)],
    )
    async def my_deals(
        self,
        info: Info,
        *,
        first: First,
        after: After = None,
        status: Annotated[
            DealStatus | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only deals in this status."),
        ] = None,
    ) -> DealConnection:
        check_first(first)
        keyset = decode_cursor(MY_DEALS_CURSOR, after)
        actor: Actor = info.context.actor
        async with info.context.db() as session:
            if actor.tenant_id is not None:
                if actor.client_id is None:
                    return deal_connection([], first, MY_DEALS_CURSOR)
                rows = await repository.app_deals_page(
                    session,
                    tenant_id=actor.tenant_id,
                    channel_client_id=actor.client_id,
                    limit=first + 1,
                    after=keyset,
                    status=status,
                )
            else:
                app = actor.user_id is None  # a client acting for itself: a partner app
                rows = await repository.own_deals_page(
                    session,
                    person_id=actor.person_id,
                    organization_id=actor.organization_id,
                    channel_client_id=actor.client_id if app else None,
                    limit=first + 1,
                    after=keyset,
                    status=status,
                )
        return await with_related(info, deal_connection(rows, first, MY_DEALS_CURSOR))
