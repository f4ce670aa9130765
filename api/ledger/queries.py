"""The funder's books over GraphQL: the trial balance (funder admins and finance officers of
the funder; the platform operator for any funder)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from api.ids import TenantID
from api.permissions import has_scope
from api.scalars import MoneyType
from domain.kernel.errors import DomainError
from domain.kernel.scopes import Scope
from domain.ledger import models, service

LedgerAccountKind = strawberry.enum(
    models.AccountKind,
    name="LedgerAccountKind",
    description="An account of the chart: receivables, income, settlement cash, suspense, "
    "borrower credit, write-off expense, recovery income.",
)


@strawberry.type(
    description="One account kind's debits, credits and balance on its normal side, summed "
    "over its accounts (every loan's principal receivable together, for one)."
)
class TrialBalanceLine:
    kind: LedgerAccountKind = strawberry.field(description="The account kind.")  # type: ignore[valid-type]
    debits: MoneyType = strawberry.field(description="Every debit to it.")
    credits: MoneyType = strawberry.field(description="Every credit to it.")
    balance: MoneyType = strawberry.field(
        description="Debits minus credits for a debit-normal account, the reverse otherwise."
    )


@strawberry.type(description="A funder's trial balance in one currency, as of a value date.")
class TrialBalance:
    currency: str = strawberry.field(description="ISO 4217 code.")
    as_of: date | None = strawberry.field(description="The value date; null for every entry.")
    total_debits: MoneyType = strawberry.field(description="Sum of every debit.")
    total_credits: MoneyType = strawberry.field(description="Sum of every credit.")
    balanced: bool = strawberry.field(description="Debits equal credits.")
    lines: list[TrialBalanceLine] = strawberry.field(description="By account kind.")

    @classmethod
    def of(cls, found: service.TrialBalance) -> TrialBalance:
        return cls(
            currency=found.currency,
            as_of=found.as_of,
            total_debits=MoneyType.of(found.total_debits),
            total_credits=MoneyType.of(found.total_credits),
            balanced=found.balanced,
            lines=[
                TrialBalanceLine(
                    kind=k.kind,
                    debits=MoneyType.of(k.debits),
                    credits=MoneyType.of(k.credits),
                    balance=MoneyType.of(k.balance),
                )
                for k in service.totals_by_kind(found)
            ],
        )


@strawberry.type
class LedgerQueries:
    @strawberry.field(
        description="The funder's trial balance, one per currency: a funder's staff with "
        "ledger:read read their own funder's (funderId omitted); the platform operator names "
        "the funder. Another funder's, or an unknown one, reads as no books ([]).",
        permission_classes=[has_scope(Scope.LEDGER_READ)],
    )
    async def trial_balance(
        self,
        info: Info,
        funder_id: Annotated[
            TenantID | None,
            strawberry.argument(description="Whose books (the operator names one)."),
        ] = None,
        as_of: Annotated[
            date | None,
            strawberry.argument(description="Entries with a value date up to this day."),
        ] = None,
    ) -> list[TrialBalance]:
        # The scalar admits only a Tenant's well-formed ID.
        tenant_id = uuid.UUID(funder_id.node_id) if funder_id is not None else None
        async with info.context.db() as session:
            try:
                found = await service.trial_balance_of(
                    session, info.context.actor, tenant_id=tenant_id, as_of=as_of
                )
            except DomainError as exc:
                raise GraphQLError(
                    f"{exc.field}: {exc.message}", extensions={"code": "BAD_USER_INPUT"}
                ) from exc
        return [TrialBalance.of(t) for t in found]
