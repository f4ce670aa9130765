"""``payouts`` (migration 0020): one request to the payment rail to pay out a deal's loan.

The row is the truth about a payout: what is paid (the amount lent, the fee withheld and the
net paid out), to whom (the account number encrypted), under which idempotency key the finance
officer asked for it, and how far it got: REQUESTED (the rail has not accepted it yet; while a
worker is asking, ``next_attempt_at`` is the end of its lease), SENT (the rail accepted it:
``provider_payout_id``), then SETTLED or FAILED, both final. The payout's own ID is its
reference and its idempotency key at the rail, so a repeated request never pays twice and
every callback names the row it is about."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

# The deals table, which every payout points at, must be in the metadata for the worker too.
import domain.deals.models  # noqa: F401
from domain.kernel.money import Money
from domain.persistence.base import Base


class PayoutState(StrEnum):
    """REQUESTED -> SENT -> SETTLED | FAILED; a callback may settle or fail a REQUESTED payout
    directly (it overtook the record of the rail's acceptance)."""

    REQUESTED = "REQUESTED"
    SENT = "SENT"
    SETTLED = "SETTLED"
    FAILED = "FAILED"

    @property
    def final(self) -> bool:
        """Whether nothing changes it any more."""
        return self in (PayoutState.SETTLED, PayoutState.FAILED)


class Payout(Base):
    """One payout of one deal."""

    __tablename__ = "payouts"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    deal_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    net_minor: Mapped[int] = mapped_column(BigInteger)
    value_date: Mapped[date | None] = mapped_column(Date)
    beneficiary_name: Mapped[str] = mapped_column(String(200))
    # Personal data: encrypted (domain.kernel.crypto).
    beneficiary_account: Mapped[bytes] = mapped_column(LargeBinary)
    beneficiary_bank_code: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32), server_default=text("'REQUESTED'"))
    provider_payout_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    max_attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(1000))
    failure_reason: Mapped[str | None] = mapped_column(String(200))
    requested_by_user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "deal_id"],
            ["deals.tenant_id", "deals.id"],
            name="fk_payouts_tenant_id_deals",
        ),
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_payouts_idempotency_key"),
        UniqueConstraint("provider_payout_id", name="uq_payouts_provider_payout_id"),
        Index(
            "uq_payouts_live_deal",
            "tenant_id",
            "deal_id",
            unique=True,
            postgresql_where=text("state <> 'FAILED'"),
        ),
        Index("ix_payouts_id", "id"),
        Index("ix_payouts_due", "next_attempt_at", postgresql_where=text("state = 'REQUESTED'")),
    )

    @property
    def payout_state(self) -> PayoutState:
        """The state as the enum."""
        return PayoutState(self.state)

    @property
    def amount(self) -> Money:
        """The amount lent (the loan's principal)."""
        return Money(self.amount_minor, self.currency)

    @property
    def fee(self) -> Money:
        """The fee withheld from the amount paid out."""
        return Money(self.fee_minor, self.currency)

    @property
    def net(self) -> Money:
        """What the rail pays the borrower."""
        return Money(self.net_minor, self.currency)


__all__ = ["Payout", "PayoutState"]
