"""Queries: a funder's own products, the marketplace across funders, and quotes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from api.errors import run_use_case, to_user_errors
from api.ids import ProductID
from api.pagination import After, First
from api.permissions import has_scope
from api.products.types import (
    ProductConnection,
    ProductLine,
    ProductStatus,
    Quote,
    QuotePayload,
    TermUnit,
    check_first,
    connection,
    decode_cursor,
    with_related,
)
from api.relay import id_of
from api.scalars import MoneyInput
from domain.kernel.actor import Actor
from domain.kernel.clock import utcnow
from domain.kernel.errors import DomainError
from domain.kernel.scopes import Scope
from domain.products import models, repository, service

MARKETPLACE_CURSOR = "mk"
PRODUCTS_CURSOR = "pr"


#: marketplace:read (partner apps, borrowers) or products:read (the funder's staff).
MarketplaceOrProductsRead = has_scope(Scope.MARKETPLACE_READ, Scope.PRODUCTS_READ)


async def _funder_today(info: Info, product_id: Any) -> date:
    """Today in the funder's time zone (UTC when the product is not visible: the use case
    then refuses it anyway)."""
    found = await info.context.loaders.products.load(product_id) if product_id else None
    tenant = await info.context.loaders.tenants.load(found.product.tenant_id) if found else None
    zone = ZoneInfo(tenant.time_zone) if tenant is not None else ZoneInfo("UTC")
    return utcnow().astimezone(zone).date()


@strawberry.type
class ProductQueries:
    @strawberry.field(
        description="The caller's funder's own products in every status, oldest first "
        "(every funder's for the operator).",
        permission_classes=[has_scope(Scope.PRODUCTS_READ)],
    )
    async def products(
        self,
        info: Info,
        *,
        first: First,
        after: After = None,
        status: Annotated[
            ProductStatus | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only products in this status."),
        ] = None,
    ) -> ProductConnection:
        check_first(first)
        keyset = decode_cursor(PRODUCTS_CURSOR, after)
        actor: Actor = info.context.actor
        if not actor.is_platform and actor.tenant_id is None:
            return connection([], first, PRODUCTS_CURSOR, marketplace=False)
        async with info.context.db() as session:
            rows = await repository.tenant_products_page(
                session,
                tenant_id=None if actor.is_platform else actor.tenant_id,
                limit=first + 1,
                after=keyset,
                status=status,
            )
        return await with_related(info, connection(rows, first, PRODUCTS_CURSOR, marketplace=False))

    @strawberry.field(
        description="PUBLISHED products of every active funder, in order of publication; "
        "never drafts or retired products.",
        permission_classes=[has_scope(Scope.MARKETPLACE_READ)],
    )
    async def marketplace(
        self,
        info: Info,
        *,
        first: First,
        after: After = None,
        product_line: Annotated[
            ProductLine | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only this product line."),
        ] = None,
        amount: Annotated[
            MoneyInput | None,
            strawberry.argument(description="Only products lending this amount."),
        ] = None,
        term: Annotated[
            int | None, strawberry.argument(description="Only products offering this term.")
        ] = None,
        term_unit: Annotated[
            TermUnit,  # type: ignore[valid-type]
            strawberry.argument(description="The unit of term (months unless DAY)."),
        ] = models.TermUnit.MONTH,
    ) -> ProductConnection:
        check_first(first)
        keyset = decode_cursor(MARKETPLACE_CURSOR, after)
        money = None
        if amount is not None:
            try:
                money = amount.to_money("amount")
            except DomainError as exc:
                raise GraphQLError(
                    f"amount: {exc.message}", extensions={"code": "BAD_USER_INPUT"}
                ) from exc
        async with info.context.db() as session:
            rows = await repository.marketplace_page(
                session,
                limit=first + 1,
                after=keyset,
                product_line=product_line,
                amount=money,
                term=term,
                term_unit=term_unit,
            )
        return await with_related(
            info, connection(rows, first, MARKETPLACE_CURSOR, marketplace=True)
        )

    @strawberry.field(
        description="Price an amount over a term under a product's current version: the "
        "schedule preview, fees, total cost of credit and APR. Query cost 50 (the schedule "
        "and its instalments included), plus 1 for the product if selected.",
        permission_classes=[MarketplaceOrProductsRead],
    )
    async def quote(
        self,
        info: Info,
        *,
        product_id: Annotated[ProductID, strawberry.argument(description="The product.")],
        amount: Annotated[MoneyInput, strawberry.argument(description="The amount to borrow.")],
        term: Annotated[int, strawberry.argument(description="The term, in the product's unit.")],
        start_date: Annotated[
            date | None,
            strawberry.argument(
                description="Value date; today in the funder's time zone when omitted."
            ),
        ] = None,
    ) -> QuotePayload:
        try:
            pid = id_of(product_id, "Product", "productId")
            money = amount.to_money("amount")
        except DomainError as exc:
            return QuotePayload(quote=None, user_errors=to_user_errors(exc))
        assert pid is not None
        start = start_date or await _funder_today(info, pid)
        async with info.context.db() as session:
            quoted, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.quote_product(
                    s, a, product_id=pid, amount=money, term=term, start_date=start
                ),
            )
        return QuotePayload(quote=Quote.of(quoted) if quoted else None, user_errors=errors)
