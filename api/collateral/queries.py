"""Queries: the purchase orders and warehouse receipts of the caller's organization."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from api.collateral.types import (
    PurchaseOrderConnection,
    PurchaseOrderStatus,
    WarehouseReceiptConnection,
    WarehouseReceiptStatus,
    check_first,
    decode_cursor,
    order_connection,
    receipt_connection,
)
from api.pagination import After, First
from api.permissions import has_scope
from domain.collateral import repository
from domain.kernel.actor import Actor
from domain.kernel.scopes import Scope

ORDERS_CURSOR = "po"
RECEIPTS_CURSOR = "wr"


@strawberry.type
class CollateralQueries:
    @strawberry.field(
        description="Purchase orders your organization sells, buys or submitted, oldest "
        "first (every order for the operator).",
        permission_classes=[has_scope(Scope.COLLATERAL_READ)],
    )
    async def my_purchase_orders(
        self,
        info: Info,
        first: First,
        after: After = None,
        status: Annotated[
            PurchaseOrderStatus | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only orders in this status."),
        ] = None,
    ) -> PurchaseOrderConnection:
        check_first(first)
        keyset = decode_cursor(ORDERS_CURSOR, after)
        actor: Actor = info.context.actor
        if actor.organization_id is None and not actor.is_platform:
            return order_connection([], first, ORDERS_CURSOR)
        async with info.context.db() as session:
            rows = await repository.purchase_orders_page(
                session,
                organization_id=actor.organization_id,
                limit=first + 1,
                after=keyset,
                status=status,
            )
        return order_connection(rows, first, ORDERS_CURSOR)

    @strawberry.field(
        description="Warehouse receipts your organization issued (as the warehouse) or owns, "
        "oldest first (every receipt for the operator).",
        permission_classes=[has_scope(Scope.COLLATERAL_READ)],
    )
    async def my_warehouse_receipts(
        self,
        info: Info,
        first: First,
        after: After = None,
        status: Annotated[
            WarehouseReceiptStatus | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only receipts in this status."),
        ] = None,
    ) -> WarehouseReceiptConnection:
        check_first(first)
        keyset = decode_cursor(RECEIPTS_CURSOR, after)
        actor: Actor = info.context.actor
        if actor.organization_id is None and not actor.is_platform:
            return receipt_connection([], first, RECEIPTS_CURSOR)
        async with info.context.db() as session:
            rows = await repository.receipts_page(
                session,
                organization_id=actor.organization_id,
                limit=first + 1,
                after=keyset,
                status=status,
            )
        return receipt_connection(rows, first, RECEIPTS_CURSOR)
