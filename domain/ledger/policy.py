"""The ledger's rules. Pure: no I/O, no clock, no await.

Conventions:

* **Signed amounts.** A posting's amount is positive for a debit and negative for a credit,
  as the database stores it; :func:`debit` and :func:`credit` build them from positive amounts.
* **An entry** has at least two postings, none of them zero, and sums to zero in each of its
  currencies (an entry may move several currencies, each balanced on its own).
* **Balances.** An account's balance is reported on its normal side: the sum of its lines for
  a debit-normal account (receivables, cash, expense), the negated sum for a credit-normal one
  (income, suspense, the borrower's credit), so a balance the account is meant to hold is
  positive.
* **Reversals** negate every line of the original, for a value date on or after the
  original's; a reversal is not itself reversed (a wrong reversal is corrected by a new
  posting), and an entry is reversed at most once.
* **Idempotency.** Posting again under a reference already used returns the first entry when
  the request is the same (cause, value date, reversed entry and postings, in any order; the
  memo is not compared) and is refused otherwise.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from domain.kernel.errors import DomainError, ErrorCode, collect
from domain.kernel.money import Money
from domain.ledger.models import AccountKind, EntryCause, Side

__all__ = [
    "LOAN_KINDS",
    "MAX_MEMO_LENGTH",
    "MAX_REFERENCE_LENGTH",
    "NORMAL_SIDE",
    "TENANT_KINDS",
    "AccountRef",
    "Posting",
    "credit",
    "debit",
    "normal_balance",
    "reversal_of",
    "same_postings",
    "totals_by_currency",
    "validate_entry",
    "validate_postings",
    "validate_reversal",
]

#: The tenant's own accounts: every loan's cash moves through one settlement account, and
#: unmatched money waits in one suspense account.
TENANT_KINDS: Final[frozenset[AccountKind]] = frozenset(
    {AccountKind.SETTLEMENT_CASH, AccountKind.SUSPENSE}
)
#: The accounts each loan has, opened together.
LOAN_KINDS: Final[tuple[AccountKind, ...]] = tuple(k for k in AccountKind if k not in TENANT_KINDS)

#: The side each kind's balance is normally on (the table checks the same).
NORMAL_SIDE: Final[dict[AccountKind, Side]] = {
    AccountKind.PRINCIPAL_RECEIVABLE: Side.DEBIT,
    AccountKind.INTEREST_RECEIVABLE: Side.DEBIT,
    AccountKind.FEE_RECEIVABLE: Side.DEBIT,
    AccountKind.PENALTY_RECEIVABLE: Side.DEBIT,
    AccountKind.SETTLEMENT_CASH: Side.DEBIT,
    AccountKind.WRITE_OFF_EXPENSE: Side.DEBIT,
    AccountKind.INTEREST_INCOME: Side.CREDIT,
    AccountKind.FEE_INCOME: Side.CREDIT,
    AccountKind.PENALTY_INCOME: Side.CREDIT,
    AccountKind.RECOVERY_INCOME: Side.CREDIT,
    AccountKind.SUSPENSE: Side.CREDIT,
    AccountKind.BORROWER_CREDIT: Side.CREDIT,
}

#: Column widths of ``journal_entries``.
MAX_REFERENCE_LENGTH: Final[int] = 200
MAX_MEMO_LENGTH: Final[int] = 500


@dataclass(frozen=True, slots=True)
class AccountRef:
    """Which account, before it is looked up: a kind, and the loan for a loan's kind. The
    currency is the posting's."""

    kind: AccountKind
    loan_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if self.kind in TENANT_KINDS and self.loan_id is not None:
            raise DomainError(ErrorCode.INVALID, f"{self.kind} is the tenant's, not a loan's")
        if self.kind not in TENANT_KINDS and self.loan_id is None:
            raise DomainError(ErrorCode.REQUIRED, f"{self.kind} is a loan's: name the loan")


@dataclass(frozen=True, slots=True)
class Posting:
    """One line to post: a signed amount (debit positive, credit negative) on an account."""

    account: AccountRef
    amount: Money

    @property
    def side(self) -> Side:
        """DEBIT for a positive amount, CREDIT for a negative one."""
        return Side.DEBIT if self.amount.amount_minor > 0 else Side.CREDIT


def debit(account: AccountRef, amount: Money) -> Posting:
    """A debit of ``amount`` (positive) to ``account``."""
    if not amount.is_positive():
        raise DomainError(ErrorCode.INVALID_AMOUNT, f"a debit is a positive amount, not {amount}")
    return Posting(account, amount)


def credit(account: AccountRef, amount: Money) -> Posting:
    """A credit of ``amount`` (positive) to ``account``."""
    if not amount.is_positive():
        raise DomainError(ErrorCode.INVALID_AMOUNT, f"a credit is a positive amount, not {amount}")
    return Posting(account, -amount)


def totals_by_currency(amounts: Iterable[Money]) -> dict[str, tuple[int, int]]:
    """``currency -> (debits, credits)`` in minor units, both positive, of signed amounts."""
    out: dict[str, tuple[int, int]] = {}
    for amount in amounts:
        debits, credits = out.get(amount.currency, (0, 0))
        if amount.amount_minor > 0:
            debits += amount.amount_minor
        else:
            credits -= amount.amount_minor
        out[amount.currency] = (debits, credits)
    return out


def validate_postings(postings: Sequence[Posting]) -> tuple[Posting, ...]:
    """The postings of one entry, if they make one: at least two, none zero, and debits equal
    to credits in every currency. Raises every refusal at once."""
    errors: list[DomainError] = []
    if len(postings) < 2:
        errors.append(
            DomainError(ErrorCode.INVALID, "an entry has at least two postings", "postings")
        )
    for n, posting in enumerate(postings):
        if posting.amount.is_zero():
            errors.append(
                DomainError(
                    ErrorCode.INVALID_AMOUNT,
                    "a posting moves a nonzero amount",
                    f"postings[{n}].amount",
                )
            )
    for currency, (debits, credits) in sorted(
        totals_by_currency(p.amount for p in postings).items()
    ):
        if debits != credits:
            errors.append(
                DomainError(
                    ErrorCode.INVALID,
                    f"debits {Money(debits, currency)} and credits {Money(credits, currency)}"
                    " differ",
                    "postings",
                )
            )
    collect(errors)
    return tuple(postings)


def validate_entry(
    *,
    cause: EntryCause,
    idempotency_reference: str,
    memo: str | None,
    reversing: bool = False,
) -> None:
    """The entry's own fields: a reference that is not blank and a memo, both within their
    columns, and a cause other than REVERSAL unless ``reversing`` (a reversal is posted by
    reversing an entry, which builds its lines)."""
    errors: list[DomainError] = []
    if (cause is EntryCause.REVERSAL) is not reversing:
        errors.append(
            DomainError(ErrorCode.INVALID, "a reversal is posted by reversing an entry", "cause")
        )
    if not idempotency_reference or not idempotency_reference.strip():
        errors.append(
            DomainError(
                ErrorCode.REQUIRED,
                "an entry needs an idempotency reference",
                "idempotencyReference",
            )
        )
    elif len(idempotency_reference) > MAX_REFERENCE_LENGTH:
        errors.append(
            DomainError(
                ErrorCode.TOO_LONG,
                f"at most {MAX_REFERENCE_LENGTH} characters",
                "idempotencyReference",
            )
        )
    if memo is not None and len(memo) > MAX_MEMO_LENGTH:
        errors.append(
            DomainError(ErrorCode.TOO_LONG, f"at most {MAX_MEMO_LENGTH} characters", "memo")
        )
    collect(errors)


def validate_reversal(
    *,
    original_cause: EntryCause,
    original_value_date: date,
    value_date: date,
    already_reversed: bool,
) -> None:
    """Whether an entry may be reversed on ``value_date``."""
    if original_cause is EntryCause.REVERSAL:
        raise DomainError(
            ErrorCode.INVALID, "a reversal is not reversed: post a new entry instead", "entryId"
        )
    if already_reversed:
        raise DomainError(ErrorCode.DUPLICATE, "the entry is already reversed", "entryId")
    if value_date < original_value_date:
        raise DomainError(
            ErrorCode.INVALID_DATE_RANGE,
            f"a reversal's value date is on or after the original's ({original_value_date})",
            "valueDate",
        )


def reversal_of(postings: Iterable[Posting]) -> tuple[Posting, ...]:
    """The postings that undo ``postings``: each negated, in the same order."""
    return tuple(Posting(p.account, -p.amount) for p in postings)


def same_postings(a: Iterable[Posting], b: Iterable[Posting]) -> bool:
    """Whether two sets of postings are the same lines, in any order."""
    return Counter(a) == Counter(b)


def normal_balance(side: Side, signed: Money) -> Money:
    """An account's balance on its normal side, from the sum of its signed lines."""
    return signed if side is Side.DEBIT else -signed
