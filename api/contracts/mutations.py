"""Mutations on contracts: prepare an approved deal's contract; send it for e-signature."""

from __future__ import annotations

import functools
from datetime import date

import strawberry
from strawberry.types import Info

from api.contracts.types import ContractType
from api.deals.inputs import deal_id
from api.deals.types import DealNode
from api.errors import UserError, run_use_case
from api.ids import DealID
from api.permissions import has_scope
from domain.contracts import service
from domain.contracts.rendering import ContractRenderer
from domain.kernel.scopes import Scope
from integrations.documents import FpdfContractRenderer


@functools.cache
def contract_renderer() -> ContractRenderer:
    """The process's renderer (it holds only the font paths; fonts load per rendering)."""
    return FpdfContractRenderer()


@strawberry.input(description="An approved deal whose contract to prepare.")
class PrepareContractInput:
    deal_id: DealID = strawberry.field(description="The deal, APPROVED.")
    value_date: date | None = strawberry.field(
        default=None,
        description="When the loan starts to accrue, which the schedule runs from: today in "
        "the funder's time zone when omitted; not before today.",
    )


@strawberry.type(description="Result of prepareContract.")
class PrepareContractPayload:
    contract: ContractType | None = strawberry.field(
        description="The deal's current contract: the version just written, or the one "
        "already written from the same terms."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.input(
    description="A deal whose contract to send for signing: an approved deal's prepared "
    "contract, or a signing deal's declined or failed one, sent again."
)
class SendContractForSigningInput:
    deal_id: DealID = strawberry.field(
        description="The deal: APPROVED with a DRAFT contract, or SIGNING with a DECLINED or "
        "FAILED one."
    )


@strawberry.type(description="Result of sendContractForSigning.")
class SendContractForSigningPayload:
    deal: DealNode | None = strawberry.field(description="The deal, SIGNING.")
    contract: ContractType | None = strawberry.field(
        description="The contract, now SENT (again, after a resend), its signers in signing "
        "order, all PENDING."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type
class ContractMutations:
    @strawberry.mutation(
        description="Write the contract of an APPROVED deal of your funder from its approved "
        "terms (parties, amount, rate, term, schedule from the value date, fee, penalties; the "
        "core enterprise for order financing, the pledged receipts for a pledge), rendered to "
        "PDF and stored with its SHA-256. The same terms return the current version; changed "
        "terms void it and write the next version. INVALID_TRANSITION for a deal that is not "
        "APPROVED or whose approval has lapsed.",
        permission_classes=[has_scope(Scope.CONTRACTS_WRITE)],
    )
    async def prepare_contract(
        self, info: Info, input: PrepareContractInput
    ) -> PrepareContractPayload:
        state = info.context.state
        async with info.context.db() as session:
            outcome, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.prepare_contract(
                    s,
                    a,
                    deal_id=deal_id(input.deal_id, "dealId"),
                    renderer=contract_renderer(),
                    store=state.storage,
                    cipher=state.cipher,
                    value_date=input.value_date,
                ),
            )
        return PrepareContractPayload(
            contract=None if outcome is None else ContractType.from_row(outcome.contract),
            user_errors=errors,
        )

    @strawberry.mutation(
        description="Send the prepared contract of an APPROVED deal of your funder for "
        "e-signature: the contract SENT with its signers in order (the borrower, the core "
        "enterprise for order financing, the funder), the deal SIGNING. The envelope is "
        "created in the background; the deal is SIGNED when every signature is in. "
        "Sending again: when a signer declined (contract DECLINED) or the envelope could not "
        "be created (contract FAILED), the deal stays SIGNING and this sends the same "
        "contract version (the same terms and document) again in a new envelope, at most 3 "
        "times; every signer signs afresh, and events of the earlier envelope no longer "
        "count. Changed terms are not sent this way: withdraw the deal and apply again. "
        "The deal must be signed by its approval's expiry (the product's approval window): "
        "past it the deal expires and its envelope is voided. "
        "INVALID_TRANSITION for a deal in another status, or a contract out for signature or "
        "final; NOT_FOUND for a deal without a contract; RESEND_LIMIT_REACHED after 3 "
        "resends; SIGNING_DEADLINE_PASSED once the approval has lapsed.",
        permission_classes=[has_scope(Scope.CONTRACTS_WRITE)],
    )
    async def send_contract_for_signing(
        self, info: Info, input: SendContractForSigningInput
    ) -> SendContractForSigningPayload:
        async with info.context.db() as session:
            outcome, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.send_for_signing(
                    s, a, deal_id=deal_id(input.deal_id, "dealId")
                ),
            )
        return SendContractForSigningPayload(
            deal=None if outcome is None else DealNode.from_row(outcome.deal),
            contract=None if outcome is None else ContractType.from_row(outcome.contract),
            user_errors=errors,
        )


__all__ = [
    "ContractMutations",
    "PrepareContractInput",
    "PrepareContractPayload",
    "SendContractForSigningInput",
    "SendContractForSigningPayload",
]
