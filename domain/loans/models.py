"""``loans`` (migration 0020): the servicing account a deal becomes once its payout settled.

A loan records what was lent (principal, the fee withheld, the approved rate), from when (the
value date) to when (the maturity, the last due date) and its repayment schedule as fixed on
that value date: the lines as JSON, amounts in minor units. Its balances are its ledger
accounts' (``domain.ledger``), not columns here."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Numeric,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

import domain.payouts.models  # noqa: F401  (the payouts table, which a loan points at)
from domain.kernel.money import Money
from domain.persistence.base import Base


class LoanStatus(StrEnum):
    """Where a loan stands."""

    ACTIVE = "ACTIVE"
    OVERDUE = "OVERDUE"
    SETTLED = "SETTLED"
    WRITTEN_OFF = "WRITTEN_OFF"


class Loan(Base):
    """One loan of one deal."""

    __tablename__ = "loans"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    deal_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    payout_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    status: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    principal_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    annual_rate: Mapped[Decimal] = mapped_column(Numeric(12, 8))
    value_date: Mapped[date] = mapped_column(Date)
    maturity_date: Mapped[date] = mapped_column(Date)
    schedule: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "deal_id"],
            ["deals.tenant_id", "deals.id"],
            name="fk_loans_tenant_id_deals",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "payout_id"],
            ["payouts.tenant_id", "payouts.id"],
            name="fk_loans_tenant_id_payouts",
        ),
        UniqueConstraint("tenant_id", "deal_id", name="uq_loans_deal"),
        Index("ix_loans_id", "id"),
        # The keyset of a funder's page of loans (migration 0024).
        Index("ix_loans_page", "tenant_id", "created_at", "id"),
    )

    @property
    def principal(self) -> Money:
        """The amount lent."""
        return Money(self.principal_minor, self.currency)


__all__ = ["Loan", "LoanStatus"]
