"""The ledger's tables (migration 0017): ``ledger_accounts``, ``journal_entries`` and
``journal_lines``. All three are append-only: the application role reads and inserts, and a
correction is a reversing entry.

An account's ``loan_id`` is a plain uuid, not a foreign key: there is no loans table yet. A
line's amount is signed, debit positive and credit negative, and never zero; its currency is
its account's (the foreign key carries it)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.kernel.money import Money
from domain.persistence.base import Base
from domain.persistence.base import checked_enum as _enum


class AccountKind(StrEnum):
    """The chart of accounts. SETTLEMENT_CASH and SUSPENSE are the tenant's; every other kind
    is one loan's."""

    PRINCIPAL_RECEIVABLE = "PRINCIPAL_RECEIVABLE"
    INTEREST_RECEIVABLE = "INTEREST_RECEIVABLE"
    FEE_RECEIVABLE = "FEE_RECEIVABLE"
    PENALTY_RECEIVABLE = "PENALTY_RECEIVABLE"
    INTEREST_INCOME = "INTEREST_INCOME"
    FEE_INCOME = "FEE_INCOME"
    PENALTY_INCOME = "PENALTY_INCOME"
    #: The funder's cash with the settlement bank: paid out on disbursement, in on repayment.
    SETTLEMENT_CASH = "SETTLEMENT_CASH"
    #: Money received that cannot be matched yet (never dropped).
    SUSPENSE = "SUSPENSE"
    #: What the funder owes the borrower: an overpayment.
    BORROWER_CREDIT = "BORROWER_CREDIT"
    WRITE_OFF_EXPENSE = "WRITE_OFF_EXPENSE"
    RECOVERY_INCOME = "RECOVERY_INCOME"


class Side(StrEnum):
    """The side of an entry a line is on, and the side an account's balance normally is."""

    DEBIT = "DEBIT"
    CREDIT = "CREDIT"


class EntryCause(StrEnum):
    """Why an entry was posted."""

    DISBURSEMENT = "DISBURSEMENT"
    REPAYMENT = "REPAYMENT"
    ACCRUAL = "ACCRUAL"
    FEE = "FEE"
    PENALTY = "PENALTY"
    REVERSAL = "REVERSAL"
    WRITE_OFF = "WRITE_OFF"
    RECOVERY = "RECOVERY"
    ADJUSTMENT = "ADJUSTMENT"


class LedgerAccount(Base):
    """One account: a kind, for the tenant or for one loan, in one currency."""

    __tablename__ = "ledger_accounts"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    code: Mapped[AccountKind] = mapped_column(_enum(AccountKind, "account_kind"))
    # No foreign key: there is no loans table yet.
    loan_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    currency: Mapped[str] = mapped_column(String(3))
    normal_side: Mapped[Side] = mapped_column(_enum(Side, "entry_side"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "code",
            "loan_id",
            "currency",
            name="uq_ledger_accounts_code",
            postgresql_nulls_not_distinct=True,
        ),
        UniqueConstraint("tenant_id", "id", "currency", name="uq_ledger_accounts_currency"),
        CheckConstraint(
            "normal_side = CASE WHEN code IN ('PRINCIPAL_RECEIVABLE', 'INTEREST_RECEIVABLE',"
            " 'FEE_RECEIVABLE', 'PENALTY_RECEIVABLE', 'SETTLEMENT_CASH', 'WRITE_OFF_EXPENSE')"
            " THEN 'DEBIT' ELSE 'CREDIT' END",
            name="normal_side",
        ),
        CheckConstraint(
            "(loan_id IS NULL) = (code IN ('SETTLEMENT_CASH', 'SUSPENSE'))", name="loan_scope"
        ),
        Index("ix_ledger_accounts_id", "id"),
        Index(
            "ix_ledger_accounts_loan",
            "tenant_id",
            "loan_id",
            postgresql_where=text("loan_id IS NOT NULL"),
        ),
    )

    @property
    def kind(self) -> AccountKind:
        """The account's kind (its ``code``)."""
        return self.code


class JournalEntry(Base):
    """One posting: why, for which value date, under which idempotency reference."""

    __tablename__ = "journal_entries"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    cause: Mapped[EntryCause] = mapped_column(_enum(EntryCause, "entry_cause"))
    idempotency_reference: Mapped[str] = mapped_column(String(200))
    value_date: Mapped[date] = mapped_column(Date)
    reverses_entry_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    memo: Mapped[str | None] = mapped_column(String(500))
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id")
    )
    created_by_client_id: Mapped[str | None] = mapped_column(String(64))
    # Set by the database to the transaction's timestamp, whatever is sent.
    posted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "idempotency_reference",
            name="uq_journal_entries_idempotency_reference",
        ),
        UniqueConstraint(
            "tenant_id", "reverses_entry_id", name="uq_journal_entries_reverses_entry_id"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "reverses_entry_id"],
            ["journal_entries.tenant_id", "journal_entries.id"],
            name="fk_journal_entries_reverses_entry_id",
        ),
        CheckConstraint(
            "((cause = 'REVERSAL') = (reverses_entry_id IS NOT NULL))"
            " AND reverses_entry_id IS DISTINCT FROM id",
            name="reversal",
        ),
        CheckConstraint("idempotency_reference <> ''", name="reference"),
        Index("ix_journal_entries_id", "id"),
        Index("ix_journal_entries_value_date", "tenant_id", "value_date"),
    )


class JournalLine(Base):
    """One line of an entry: a signed amount (debit positive) on one account."""

    __tablename__ = "journal_lines"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id"), primary_key=True
    )
    entry_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "entry_id"],
            ["journal_entries.tenant_id", "journal_entries.id"],
            name="fk_journal_lines_entry",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "account_id", "currency"],
            ["ledger_accounts.tenant_id", "ledger_accounts.id", "ledger_accounts.currency"],
            name="fk_journal_lines_account",
        ),
        CheckConstraint("line_no > 0", name="line_no"),
        CheckConstraint("amount_minor <> 0", name="amount_nonzero"),
        Index("ix_journal_lines_account", "tenant_id", "account_id"),
    )

    @property
    def amount(self) -> Money:
        """The signed amount: a debit is positive, a credit negative."""
        return Money(self.amount_minor, self.currency)


__all__ = ["AccountKind", "EntryCause", "JournalEntry", "JournalLine", "LedgerAccount", "Side"]
