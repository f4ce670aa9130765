"""``pledges`` (migration 0022): a warehouse-receipt deal's pledge of one of its receipts.

REQUESTED (created when the deal is SIGNED; a worker files it at the registry, the lease and
backoff in ``next_attempt_at``) -> REGISTERED (the registry's ``registration_id`` and public
``filing_number``) -> CUSTODY_CONFIRMED (the warehouse's user confirms it holds the goods under
that filing) -> RELEASED (by the funder; a worker then cancels the filing at the registry:
``deregistered_at``, migration 0027); REQUESTED -> REFUSED when the registry refuses the
filing. While active (REQUESTED, REGISTERED, CUSTODY_CONFIRMED) the receipt is locked: the
database refuses its cancellation, transfer, another deal's claim and a second active pledge.
The pledge's own ID is its idempotency key at the registry, so a retried filing never files
twice."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
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

# The tables every pledge points at must be in the metadata for the worker too.
import domain.collateral.models
import domain.deals.models  # noqa: F401
from domain.persistence.base import Base


class PledgeStatus(StrEnum):
    """Where a pledge stands (see the module's docstring)."""

    REQUESTED = "REQUESTED"
    REGISTERED = "REGISTERED"
    CUSTODY_CONFIRMED = "CUSTODY_CONFIRMED"
    RELEASED = "RELEASED"
    REFUSED = "REFUSED"

    @property
    def active(self) -> bool:
        """Whether the pledge locks its receipt."""
        return self in ACTIVE


ACTIVE = frozenset(
    {PledgeStatus.REQUESTED, PledgeStatus.REGISTERED, PledgeStatus.CUSTODY_CONFIRMED}
)


class Pledge(Base):
    """One receipt pledged to one deal."""

    __tablename__ = "pledges"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    deal_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    receipt_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("warehouse_receipts.id")
    )
    # The receipt's warehouse, kept on the row: row-level security lets it see the pledge.
    warehouse_organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id")
    )
    status: Mapped[str] = mapped_column(String(32), server_default=text("'REQUESTED'"))
    registration_id: Mapped[str | None] = mapped_column(String(64))
    filing_number: Mapped[str | None] = mapped_column(String(64))
    registered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id")
    )
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    released_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id")
    )
    refusal_code: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    max_attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(1000))
    # The filing's cancellation at the registry after the release (migration 0027).
    deregistered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deregister_attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    deregister_next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deregister_last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "deal_id"],
            ["deals.tenant_id", "deals.id"],
            name="fk_pledges_tenant_id_deals",
        ),
        UniqueConstraint("tenant_id", "deal_id", "receipt_id", name="uq_pledges_deal_receipt"),
        UniqueConstraint("registration_id", name="uq_pledges_registration_id"),
        Index(
            "uq_pledges_active_receipt",
            "receipt_id",
            unique=True,
            postgresql_where=text("status IN ('REQUESTED', 'REGISTERED', 'CUSTODY_CONFIRMED')"),
        ),
        Index("ix_pledges_id", "id"),
        Index("ix_pledges_warehouse", "warehouse_organization_id", "created_at", "id"),
        Index("ix_pledges_due", "next_attempt_at", postgresql_where=text("status = 'REQUESTED'")),
        Index(
            "ix_pledges_deregister_due",
            "deregister_next_attempt_at",
            postgresql_where=text("status = 'RELEASED' AND deregistered_at IS NULL"),
        ),
    )

    @property
    def pledge_status(self) -> PledgeStatus:
        """The status as the enum."""
        return PledgeStatus(self.status)


__all__ = ["ACTIVE", "Pledge", "PledgeStatus"]
