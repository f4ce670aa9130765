"""Use cases of the ledger, for the lending use cases to call (a disbursement, a repayment, an
accrual post their entries here, in their own transaction): opening accounts, posting and
reversing entries, balances and the trial balance.

Every function flushes and never commits; refusals raise :class:`DomainError`. Posting is
idempotent by reference: the same request under the same reference returns the entry posted
first, even when both arrive at once (the second waits on the reference's unique index, then
reads the first); a different request under a used reference is IDEMPOTENCY_KEY_REUSED. The
database checks at commit what :mod:`domain.ledger.policy` checks first (balanced entries of
two lines or more, reversals that negate their original), so no caller can post around it.

The ledger writes no audit row or event of its own: the use case that posts (a disbursement)
records what it did, and the entry records its cause, reference and author.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from domain.kernel.actor import Actor, require
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.money import Money, UnknownCurrency, minor_unit_exponent
from domain.kernel.scopes import Scope
from domain.ledger import policy, repository
from domain.ledger.models import (
    AccountKind,
    EntryCause,
    JournalEntry,
    JournalLine,
    LedgerAccount,
    Side,
)
from domain.ledger.policy import AccountRef, Posting
from domain.persistence.base import new_id
from domain.persistence.constraints import refusing

__all__ = [
    "AccountBalance",
    "TrialBalance",
    "balance",
    "balances_of_loans",
    "entry_postings",
    "loan_balances",
    "open_loan_accounts",
    "post",
    "reverse",
    "tenant_account",
    "trial_balance",
    "unbalanced_entries",
]


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """One account in a trial balance: its debits and credits (positive) and its balance on
    its normal side."""

    account_id: uuid.UUID
    kind: AccountKind
    loan_id: uuid.UUID | None
    normal_side: Side
    debits: Money
    credits: Money
    balance: Money


@dataclass(frozen=True, slots=True)
class TrialBalance:
    """A tenant's trial balance in one currency as of a value date: every account, the total
    debits and credits, and whether they agree."""

    currency: str
    as_of: date | None
    total_debits: Money
    total_credits: Money
    accounts: tuple[AccountBalance, ...]

    @property
    def balanced(self) -> bool:
        """Debits equal credits."""
        return self.total_debits == self.total_credits


def _check_currency(currency: str) -> None:
    try:
        minor_unit_exponent(currency)
    except UnknownCurrency:
        raise DomainError(
            ErrorCode.INVALID_CURRENCY, f"unsupported currency {currency!r}", "currency"
        ) from None


def _check_actor(actor: Actor, tenant_id: uuid.UUID) -> None:
    if actor.tenant_id is not None and actor.tenant_id != tenant_id:
        raise DomainError(ErrorCode.FORBIDDEN, "another tenant's ledger")


async def _account(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    kind: AccountKind,
    loan_id: uuid.UUID | None,
    currency: str,
) -> LedgerAccount:
    """Get or create, safe under concurrency: the insert does nothing when the account exists
    (or waits for the transaction creating it), and the read then finds it."""
    found = await repository.find_account(
        session, tenant_id=tenant_id, kind=kind, loan_id=loan_id, currency=currency
    )
    if found is not None:
        return found
    await repository.insert_account_if_absent(
        session,
        tenant_id=tenant_id,
        account_id=new_id(),
        kind=kind,
        loan_id=loan_id,
        currency=currency,
        normal_side=policy.NORMAL_SIDE[kind],
    )
    found = await repository.find_account(
        session, tenant_id=tenant_id, kind=kind, loan_id=loan_id, currency=currency
    )
    if found is None:  # pragma: no cover - inserted or already there
        raise DomainError(ErrorCode.NOT_FOUND, "the account could not be opened")
    return found


async def tenant_account(
    session: AsyncSession, *, tenant_id: uuid.UUID, kind: AccountKind, currency: str
) -> LedgerAccount:
    """The tenant's own account of ``kind`` (SETTLEMENT_CASH or SUSPENSE) in ``currency``,
    opened on first use."""
    if kind not in policy.TENANT_KINDS:
        raise DomainError(ErrorCode.INVALID, f"{kind} is a loan's account, not the tenant's")
    _check_currency(currency)
    return await _account(session, tenant_id=tenant_id, kind=kind, loan_id=None, currency=currency)


async def open_loan_accounts(
    session: AsyncSession, *, tenant_id: uuid.UUID, loan_id: uuid.UUID, currency: str
) -> dict[AccountKind, LedgerAccount]:
    """Every account of one loan (:data:`policy.LOAN_KINDS`), in the loan's currency; opening
    them again returns them. A loan lends in one currency: its accounts in another are
    refused (CURRENCY_MISMATCH)."""
    _check_currency(currency)
    existing = await repository.accounts_of_loan(session, tenant_id=tenant_id, loan_id=loan_id)
    others = sorted({a.currency for a in existing} - {currency})
    if others:
        raise DomainError(
            ErrorCode.CURRENCY_MISMATCH,
            f"the loan's accounts are in {', '.join(others)}",
            "currency",
        )
    have = {a.code: a for a in existing}
    out: dict[AccountKind, LedgerAccount] = {}
    for kind in policy.LOAN_KINDS:
        out[kind] = have.get(kind) or await _account(
            session, tenant_id=tenant_id, kind=kind, loan_id=loan_id, currency=currency
        )
    return out


async def _resolve(
    session: AsyncSession, tenant_id: uuid.UUID, postings: Sequence[Posting]
) -> list[LedgerAccount]:
    """Each posting's account: the tenant's own opened on first use, a loan's only once the
    loan's accounts are open (a loan ID nothing opened is refused, not given new accounts)."""
    cache: dict[tuple[AccountRef, str], LedgerAccount] = {}
    out = []
    for n, posting in enumerate(postings):
        key = (posting.account, posting.amount.currency)
        account = cache.get(key)
        if account is None:
            ref = posting.account
            if ref.kind in policy.TENANT_KINDS:
                account = await tenant_account(
                    session, tenant_id=tenant_id, kind=ref.kind, currency=key[1]
                )
            else:
                account = await repository.find_account(
                    session,
                    tenant_id=tenant_id,
                    kind=ref.kind,
                    loan_id=ref.loan_id,
                    currency=key[1],
                )
                if account is None:
                    raise DomainError(
                        ErrorCode.NOT_FOUND,
                        f"the loan has no open {ref.kind} account in {key[1]}",
                        f"postings[{n}].account",
                    )
            cache[key] = account
        out.append(account)
    return out


async def entry_postings(
    session: AsyncSession, *, tenant_id: uuid.UUID, entry_id: uuid.UUID
) -> tuple[Posting, ...]:
    """An entry's lines as postings, in line order."""
    lines = await repository.lines_of(session, tenant_id=tenant_id, entry_id=entry_id)
    return tuple(
        Posting(AccountRef(account.code, account.loan_id), line.amount) for line, account in lines
    )


async def _replay(
    session: AsyncSession,
    existing: JournalEntry,
    *,
    cause: EntryCause,
    value_date: date,
    reverses_entry_id: uuid.UUID | None,
    postings: Sequence[Posting] | None,
) -> JournalEntry:
    """The entry already posted under the reference, if the request is the same."""
    same = (
        existing.cause == cause
        and existing.value_date == value_date
        and existing.reverses_entry_id == reverses_entry_id
    )
    if same and postings is not None:
        posted = await entry_postings(session, tenant_id=existing.tenant_id, entry_id=existing.id)
        same = policy.same_postings(posted, postings)
    if not same:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "another entry was posted under this reference",
            "idempotencyReference",
        )
    return existing


async def _insert(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    cause: EntryCause,
    idempotency_reference: str,
    value_date: date,
    postings: Sequence[Posting],
    memo: str | None,
    actor: Actor,
    reverses_entry_id: uuid.UUID | None = None,
) -> JournalEntry:
    accounts = await _resolve(session, tenant_id, postings)
    row = JournalEntry(
        tenant_id=tenant_id,
        id=new_id(),
        cause=cause,
        idempotency_reference=idempotency_reference,
        value_date=value_date,
        reverses_entry_id=reverses_entry_id,
        memo=memo,
        created_by_user_id=actor.user_id,
        created_by_client_id=actor.client_id,
    )
    async with refusing(
        session,
        {
            "uq_journal_entries_reverses_entry_id": DomainError(
                ErrorCode.DUPLICATE, "the entry is already reversed", "entryId"
            ),
        },
    ):
        inserted = await repository.insert_entry_if_absent(session, row)
        if inserted:
            await repository.add_lines(
                session,
                [
                    JournalLine(
                        tenant_id=tenant_id,
                        entry_id=row.id,
                        line_no=n,
                        account_id=account.id,
                        currency=posting.amount.currency,
                        amount_minor=posting.amount.amount_minor,
                    )
                    for n, (posting, account) in enumerate(
                        zip(postings, accounts, strict=True), start=1
                    )
                ],
            )
    found = await repository.entry_by_reference(
        session, tenant_id=tenant_id, idempotency_reference=idempotency_reference
    )
    if found is None:  # pragma: no cover - inserted, or the conflicting row is committed
        raise DomainError(ErrorCode.NOT_FOUND, "the entry could not be posted")
    if inserted:
        return found
    # A concurrent transaction posted under the same reference first.
    return await _replay(
        session,
        found,
        cause=cause,
        value_date=value_date,
        reverses_entry_id=reverses_entry_id,
        postings=postings,
    )


async def post(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    cause: EntryCause,
    idempotency_reference: str,
    value_date: date,
    postings: Sequence[Posting],
    actor: Actor,
    memo: str | None = None,
) -> JournalEntry:
    """Post one balanced entry of ``postings`` (signed: debit positive) for ``value_date``,
    or return the entry already posted under ``idempotency_reference`` for the same request.
    Loan accounts must be open (:func:`open_loan_accounts`); the tenant's own are opened on
    first use. Refusals: INVALID (fewer than two postings, unbalanced, cause REVERSAL),
    INVALID_AMOUNT (a zero posting), NOT_FOUND (a loan account not open),
    IDEMPOTENCY_KEY_REUSED (another request under the reference)."""
    _check_actor(actor, tenant_id)
    policy.validate_entry(cause=cause, idempotency_reference=idempotency_reference, memo=memo)
    policy.validate_postings(postings)
    existing = await repository.entry_by_reference(
        session, tenant_id=tenant_id, idempotency_reference=idempotency_reference
    )
    if existing is not None:
        return await _replay(
            session,
            existing,
            cause=cause,
            value_date=value_date,
            reverses_entry_id=None,
            postings=postings,
        )
    return await _insert(
        session,
        tenant_id=tenant_id,
        cause=cause,
        idempotency_reference=idempotency_reference,
        value_date=value_date,
        postings=postings,
        memo=memo,
        actor=actor,
    )


async def reverse(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    entry_id: uuid.UUID,
    idempotency_reference: str,
    value_date: date,
    actor: Actor,
    memo: str | None = None,
) -> JournalEntry:
    """Post the REVERSAL of ``entry_id``: its every line negated, for ``value_date`` (on or
    after the original's). Idempotent by reference like :func:`post`. Refusals: NOT_FOUND
    (no such entry in the tenant), DUPLICATE (already reversed), INVALID (the entry is itself
    a reversal), INVALID_DATE_RANGE, IDEMPOTENCY_KEY_REUSED."""
    _check_actor(actor, tenant_id)
    policy.validate_entry(
        cause=EntryCause.REVERSAL,
        idempotency_reference=idempotency_reference,
        memo=memo,
        reversing=True,
    )
    existing = await repository.entry_by_reference(
        session, tenant_id=tenant_id, idempotency_reference=idempotency_reference
    )
    if existing is not None:
        # The same reversal's lines are determined by the original: no need to compare them.
        return await _replay(
            session,
            existing,
            cause=EntryCause.REVERSAL,
            value_date=value_date,
            reverses_entry_id=entry_id,
            postings=None,
        )
    original = await repository.entry(session, tenant_id=tenant_id, entry_id=entry_id)
    if original is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such entry", "entryId")
    already = await repository.reversal_of_entry(session, tenant_id=tenant_id, entry_id=entry_id)
    policy.validate_reversal(
        original_cause=original.cause,
        original_value_date=original.value_date,
        value_date=value_date,
        already_reversed=already is not None,
    )
    postings = policy.reversal_of(
        await entry_postings(session, tenant_id=tenant_id, entry_id=entry_id)
    )
    return await _insert(
        session,
        tenant_id=tenant_id,
        cause=EntryCause.REVERSAL,
        idempotency_reference=idempotency_reference,
        value_date=value_date,
        postings=postings,
        memo=memo,
        actor=actor,
        reverses_entry_id=entry_id,
    )


def _balance_of(totals: repository.AccountTotals) -> Money:
    signed = Money(totals.debits - totals.credits, totals.currency)
    return policy.normal_balance(totals.normal_side, signed)


async def balance(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    as_of: date | None = None,
) -> Money:
    """An account's balance on its normal side, over the entries with a value date on or
    before ``as_of`` (every entry for None). NOT_FOUND for an account the tenant does not
    have."""
    found = await repository.account_totals(
        session, tenant_id=tenant_id, as_of=as_of, account_id=account_id
    )
    if not found:
        raise DomainError(ErrorCode.NOT_FOUND, "no such account", "accountId")
    return _balance_of(found[0])


async def loan_balances(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    loan_id: uuid.UUID,
    as_of: date | None = None,
) -> dict[AccountKind, Money]:
    """Each of the loan's accounts' balance on its normal side, by kind, as of ``as_of``
    (zero for an account without lines; empty for a loan whose accounts are not open)."""
    found = await repository.account_totals(
        session, tenant_id=tenant_id, as_of=as_of, loan_id=loan_id
    )
    return {t.kind: _balance_of(t) for t in found}


async def balances_of_loans(
    session: AsyncSession, keys: Sequence[repository.LoanKey]
) -> dict[repository.LoanKey, list[tuple[AccountKind, Money]]]:
    """Batch getter: each loan's accounts' balances on their normal side over every entry, by
    ``(tenant_id, loan_id)``, in kind order (zero for an account without lines; nothing for a
    loan whose accounts are not open). One statement for any number of loans."""
    found = await repository.balances_of_loans(session, keys)
    return {
        key: [
            (kind, policy.normal_balance(side, Money(signed, currency)))
            for kind, currency, side, signed in accounts
        ]
        for key, accounts in found.items()
    }


async def trial_balance(
    session: AsyncSession, *, tenant_id: uuid.UUID, as_of: date | None = None
) -> list[TrialBalance]:
    """The tenant's trial balance as of ``as_of`` (value dates; every entry for None), one per
    currency in code order: every account's debits, credits and balance, and the totals."""
    found = await repository.account_totals(session, tenant_id=tenant_id, as_of=as_of)
    by_currency: dict[str, list[repository.AccountTotals]] = {}
    for totals in found:
        by_currency.setdefault(totals.currency, []).append(totals)
    out = []
    for currency in sorted(by_currency):
        rows = by_currency[currency]
        out.append(
            TrialBalance(
                currency=currency,
                as_of=as_of,
                total_debits=Money(sum(t.debits for t in rows), currency),
                total_credits=Money(sum(t.credits for t in rows), currency),
                accounts=tuple(
                    AccountBalance(
                        account_id=t.account_id,
                        kind=t.kind,
                        loan_id=t.loan_id,
                        normal_side=t.normal_side,
                        debits=Money(t.debits, currency),
                        credits=Money(t.credits, currency),
                        balance=_balance_of(t),
                    )
                    for t in rows
                ),
            )
        )
    return out


async def unbalanced_entries(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[uuid.UUID]:
    """The tenant's entries that do not balance (or have fewer than two lines): the check
    that the database's constraint held. Empty, always, unless it was bypassed."""
    return await repository.unbalanced_entries(session, tenant_id=tenant_id)


async def trial_balance_of(
    session: AsyncSession, actor: Actor, *, tenant_id: uuid.UUID | None, as_of: date | None
) -> list[TrialBalance]:
    """The trial balance a principal asks for (scope ledger:read): a funder's staff read
    their own funder's (``tenant_id`` omitted or their own), the platform operator any
    funder's it names. Another funder's, or one that does not exist, reads as no books at all
    (row-level security agrees)."""
    require(actor, Scope.LEDGER_READ)
    if actor.is_platform:
        if tenant_id is None:
            raise DomainError(ErrorCode.REQUIRED, "name the funder whose books", "funderId")
        return await trial_balance(session, tenant_id=tenant_id, as_of=as_of)
    own = actor.tenant_id
    if own is None or (tenant_id is not None and tenant_id != own):
        return []
    return await trial_balance(session, tenant_id=own, as_of=as_of)


@dataclass(frozen=True, slots=True)
class KindTotals:
    """One account kind's debits, credits and balance summed over its accounts (every loan's
    principal receivable together, say): a trial balance's line."""

    kind: AccountKind
    normal_side: Side
    debits: Money
    credits: Money
    balance: Money


def totals_by_kind(found: TrialBalance) -> list[KindTotals]:
    """The trial balance's accounts summed by kind, in the chart's order; a kind none of whose
    accounts has a line yet is left out."""
    out = []
    for kind in AccountKind:
        accounts = [
            a
            for a in found.accounts
            if a.kind is kind and (a.debits.amount_minor or a.credits.amount_minor)
        ]
        if not accounts:
            continue
        currency = found.currency
        out.append(
            KindTotals(
                kind=kind,
                normal_side=accounts[0].normal_side,
                debits=Money.sum((a.debits for a in accounts), currency),
                credits=Money.sum((a.credits for a in accounts), currency),
                balance=Money.sum((a.balance for a in accounts), currency),
            )
        )
    return out
