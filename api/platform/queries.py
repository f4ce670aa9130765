"""Queries of the platform operator: the deals of every funder, to follow them across funders.

The operator's own session already runs in the platform scope (its token's ``platform:admin``
binds ``app.platform``, which row-level security lets see every funder's rows): no wider
session is opened here. The deals are the ``Deal`` type every principal reads; its risk data,
if any, stays behind ``risk_visible``, which the operator never passes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from api.deals.types import DealConnection, DealStatus, deal_connection, with_related
from api.ids import TenantID
from api.pagination import After, First, check_first
from api.permissions import has_scope
from api.products.types import ProductLine, decode_cursor
from domain.deals import service
from domain.kernel.scopes import Scope

PLATFORM_DEALS_CURSOR = "pd"


def _moment(value: datetime | None, name: str) -> datetime | None:
    # A moment without a zone names no instant: refused, as a cursor's would be.
    if value is not None and value.tzinfo is None:
        raise GraphQLError(
            f"{name} needs a time zone offset", extensions={"code": "BAD_USER_INPUT"}
        )
    return value


@strawberry.type
class PlatformQueries:
    @strawberry.field(
        description="The platform operator's view: the deals of every funder, oldest first "
        "(by creation), narrowed by the filters given (all of them apply). Only the "
        "operator (platform:admin with deals:read); FORBIDDEN for everyone else.",
        permission_classes=[has_scope(Scope.PLATFORM_ADMIN), has_scope(Scope.DEALS_READ)],
    )
    async def platform_deals(
        self,
        info: Info,
        *,
        first: First,
        after: After = None,
        funder_id: Annotated[
            TenantID | None,
            strawberry.argument(
                description="Only this funder's deals; a funder that does not exist has none."
            ),
        ] = None,
        product_line: Annotated[
            ProductLine | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only deals of this product line."),
        ] = None,
        status: Annotated[
            list[DealStatus] | None,  # type: ignore[valid-type]
            strawberry.argument(
                description="Only deals in one of these statuses; an empty list matches none."
            ),
        ] = None,
        created_before: Annotated[
            datetime | None,
            strawberry.argument(
                description="Only deals created before this moment (with its offset): the "
                "older ones."
            ),
        ] = None,
        submitted_before: Annotated[
            datetime | None,
            strawberry.argument(
                description="Only deals last submitted before this moment (with its offset); "
                "deals never submitted are left out."
            ),
        ] = None,
    ) -> DealConnection:
        check_first(first)
        keyset = decode_cursor(PLATFORM_DEALS_CURSOR, after)
        created = _moment(created_before, "createdBefore")
        submitted = _moment(submitted_before, "submittedBefore")
        # The scalar has checked the type and the UUID already.
        tenant_id = uuid.UUID(funder_id.node_id) if funder_id is not None else None
        async with info.context.db() as session:
            rows = await service.platform_deals_page(
                session,
                info.context.actor,
                limit=first + 1,
                after=keyset,
                tenant_id=tenant_id,
                product_line=product_line,
                statuses=status,
                created_before=created,
                submitted_before=submitted,
            )
        return await with_related(info, deal_connection(rows, first, PLATFORM_DEALS_CURSOR))
