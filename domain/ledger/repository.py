"""Every query of the ledger. Each names ``tenant_id``; row-level security keeps a scope to its
tenant's rows besides. Writes are inserts only: the application role may not change a row."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.ledger.models import AccountKind, JournalEntry, JournalLine, LedgerAccount, Side

__all__ = [
    "AccountTotals",
    "account_totals",
    "accounts_by_id",
    "accounts_of_loan",
    "add_lines",
    "entry",
    "entry_by_reference",
    "find_account",
    "insert_account_if_absent",
    "insert_entry_if_absent",
    "lines_of",
    "reversal_of_entry",
    "unbalanced_entries",
]


@dataclass(frozen=True, slots=True)
class AccountTotals:
    """One account's debits and credits (both positive, minor units) up to a value date."""

    account_id: uuid.UUID
    kind: AccountKind
    loan_id: uuid.UUID | None
    currency: str
    normal_side: Side
    debits: int
    credits: int


async def insert_account_if_absent(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    kind: AccountKind,
    loan_id: uuid.UUID | None,
    currency: str,
    normal_side: Side,
) -> None:
    """Open an account unless the tenant has one of that kind, loan and currency (opened
    before, or by a concurrent transaction, which this waits for)."""
    await session.execute(
        insert(LedgerAccount)
        .values(
            tenant_id=tenant_id,
            id=account_id,
            code=kind,
            loan_id=loan_id,
            currency=currency,
            normal_side=normal_side,
        )
        .on_conflict_do_nothing(constraint="uq_ledger_accounts_code")
    )


async def find_account(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    kind: AccountKind,
    loan_id: uuid.UUID | None,
    currency: str,
) -> LedgerAccount | None:
    """The tenant's account of that kind, loan (None: the tenant's own) and currency."""
    loan = LedgerAccount.loan_id.is_(None) if loan_id is None else LedgerAccount.loan_id == loan_id
    found = await session.scalars(
        select(LedgerAccount).where(
            LedgerAccount.tenant_id == tenant_id,
            LedgerAccount.code == kind,
            loan,
            LedgerAccount.currency == currency,
        )
    )
    return found.first()


async def accounts_of_loan(
    session: AsyncSession, *, tenant_id: uuid.UUID, loan_id: uuid.UUID
) -> list[LedgerAccount]:
    """Every account of one loan, in any currency."""
    found = await session.scalars(
        select(LedgerAccount)
        .where(LedgerAccount.tenant_id == tenant_id, LedgerAccount.loan_id == loan_id)
        .order_by(LedgerAccount.currency, LedgerAccount.code)
    )
    return list(found)


async def accounts_by_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, account_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, LedgerAccount]:
    """The tenant's accounts among ``account_ids``, by ID."""
    if not account_ids:
        return {}
    found = await session.scalars(
        select(LedgerAccount).where(
            LedgerAccount.tenant_id == tenant_id, LedgerAccount.id.in_(set(account_ids))
        )
    )
    return {row.id: row for row in found}


async def insert_entry_if_absent(session: AsyncSession, row: JournalEntry) -> bool:
    """Insert the entry's row unless the tenant already has one under its idempotency
    reference (committed, or being posted by a concurrent transaction: this waits for it to
    end, then sees it). True when inserted."""
    inserted = await session.execute(
        insert(JournalEntry)
        .values(
            tenant_id=row.tenant_id,
            id=row.id,
            cause=row.cause,
            idempotency_reference=row.idempotency_reference,
            value_date=row.value_date,
            reverses_entry_id=row.reverses_entry_id,
            memo=row.memo,
            created_by_user_id=row.created_by_user_id,
            created_by_client_id=row.created_by_client_id,
        )
        .on_conflict_do_nothing(constraint="uq_journal_entries_idempotency_reference")
        .returning(JournalEntry.id)
    )
    return inserted.first() is not None


async def add_lines(session: AsyncSession, rows: Sequence[JournalLine]) -> None:
    """Insert an entry's lines, in the entry's transaction."""
    await session.execute(
        insert(JournalLine),
        [
            {
                "tenant_id": r.tenant_id,
                "entry_id": r.entry_id,
                "line_no": r.line_no,
                "account_id": r.account_id,
                "currency": r.currency,
                "amount_minor": r.amount_minor,
            }
            for r in rows
        ],
    )


async def entry(
    session: AsyncSession, *, tenant_id: uuid.UUID, entry_id: uuid.UUID
) -> JournalEntry | None:
    """One entry of the tenant."""
    found = await session.scalars(
        select(JournalEntry)
        .where(JournalEntry.tenant_id == tenant_id, JournalEntry.id == entry_id)
        .execution_options(populate_existing=True)
    )
    return found.first()


async def entry_by_reference(
    session: AsyncSession, *, tenant_id: uuid.UUID, idempotency_reference: str
) -> JournalEntry | None:
    """The tenant's entry posted under ``idempotency_reference``."""
    found = await session.scalars(
        select(JournalEntry)
        .where(
            JournalEntry.tenant_id == tenant_id,
            JournalEntry.idempotency_reference == idempotency_reference,
        )
        .execution_options(populate_existing=True)
    )
    return found.first()


async def reversal_of_entry(
    session: AsyncSession, *, tenant_id: uuid.UUID, entry_id: uuid.UUID
) -> JournalEntry | None:
    """The entry that reverses ``entry_id``, if any."""
    found = await session.scalars(
        select(JournalEntry).where(
            JournalEntry.tenant_id == tenant_id, JournalEntry.reverses_entry_id == entry_id
        )
    )
    return found.first()


async def lines_of(
    session: AsyncSession, *, tenant_id: uuid.UUID, entry_id: uuid.UUID
) -> list[tuple[JournalLine, LedgerAccount]]:
    """An entry's lines in order, each with its account."""
    found = await session.execute(
        select(JournalLine, LedgerAccount)
        .join(
            LedgerAccount,
            and_(
                LedgerAccount.tenant_id == JournalLine.tenant_id,
                LedgerAccount.id == JournalLine.account_id,
            ),
        )
        .where(JournalLine.tenant_id == tenant_id, JournalLine.entry_id == entry_id)
        .order_by(JournalLine.line_no)
    )
    return [(row[0], row[1]) for row in found.all()]


async def account_totals(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    as_of: date | None,
    loan_id: uuid.UUID | None = None,
    account_id: uuid.UUID | None = None,
) -> list[AccountTotals]:
    """Each of the tenant's accounts (of one loan, or one account, if named) with its debits
    and credits over the entries whose value date is ``as_of`` or earlier (every entry for
    None), accounts without lines included. One statement, set-based: the trial balance, a
    loan's balances and an account's balance all read it."""
    line = JournalLine.__table__.alias("l")
    posted = JournalEntry.__table__.alias("e")
    joined = line.join(
        posted, and_(posted.c.tenant_id == line.c.tenant_id, posted.c.id == line.c.entry_id)
    )
    amounts = (
        select(line.c.account_id, line.c.amount_minor)
        .select_from(joined)
        .where(line.c.tenant_id == tenant_id)
    )
    if as_of is not None:
        amounts = amounts.where(posted.c.value_date <= as_of)
    if account_id is not None:
        amounts = amounts.where(line.c.account_id == account_id)
    lines = amounts.subquery("lines")
    zero = literal(0)
    debits = func.coalesce(func.sum(lines.c.amount_minor).filter(lines.c.amount_minor > 0), zero)
    credits = func.coalesce(-func.sum(lines.c.amount_minor).filter(lines.c.amount_minor < 0), zero)
    stmt = (
        select(
            LedgerAccount.id,
            LedgerAccount.code,
            LedgerAccount.loan_id,
            LedgerAccount.currency,
            LedgerAccount.normal_side,
            debits,
            credits,
        )
        .select_from(LedgerAccount)
        .outerjoin(lines, lines.c.account_id == LedgerAccount.id)
        .where(LedgerAccount.tenant_id == tenant_id)
        .group_by(LedgerAccount.tenant_id, LedgerAccount.id)
        .order_by(
            LedgerAccount.currency,
            LedgerAccount.loan_id.nulls_first(),
            LedgerAccount.code,
        )
    )
    if loan_id is not None:
        stmt = stmt.where(LedgerAccount.loan_id == loan_id)
    if account_id is not None:
        stmt = stmt.where(LedgerAccount.id == account_id)
    found = await session.execute(stmt)
    return [
        AccountTotals(
            account_id=row[0],
            kind=AccountKind(row[1]),
            loan_id=row[2],
            currency=row[3],
            normal_side=Side(row[4]),
            debits=int(row[5]),
            credits=int(row[6]),
        )
        for row in found.all()
    ]


async def unbalanced_entries(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[uuid.UUID]:
    """The tenant's entries whose lines do not sum to zero in some currency, or that have
    fewer than two lines: none, while the database's check stands. The trial balance's proof
    that it does."""
    per_currency = (
        select(
            JournalEntry.id.label("entry_id"),
            func.coalesce(func.sum(JournalLine.amount_minor), 0).label("total"),
            func.sum(func.count(JournalLine.line_no))
            .over(partition_by=JournalEntry.id)
            .label("lines"),
        )
        .select_from(JournalEntry)
        .outerjoin(
            JournalLine,
            and_(
                JournalLine.tenant_id == JournalEntry.tenant_id,
                JournalLine.entry_id == JournalEntry.id,
            ),
        )
        .where(JournalEntry.tenant_id == tenant_id)
        .group_by(JournalEntry.id, JournalLine.currency)
        .subquery()
    )
    found = await session.scalars(
        select(per_currency.c.entry_id)
        .where((per_currency.c.total != 0) | (per_currency.c.lines < 2))
        .distinct()
        .order_by(per_currency.c.entry_id)
    )
    return list(found)
