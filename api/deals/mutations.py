"""Mutations on deals: apply (createDeal), edit, submit and withdraw an application. Applying
and submitting take an idempotency key (``api.idempotency``)."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from api.deals.inputs import (
    CreateDealInput,
    CreateDealPayload,
    SubmitDealInput,
    SubmitDealPayload,
    UpdateDealInput,
    UpdateDealPayload,
    WithdrawDealInput,
    WithdrawDealPayload,
    applicant_ids,
    deal_id,
    receipt_ids,
)
from api.deals.types import DealNode
from api.errors import run_use_case
from api.idempotency import idempotent
from api.permissions import has_scope
from api.relay import id_of
from domain.deals import service
from domain.deals.service import DealOutcome
from domain.kernel.actor import Actor
from domain.kernel.scopes import Scope


def _node(outcome: DealOutcome | None) -> DealNode | None:
    return DealNode.from_row(outcome.deal) if outcome is not None else None


async def _create(session: AsyncSession, actor: Actor, input: CreateDealInput) -> DealOutcome:
    person, organization = applicant_ids(input.applicant_id)
    product = id_of(input.product_id, "Product", "productId")
    assert product is not None  # a non-null argument
    return await service.create_deal(
        session,
        actor,
        product_id=product,
        amount=input.amount.to_money("amount"),
        term=input.term,
        purpose=input.purpose,
        applicant_person_id=person,
        applicant_organization_id=organization,
        consent=input.consent.to_domain() if input.consent is not None else None,
        purchase_order_id=id_of(input.purchase_order_id, "PurchaseOrder", "purchaseOrderId"),
        warehouse_receipt_ids=receipt_ids(input.warehouse_receipt_ids) or [],
        monthly_income=input.monthly_income.to_money("monthlyIncome")
        if input.monthly_income is not None
        else None,
        liveness_session=input.liveness_session,
    )


async def _update(session: AsyncSession, actor: Actor, input: UpdateDealInput) -> DealOutcome:
    return await service.update_deal(
        session,
        actor,
        deal_id=deal_id(input.id),
        amount=input.amount.to_money("amount") if input.amount is not None else None,
        term=input.term,
        purpose=input.purpose,
        consent=input.consent.to_domain() if input.consent is not None else None,
        purchase_order_id=id_of(input.purchase_order_id, "PurchaseOrder", "purchaseOrderId"),
        warehouse_receipt_ids=receipt_ids(input.warehouse_receipt_ids),
        monthly_income=input.monthly_income.to_money("monthlyIncome")
        if input.monthly_income is not None
        else None,
        liveness_session=input.liveness_session,
    )


@strawberry.type
class DealMutations:
    @strawberry.mutation(
        description="Apply for a product: a DRAFT deal pinned to the product's current "
        "version, with the applicant, the loan request and (optional until submission) the "
        "credit consent and the collateral. Applicants apply for themselves; partner apps and "
        "the funder's own app name the applicant.",
        permission_classes=[has_scope(Scope.DEALS_APPLY)],
    )
    async def create_deal(self, info: Info, input: CreateDealInput) -> CreateDealPayload:
        async with info.context.db() as session:
            outcome, errors = await run_use_case(
                session,
                info.context.actor,
                idempotent(info, input, lambda s, a: _create(s, a, input)),
            )
        return CreateDealPayload(deal=_node(outcome), user_errors=errors)

    @strawberry.mutation(
        description="Edit a DRAFT or RETURNED application (the applicant's side only).",
        permission_classes=[has_scope(Scope.DEALS_APPLY)],
    )
    async def update_deal(self, info: Info, input: UpdateDealInput) -> UpdateDealPayload:
        async with info.context.db() as session:
            outcome, errors = await run_use_case(
                session, info.context.actor, lambda s, a: _update(s, a, input)
            )
        return UpdateDealPayload(deal=_node(outcome), user_errors=errors)

    @strawberry.mutation(
        description="Submit a DRAFT or RETURNED application: every rule of its product version "
        "and line is checked (each broken rule is one userError with its own code) and its "
        "collateral is claimed, so an order or a receipt backs at most one live deal. A "
        "refused submission changes nothing.",
        permission_classes=[has_scope(Scope.DEALS_APPLY)],
    )
    async def submit_deal(self, info: Info, input: SubmitDealInput) -> SubmitDealPayload:
        cipher = info.context.state.cipher
        async with info.context.db() as session:
            outcome, errors = await run_use_case(
                session,
                info.context.actor,
                idempotent(
                    info,
                    input,
                    lambda s, a: service.submit_deal(s, a, cipher, deal_id=deal_id(input.id)),
                ),
            )
        return SubmitDealPayload(deal=_node(outcome), user_errors=errors)

    @strawberry.mutation(
        description="Withdraw an application, from any state before SIGNED; its claims on "
        "purchase orders and warehouse receipts are released.",
        permission_classes=[has_scope(Scope.DEALS_APPLY)],
    )
    async def withdraw_deal(self, info: Info, input: WithdrawDealInput) -> WithdrawDealPayload:
        async with info.context.db() as session:
            outcome, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.withdraw_deal(
                    s, a, deal_id=deal_id(input.id), reason=input.reason
                ),
            )
        return WithdrawDealPayload(deal=_node(outcome), user_errors=errors)
