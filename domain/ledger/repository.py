"""Every query of the ledger. Each names ``tenant_id``; row-level security keeps a scope to its
tenant's rows besides. Writes are inserts only: the application role may not change a row."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import Row, and_, any_, func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.ledger.models import AccountKind, JournalEntry, JournalLine, LedgerAccount, Side
from domain.persistence.base import uuid_array

#: A loan of one tenant: ``(tenant_id, loan_id)``, the order of ``ix_ledger_accounts_loan``.
LoanKey = tuple[uuid.UUID, uuid.UUID]

__all__ = [
    "AccountTotals",
    "account_totals",
    "accounts_by_id",
    "accounts_of_loan",
    "add_lines",
    "balances_of_loans",
    "entries_of_loans",
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


async def balances_of_loans(
    session: AsyncSession, keys: Sequence[LoanKey]
) -> dict[LoanKey, list[tuple[AccountKind, str, Side, int]]]:
    """Batch getter: each loan's accounts, by ``(tenant_id, loan_id)``, in kind order, each
    with its currency, normal side and the signed sum of its lines (debit positive; zero
    without lines). One statement for any number of loans: the accounts through
    ``ix_ledger_accounts_loan``, their lines through ``ix_journal_lines_account``."""
    out: dict[LoanKey, list[tuple[AccountKind, str, Side, int]]] = {}
    if not keys:
        return out
    a, line = LedgerAccount.__table__.alias("a"), JournalLine.__table__.alias("l")
    total = func.coalesce(func.sum(line.c.amount_minor), 0)
    stmt = (
        select(a.c.tenant_id, a.c.loan_id, a.c.code, a.c.currency, a.c.normal_side, total)
        .select_from(
            a.outerjoin(line, and_(line.c.tenant_id == a.c.tenant_id, line.c.account_id == a.c.id))
        )
        .where(
            a.c.tenant_id == any_(uuid_array({k[0] for k in keys})),
            a.c.loan_id == any_(uuid_array({k[1] for k in keys})),
        )
        .group_by(a.c.tenant_id, a.c.id)
        .order_by(a.c.tenant_id, a.c.loan_id, a.c.code, a.c.currency)
    )
    wanted = set(keys)
    for row in await session.execute(stmt):
        key = (row[0], row[1])
        if key in wanted:
            out.setdefault(key, []).append((AccountKind(row[2]), row[3], Side(row[4]), int(row[5])))
    return out


async def entries_of_loans(
    session: AsyncSession, keys: Sequence[LoanKey], *, newest: int
) -> dict[LoanKey, list[Row[Any]]]:
    """Batch getter: the journal entries that post to each loan's accounts, by ``(tenant_id,
    loan_id)``, at most ``newest`` of them, newest first (posted, then ID), every line of each
    entry in line order (the tenant's own accounts' lines included, so that an entry reads
    whole). One plain row per line: the entry's columns, ``line_no``, the account's ``kind``
    and ``account_loan_id``, ``currency`` and ``amount_minor``. One statement for any number
    of loans."""
    out: dict[LoanKey, list[Row[Any]]] = {}
    if not keys:
        return out
    a = LedgerAccount.__table__.alias("a")
    touched_line = JournalLine.__table__.alias("t")
    e = JournalEntry.__table__.alias("e")
    line = JournalLine.__table__.alias("l")
    la = LedgerAccount.__table__.alias("la")
    touched = (
        select(a.c.tenant_id, a.c.loan_id, touched_line.c.entry_id)
        .select_from(
            a.join(
                touched_line,
                and_(
                    touched_line.c.tenant_id == a.c.tenant_id,
                    touched_line.c.account_id == a.c.id,
                ),
            )
        )
        .where(
            a.c.tenant_id == any_(uuid_array({k[0] for k in keys})),
            a.c.loan_id == any_(uuid_array({k[1] for k in keys})),
        )
        .distinct()
        .subquery("touched")
    )
    rank = (
        func.rank()
        .over(
            partition_by=(touched.c.tenant_id, touched.c.loan_id),
            order_by=(e.c.posted_at.desc(), e.c.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(
            touched.c.tenant_id,
            touched.c.loan_id,
            e.c.id,
            e.c.cause,
            e.c.idempotency_reference,
            e.c.value_date,
            e.c.reverses_entry_id,
            e.c.memo,
            e.c.posted_at,
            rank,
        )
        .select_from(
            touched.join(
                e, and_(e.c.tenant_id == touched.c.tenant_id, e.c.id == touched.c.entry_id)
            )
        )
        .subquery("ranked")
    )
    stmt = (
        select(
            ranked.c.tenant_id,
            ranked.c.loan_id,
            ranked.c.id,
            ranked.c.cause,
            ranked.c.idempotency_reference,
            ranked.c.value_date,
            ranked.c.reverses_entry_id,
            ranked.c.memo,
            ranked.c.posted_at,
            line.c.line_no,
            la.c.code.label("kind"),
            la.c.loan_id.label("account_loan_id"),
            line.c.currency,
            line.c.amount_minor,
        )
        .select_from(
            ranked.join(
                line, and_(line.c.tenant_id == ranked.c.tenant_id, line.c.entry_id == ranked.c.id)
            ).join(la, and_(la.c.tenant_id == line.c.tenant_id, la.c.id == line.c.account_id))
        )
        .where(ranked.c.rank <= newest)
        .order_by(
            ranked.c.tenant_id,
            ranked.c.loan_id,
            ranked.c.posted_at.desc(),
            ranked.c.id.desc(),
            line.c.line_no,
        )
    )
    wanted = set(keys)
    for row in await session.execute(stmt):
        key = (row.tenant_id, row.loan_id)
        if key in wanted:
            out.setdefault(key, []).append(cast(Row[Any], row))
    return out
