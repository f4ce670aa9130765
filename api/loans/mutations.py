"""The disburse mutation: pay out a SIGNED deal's loan over the payment rail. It takes an
idempotency key, required: a money-moving mutation is never sent without one."""

from __future__ import annotations

from datetime import date

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from api.deals.inputs import deal_id
from api.deals.types import DealNode
from api.errors import UserError, run_use_case
from api.idempotency import idempotent
from api.ids import DealID
from api.loans.types import PayoutType
from api.permissions import has_scope
from api.scalars import MoneyInput
from domain.kernel.actor import Actor
from domain.kernel.crypto import PersonalDataCipher
from domain.kernel.scopes import Scope
from domain.payouts import service
from domain.payouts.service import DisburseOutcome


@strawberry.input(description="The borrower's account the loan is paid into.")
class BeneficiaryInput:
    name: str = strawberry.field(description="The account holder's name as the bank knows it.")
    account_number: str = strawberry.field(description="The account number (digits).")
    bank_code: str = strawberry.field(description="The bank's clearing code (CNAPS, 12 digits).")


@strawberry.input(description="A disbursement of a SIGNED deal.")
class DisburseInput:
    deal_id: DealID = strawberry.field(description="The deal, SIGNED.")
    idempotency_key: str = strawberry.field(
        description="Required (1-200 printable ASCII characters): the key names this "
        "disbursement for good. The same key and request gets the first answer (and the same "
        "payout); the key with another request is refused with IDEMPOTENCY_KEY_REUSED."
    )
    beneficiary: BeneficiaryInput = strawberry.field(
        description="The borrower's account, as the signed contract names it."
    )
    value_date: date | None = strawberry.field(
        default=None,
        description="The loan's value date; the day the payout settles, in the funder's time "
        "zone, when omitted.",
    )
    amount: MoneyInput | None = strawberry.field(
        default=None,
        description="The amount approved, to confirm it (refused when it is another); the "
        "amount approved when omitted.",
    )


@strawberry.type(description="Result of disburse.")
class DisbursePayload:
    deal: DealNode | None = strawberry.field(description="The deal, DISBURSING.")
    payout: PayoutType | None = strawberry.field(description="The payout requested.")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused.")


async def _disburse(
    session: AsyncSession, actor: Actor, cipher: PersonalDataCipher, input: DisburseInput
) -> DisburseOutcome:
    return await service.disburse(
        session,
        actor,
        cipher,
        deal_id=deal_id(input.deal_id, "dealId"),
        idempotency_key=input.idempotency_key,
        beneficiary=service.BeneficiaryInput(
            name=input.beneficiary.name,
            account_number=input.beneficiary.account_number,
            bank_code=input.beneficiary.bank_code,
        ),
        value_date=input.value_date,
        amount=input.amount.to_money("amount") if input.amount is not None else None,
    )


@strawberry.type
class LoanMutations:
    @strawberry.mutation(
        description="Disburse a SIGNED deal of your funder (finance officers: loans:disburse; "
        "not the person who approved its second review): the amount approved, less the "
        "product's origination fee, is paid out over the payment rail and the deal becomes "
        "DISBURSING. When the rail settles it the loan is created ACTIVE with its schedule "
        "fixed from the value date and the ledger posts the disbursement; when it fails the "
        "deal is SIGNED again and nothing is posted.",
        permission_classes=[has_scope(Scope.LOANS_DISBURSE)],
    )
    async def disburse(self, info: Info, input: DisburseInput) -> DisbursePayload:
        cipher = info.context.state.cipher
        async with info.context.db() as session:
            outcome, errors = await run_use_case(
                session,
                info.context.actor,
                idempotent(info, input, lambda s, a: _disburse(s, a, cipher, input)),
            )
        return DisbursePayload(
            deal=DealNode.from_row(outcome.deal) if outcome is not None else None,
            payout=PayoutType.from_row(outcome.payout) if outcome is not None else None,
            user_errors=errors,
        )
