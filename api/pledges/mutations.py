"""Mutations on pledges: the warehouse confirms custody under a receipt's registered pledge;
the funder releases a pledge once its loan is settled."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.deals.inputs import deal_id
from api.errors import UserError, run_use_case
from api.ids import DealID, WarehouseReceiptID
from api.permissions import has_scope
from api.pledges.types import PledgeType
from api.relay import id_of, required
from domain.kernel.scopes import Scope
from domain.pledges import service


@strawberry.input(description="The receipt whose registered pledge the warehouse confirms.")
class ConfirmPledgeCustodyInput:
    warehouse_receipt_id: WarehouseReceiptID = strawberry.field(
        description="The pledged receipt, of your warehouse."
    )


@strawberry.type(description="Result of confirmPledgeCustody.")
class ConfirmPledgeCustodyPayload:
    pledge: PledgeType | None = strawberry.field(description="The pledge, CUSTODY_CONFIRMED.")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.input(description="A deal's pledge of a receipt to release.")
class ReleasePledgeInput:
    deal_id: DealID = strawberry.field(description="The deal the receipt is pledged to.")
    warehouse_receipt_id: WarehouseReceiptID = strawberry.field(description="The pledged receipt.")


@strawberry.type(description="Result of releasePledge.")
class ReleasePledgePayload:
    pledge: PledgeType | None = strawberry.field(description="The pledge, RELEASED.")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type
class PledgeMutations:
    @strawberry.mutation(
        description="Confirm that your warehouse holds the goods of a receipt under its "
        "registered pledge and releases them only on the funder's word (a warehouse user: "
        "collateral:write): REGISTERED -> CUSTODY_CONFIRMED. Refused with "
        "PLEDGE_NOT_REGISTERED while the registry has not filed it.",
        permission_classes=[has_scope(Scope.COLLATERAL_WRITE)],
    )
    async def confirm_pledge_custody(
        self, info: Info, input: ConfirmPledgeCustodyInput
    ) -> ConfirmPledgeCustodyPayload:
        async with info.context.db() as session:
            pledge, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.confirm_custody(
                    s,
                    a,
                    receipt_id=required(
                        id_of(input.warehouse_receipt_id, "WarehouseReceipt", "warehouseReceiptId")
                    ),
                ),
            )
        return ConfirmPledgeCustodyPayload(
            pledge=PledgeType.from_row(pledge) if pledge is not None else None,
            user_errors=errors,
        )

    @strawberry.mutation(
        description="Release a deal's pledge of a receipt (finance officers: loans:disburse), "
        "once its loan is SETTLED or the deal ended without a loan (PLEDGE_NOT_RELEASABLE "
        "otherwise): the receipt is unlocked.",
        permission_classes=[has_scope(Scope.LOANS_DISBURSE)],
    )
    async def release_pledge(self, info: Info, input: ReleasePledgeInput) -> ReleasePledgePayload:
        async with info.context.db() as session:
            pledge, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.release_pledge(
                    s,
                    a,
                    deal_id=deal_id(input.deal_id, "dealId"),
                    receipt_id=required(
                        id_of(input.warehouse_receipt_id, "WarehouseReceipt", "warehouseReceiptId")
                    ),
                ),
            )
        return ReleasePledgePayload(
            pledge=PledgeType.from_row(pledge) if pledge is not None else None,
            user_errors=errors,
        )
