"""GraphQL types of loans (a Relay node, its connection, its ledger entries) and payouts."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.context import NEWEST_ENTRIES
from api.ledger.queries import LedgerAccountKind
from api.pagination import encode_keyset, page_info
from api.parties.types import DealApplicant, OrganizationNode, PersonNode
from api.permissions import has_scope
from api.relay import load_node, load_nodes
from api.scalars import MoneyType
from domain.kernel.money import Money
from domain.kernel.scopes import Scope
from domain.ledger.models import AccountKind as DomainAccountKind
from domain.ledger.models import EntryCause as DomainEntryCause
from domain.loans.models import LoanStatus as DomainLoanStatus
from domain.loans.policy import loan_visible
from domain.payouts.models import PayoutState as DomainPayoutState

if TYPE_CHECKING:
    from api.deals.types import DealNode

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


#: A loan's ledger entries shown, newest first (the loader reads as many; the query cost
#: counts as many).
LEDGER_ENTRIES_SHOWN = NEWEST_ENTRIES

LedgerEntryCause = strawberry.enum(
    DomainEntryCause,
    name="LedgerEntryCause",
    description="Why an entry was posted: a disbursement, a repayment, an accrual, a fee, a "
    "penalty, a reversal, a write-off, a recovery or an adjustment.",
)


@strawberry.type(description="One line of a journal entry: a signed amount on one account.")
class LedgerEntryLine:
    number: int = strawberry.field(description="1 for the entry's first line.")
    kind: LedgerAccountKind = strawberry.field(description="The account.")  # type: ignore[valid-type]
    own_account: bool = strawberry.field(
        description="The loan's own account (false for the funder's, e.g. settlement cash)."
    )
    amount: MoneyType = strawberry.field(
        description='Signed: a debit positive, a credit negative (e.g. "-98000.00").'
    )


@strawberry.type(description="A journal entry that posts to a loan's accounts, every line of it.")
class LedgerEntry:
    cause: LedgerEntryCause = strawberry.field(description="Why it was posted.")  # type: ignore[valid-type]
    reference: str = strawberry.field(
        description="Its idempotency reference, e.g. payout:<payout ID> for a disbursement."
    )
    value_date: date = strawberry.field(description="The value date it counts from.")
    posted_at: datetime = strawberry.field(description="When it was posted.")
    memo: str | None = strawberry.field(description="Its memo.")
    is_reversal: bool = strawberry.field(description="Whether it reverses an earlier entry.")
    lines: list[LedgerEntryLine] = strawberry.field(
        description="Its lines in order; they sum to zero."
    )


def entries_of(rows: Sequence[Any], loan_id: uuid.UUID) -> list[LedgerEntry]:
    """Entries from the loader's rows (one per line, grouped by entry, in order)."""
    out: list[LedgerEntry] = []
    current = None
    for r in rows:
        if current is None or r.id != current:
            current = r.id
            out.append(
                LedgerEntry(
                    cause=DomainEntryCause(r.cause),
                    reference=r.idempotency_reference,
                    value_date=r.value_date,
                    posted_at=r.posted_at,
                    memo=r.memo,
                    is_reversal=r.reverses_entry_id is not None,
                    lines=[],
                )
            )
        out[-1].lines.append(
            LedgerEntryLine(
                number=r.line_no,
                kind=DomainAccountKind(r.kind),
                own_account=r.account_loan_id == loan_id,
                amount=MoneyType.of(Money(r.amount_minor, r.currency)),
            )
        )
    return out


@strawberry.type(
    name="Loan",
    description="The loan a deal became once its payout settled: what was lent, from when to "
    "when, its schedule as fixed on the value date, its ledger balances and entries. The "
    "funder's principals (deals:read) and the platform operator only.",
)
class LoanNode(relay.Node):
    id: relay.NodeID[str]
    status: LoanStatus = strawberry.field(description="Where the loan stands.")  # type: ignore[valid-type]
    principal: MoneyType = strawberry.field(description="The amount lent.")
    fee: MoneyType = strawberry.field(description="The origination fee withheld.")
    annual_rate: str = strawberry.field(description='The nominal annual rate, e.g. "0.12".')
    value_date: date = strawberry.field(description="When interest starts.")
    maturity_date: date = strawberry.field(description="The last due date.")
    created_at: datetime = strawberry.field(description="When the loan was opened.")
    # A plain row: the loan's columns and its deal's applicant.
    row: strawberry.Private[Any]

    @classmethod
    def from_row(cls, row: Any) -> LoanNode:
        currency = row.currency
        return cls(
            id=str(row.id),
            status=DomainLoanStatus(row.status),
            principal=MoneyType.of(Money(row.principal_minor, currency)),
            fee=MoneyType.of(Money(row.fee_minor, currency)),
            annual_rate=str(Decimal(row.annual_rate).normalize()),
            value_date=row.value_date,
            maturity_date=row.maturity_date,
            created_at=row.created_at,
            row=row,
        )

    @strawberry.field(description="The instalments, in order.")
    def schedule(self) -> list[LoanInstallment]:
        currency = self.row.currency

        def money(minor: int) -> MoneyType:
            return MoneyType.of(Money(minor, currency))

        return [
            LoanInstallment(
                number=line["number"],
                due_date=date.fromisoformat(line["due_date"]),
                principal=money(line["principal_minor"]),
                interest=money(line["interest_minor"]),
                total=money(line["total_minor"]),
                closing_balance=money(line["closing_balance_minor"]),
            )
            for line in self.row.schedule
        ]

    @strawberry.field(
        description="Each of the loan's ledger accounts' balance (the sums of its lines), in "
        "account kind order."
    )
    async def balances(self, info: Info) -> list[LoanBalance]:
        found = await info.context.loaders.loan_balances.load((self.row.tenant_id, self.row.id))
        return [
            LoanBalance(kind=kind, balance=MoneyType.of(amount)) for kind, amount in found or []
        ]

    @strawberry.field(
        description=f"The journal entries that post to the loan's accounts, newest first (at "
        f"most {LEDGER_ENTRIES_SHOWN}), each with all its lines. Needs ledger:read, as the "
        "trial balance does.",
        permission_classes=[has_scope(Scope.LEDGER_READ)],
    )
    async def ledger_entries(self, info: Info) -> list[LedgerEntry] | None:
        rows = await info.context.loaders.loan_entries.load((self.row.tenant_id, self.row.id))
        return entries_of(rows or [], self.row.id)

    @strawberry.field(description="The deal the loan was disbursed for.")
    async def deal(
        self, info: Info
    ) -> Annotated[DealNode, strawberry.lazy("api.deals.types")] | None:
        from api.deals import types as deal_types  # the deal's module imports this one

        return await load_node(info, deal_types.DealNode, self.row.deal_id)

    @strawberry.field(
        description="Who borrows: the deal's applicant, a person or a company, as its own read "
        "rule shows it."
    )
    async def borrower(self, info: Info) -> DealApplicant | None:
        if self.row.applicant_person_id is not None:
            return await load_node(info, PersonNode, self.row.applicant_person_id)
        return await load_node(info, OrganizationNode, self.row.applicant_organization_id)

    @classmethod
    async def load_by_ids(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[LoanNode | None]:
        return await load_nodes(
            info,
            node_ids,
            loader=lambda loaders: loaders.loans,
            scope=Scope.DEALS_READ,
            to_node=cls.from_row,
            visible=lambda actor, row: loan_visible(actor, row.tenant_id),
        )


@strawberry.type(description="A loan and its cursor in a connection.")
class LoanEdge:
    cursor: str = strawberry.field(description="Opaque keyset cursor of this loan.")
    node: LoanNode = strawberry.field(description="The loan.")


@strawberry.type(description="A page of loans, oldest first.")
class LoanConnection:
    edges: list[LoanEdge] = strawberry.field(description="The loans of this page.")
    page_info: relay.PageInfo = strawberry.field(description="Where this page ends.")


def loan_connection(rows: Sequence[Any], first: int, prefix: str) -> LoanConnection:
    """A connection from up to ``first + 1`` rows (the extra one only says there is more)."""
    edges = [
        LoanEdge(
            cursor=encode_keyset(prefix, r.created_at, r.tenant_id, r.id),
            node=LoanNode.from_row(r),
        )
        for r in rows[:first]
    ]
    return LoanConnection(
        edges=edges, page_info=page_info([e.cursor for e in edges], len(rows) > first)
    )


__all__ = [
    "LEDGER_ENTRIES_SHOWN",
    "LedgerEntry",
    "LoanBalance",
    "LoanConnection",
    "LoanInstallment",
    "LoanNode",
    "LoanStatus",
    "PayoutState",
    "PayoutType",
    "loan_connection",
]
