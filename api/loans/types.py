"""GraphQL types of loans and payouts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry

from api.ledger.queries import LedgerAccountKind
from api.scalars import MoneyType
from domain.kernel.money import Money
from domain.ledger.models import AccountKind as DomainAccountKind
from domain.loans.models import LoanStatus as DomainLoanStatus
from domain.payouts.models import PayoutState as DomainPayoutState

LoanStatus = strawberry.enum(
    DomainLoanStatus, name="LoanStatus", description="Where a loan stands."
)
PayoutState = strawberry.enum(
    DomainPayoutState,
    name="PayoutState",
    description="REQUESTED (the payment rail has not accepted it yet), SENT (accepted, not "
    "settled), SETTLED (the money reached the borrower) or FAILED (nothing was paid).",
)


@strawberry.type(name="Payout", description="A payout of a deal's loan over the payment rail.")
class PayoutType:
    state: PayoutState = strawberry.field(description="How far the payout got.")  # type: ignore[valid-type]
    amount: MoneyType = strawberry.field(description="The amount lent.")
    fee: MoneyType = strawberry.field(
        description="The origination fee withheld from the amount paid out."
    )
    net_amount: MoneyType = strawberry.field(description="What the rail pays the borrower.")
    value_date: date | None = strawberry.field(
        description="The loan's value date as asked; the settlement day when null."
    )
    failure_reason: str | None = strawberry.field(
        description="The rail's reason, for a FAILED payout."
    )
    created_at: datetime = strawberry.field(description="When the disbursement was asked for.")
    settled_at: datetime | None = strawberry.field(description="When the money arrived.")

    @classmethod
    def from_row(cls, row: Any) -> PayoutType:
        def money(minor: int) -> MoneyType:
            return MoneyType.of(Money(minor, row.currency))

        return cls(
            state=DomainPayoutState(row.state),
            amount=money(row.amount_minor),
            fee=money(row.fee_minor),
            net_amount=money(row.net_minor),
            value_date=row.value_date,
            failure_reason=row.failure_reason,
            created_at=row.created_at,
            settled_at=row.settled_at,
        )


@strawberry.type(description="One line of a loan's fixed repayment schedule.")
class LoanInstallment:
    number: int = strawberry.field(description="1 for the first instalment.")
    due_date: date = strawberry.field(description="When it is due (a working day).")
    principal: MoneyType = strawberry.field(description="Principal repaid.")
    interest: MoneyType = strawberry.field(description="Interest of the period.")
    total: MoneyType = strawberry.field(description="principal + interest.")
    closing_balance: MoneyType = strawberry.field(description="Principal left after it.")


@strawberry.type(description="One of a loan's ledger accounts and its balance.")
class LoanBalance:
    kind: LedgerAccountKind = strawberry.field(description="The account.")  # type: ignore[valid-type]
    balance: MoneyType = strawberry.field(description="Its balance on its normal side.")


@strawberry.type(
    name="Loan",
    description="The loan a deal became once its payout settled: what was lent, from when to "
    "when, its schedule as fixed on the value date, and its ledger balances.",
)
class LoanType:
    status: LoanStatus = strawberry.field(description="Where the loan stands.")  # type: ignore[valid-type]
    principal: MoneyType = strawberry.field(description="The amount lent.")
    fee: MoneyType = strawberry.field(description="The origination fee withheld.")
    annual_rate: str = strawberry.field(description='The nominal annual rate, e.g. "0.12".')
    value_date: date = strawberry.field(description="When interest starts.")
    maturity_date: date = strawberry.field(description="The last due date.")
    schedule: list[LoanInstallment] = strawberry.field(description="The instalments, in order.")
    balances: list[LoanBalance] = strawberry.field(
        description="Each of the loan's ledger accounts' balance (the sums of its lines)."
    )

    @classmethod
    def from_row(cls, row: Any, balances: dict[DomainAccountKind, Money]) -> LoanType:
        def money(minor: int) -> MoneyType:
            return MoneyType.of(Money(minor, row.currency))

        return cls(
            status=DomainLoanStatus(row.status),
            principal=money(row.principal_minor),
            fee=money(row.fee_minor),
            annual_rate=str(Decimal(row.annual_rate).normalize()),
            value_date=row.value_date,
            maturity_date=row.maturity_date,
            schedule=[
                LoanInstallment(
                    number=line["number"],
                    due_date=date.fromisoformat(line["due_date"]),
                    principal=money(line["principal_minor"]),
                    interest=money(line["interest_minor"]),
                    total=money(line["total_minor"]),
                    closing_balance=money(line["closing_balance_minor"]),
                )
                for line in row.schedule
            ],
            balances=[
                LoanBalance(kind=kind, balance=MoneyType.of(amount))
                for kind, amount in sorted(balances.items(), key=lambda kv: kv[0].value)
            ],
        )


__all__ = ["LoanBalance", "LoanInstallment", "LoanStatus", "LoanType", "PayoutState", "PayoutType"]
