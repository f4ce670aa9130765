"""Use cases of loans: open the loan of a settled payout (its schedule fixed from the value
date, its ledger accounts opened and the disbursement posted), and read a deal's loan.

Opening a loan runs inside the transaction that applies the rail's settlement (the platform
scope of the webhook inbox); it flushes and never commits."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.calendars import service as calendars
from domain.deals import repository as deals_repository
from domain.deals.models import Deal
from domain.kernel.actor import SYSTEM
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.money import Money
from domain.ledger import service as ledger
from domain.ledger.models import AccountKind, EntryCause, JournalEntry
from domain.ledger.policy import AccountRef, Posting
from domain.loans import repository
from domain.loans.models import Loan, LoanStatus
from domain.loans.policy import Installment, Schedule, build_schedule
from domain.persistence.base import new_id
from domain.products import policy as product_policy
from domain.products import repository as products


def schedule_lines(schedule: Schedule) -> list[dict[str, Any]]:
    """The schedule's lines as the loan keeps them: dates in ISO form, amounts in minor
    units."""

    def line(i: Installment) -> dict[str, Any]:
        return {
            "number": i.number,
            "due_date": i.due_date.isoformat(),
            "period_start": i.period_start.isoformat(),
            "period_end": i.period_end.isoformat(),
            "principal_minor": i.principal.amount_minor,
            "interest_minor": i.interest.amount_minor,
            "total_minor": i.total.amount_minor,
            "opening_balance_minor": i.opening_balance.amount_minor,
            "closing_balance_minor": i.closing_balance.amount_minor,
        }

    return [line(i) for i in schedule.installments]


def disbursement_postings(loan_id: uuid.UUID, amount: Money, fee: Money) -> list[Posting]:
    """The disbursement's entry: the principal receivable is debited the amount lent; the
    settlement cash is credited what was paid out and the fee income the fee withheld."""
    postings = [
        Posting(AccountRef(AccountKind.PRINCIPAL_RECEIVABLE, loan_id), amount),
        Posting(AccountRef(AccountKind.SETTLEMENT_CASH), -(amount - fee)),
    ]
    if fee.is_positive():
        postings.append(Posting(AccountRef(AccountKind.FEE_INCOME, loan_id), -fee))
    return postings


async def open_loan(
    session: AsyncSession,
    deal: Deal,
    *,
    payout_id: uuid.UUID,
    amount: Money,
    fee: Money,
    annual_rate: Any,
    value_date: date,
) -> tuple[Loan, JournalEntry]:
    """The deal's loan, ACTIVE, lending ``amount`` at ``annual_rate`` over the deal's term
    from ``value_date`` under the product version it was applied under, and the ledger's
    disbursement entry (reference ``payout:<payout_id>``). A deal that has its loan already
    gets it back with its entry (a replay posts nothing)."""
    existing = await repository.of_deal(session, tenant_id=deal.tenant_id, deal_id=deal.id)
    if existing is not None:
        entry = await ledger.post(
            session,
            tenant_id=deal.tenant_id,
            cause=EntryCause.DISBURSEMENT,
            idempotency_reference=f"payout:{payout_id}",
            value_date=existing.value_date,
            postings=disbursement_postings(existing.id, existing.principal, fee),
            actor=SYSTEM,
        )
        return existing, entry
    pinned = await deals_repository.product_of(session, deal)
    if pinned is None:  # pragma: no cover - the platform scope sees every product version
        raise DomainError(ErrorCode.NOT_FOUND, "no such product", "productId")
    terms = products.terms_of(pinned[1])
    calendar = await calendars.calendar_from(session, terms.holiday_calendar, value_date)
    shape = product_policy.schedule_terms(terms, amount, deal.term, value_date, calendar)
    # The loan is priced at the rate the second review approved, not the product's list rate.
    schedule = build_schedule(dataclasses.replace(shape, annual_rate=annual_rate))
    loan = Loan(
        tenant_id=deal.tenant_id,
        id=new_id(),
        deal_id=deal.id,
        payout_id=payout_id,
        status=LoanStatus.ACTIVE.value,
        currency=amount.currency,
        principal_minor=amount.amount_minor,
        fee_minor=fee.amount_minor,
        annual_rate=annual_rate,
        value_date=value_date,
        maturity_date=schedule.installments[-1].due_date,
        schedule=schedule_lines(schedule),
    )
    repository.add(session, loan)
    await session.flush()
    await ledger.open_loan_accounts(
        session, tenant_id=deal.tenant_id, loan_id=loan.id, currency=amount.currency
    )
    entry = await ledger.post(
        session,
        tenant_id=deal.tenant_id,
        cause=EntryCause.DISBURSEMENT,
        idempotency_reference=f"payout:{payout_id}",
        value_date=value_date,
        postings=disbursement_postings(loan.id, amount, fee),
        actor=SYSTEM,
        memo=f"disbursement of deal {deal.id}",
    )
    return loan, entry


__all__ = ["disbursement_postings", "open_loan", "schedule_lines"]
