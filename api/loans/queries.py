"""Queries: the funder's loans."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from api.loans.types import LoanConnection, LoanStatus, loan_connection
from api.pagination import After, First, check_first, decode_keyset
from api.permissions import has_scope
from domain.kernel.actor import Actor
from domain.kernel.scopes import Scope
from domain.loans import repository
from domain.loans.models import LoanStatus as DomainLoanStatus

LOANS_CURSOR = "ln"


@strawberry.type
class LoanQueries:
    @strawberry.field(
        description="The caller's funder's loans, oldest first, each with its borrower, "
        "schedule and balances: the funder's principals with deals:read. Empty for anyone "
        "else (a borrower reads its deals; the operator reads a loan by its ID).",
        permission_classes=[has_scope(Scope.DEALS_READ)],
    )
    async def loans(
        self,
        info: Info,
        *,
        first: First,
        after: After = None,
        status: Annotated[
            LoanStatus | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only loans in this status."),
        ] = None,
    ) -> LoanConnection:
        check_first(first)
        found = decode_keyset(LOANS_CURSOR, after, 2)
        actor: Actor = info.context.actor
        if actor.tenant_id is None:
            return loan_connection([], first, LOANS_CURSOR)
        keyset = None if found is None else (found[0], found[1][0], found[1][1])
        async with info.context.db() as session:
            rows = await repository.loans_page(
                session,
                tenant_id=actor.tenant_id,
                limit=first + 1,
                after=keyset,
                status=None if status is None else DomainLoanStatus(status),
            )
        return loan_connection(rows, first, LOANS_CURSOR)
