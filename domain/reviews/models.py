"""The reviews of a deal: one row per stage (FIRST, SECOND) and round.

A deal in FIRST_REVIEW has an open FIRST row; approving it opens the SECOND row of the same
round. A RETURNED deal that is resubmitted and reaches FIRST_REVIEW again starts the next
round, so every decision of every round stays on record. A row is open until its
``decision``; a reviewer claims it (``assignee_id``) before or while deciding it. The
scorecard may approve a first review by itself (``system_decision``, no ``decided_by``).
The second stage's approval records the terms approved (which may be less than requested)
and when the approval lapses unless signed (``expires_at``).

Four eyes is the database's rule too: a trigger refuses a row whose assignee or decider is
the assignee or decider of the other stage's row of the same deal and round
(``ck_deal_reviews_four_eyes``), and a decided row never changes
(``ck_deal_reviews_decided_once``). Tenant-owned: ``(tenant_id, id)`` is the key and
``(tenant_id, deal_id)`` points at the deal. The application role reads, inserts and updates,
and deletes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
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


class ReviewStage(StrEnum):
    """Which of the two reviews."""

    FIRST = "FIRST"
    SECOND = "SECOND"


class ReviewDecision(StrEnum):
    """What a reviewer decided."""

    APPROVE = "APPROVE"
    REJECT = "REJECT"
    #: Back to the applicant for more information; a resubmission starts the next round.
    RETURN = "RETURN"


class DealReview(Base):
    """One stage of one round of a deal's review."""

    __tablename__ = "deal_reviews"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    deal_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    stage: Mapped[ReviewStage] = mapped_column(_enum(ReviewStage, "review_stage"))
    round: Mapped[int] = mapped_column(Integer)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id")
    )
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision: Mapped[ReviewDecision | None] = mapped_column(
        _enum(ReviewDecision, "review_decision")
    )
    notes: Mapped[str | None] = mapped_column(String(500))
    decided_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    system_decision: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    # The terms the second review approved (SECOND and APPROVE only).
    approved_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    approved_currency: Mapped[str | None] = mapped_column(String(3))
    approved_rate: Mapped[Decimal | None] = mapped_column(Numeric(10, 8))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "deal_id"],
            ["deals.tenant_id", "deals.id"],
            name="fk_deal_reviews_tenant_id_deals",
        ),
        UniqueConstraint("tenant_id", "deal_id", "stage", "round", name="uq_deal_reviews_round"),
        # The queues: open reviews of one stage, oldest first.
        Index(
            "ix_deal_reviews_queue",
            "tenant_id",
            "stage",
            "created_at",
            "id",
            postgresql_where=text("decision IS NULL"),
        ),
        # The expiry sweep, across tenants (platform scope).
        Index(
            "ix_deal_reviews_expiry",
            "expires_at",
            postgresql_where=text("expires_at IS NOT NULL"),
        ),
    )

    @property
    def is_open(self) -> bool:
        """Whether the review is still to be decided."""
        return self.decision is None

    @property
    def approved_amount(self) -> Money | None:
        """The amount the second review approved."""
        if self.approved_amount_minor is None or self.approved_currency is None:
            return None
        return Money(self.approved_amount_minor, self.approved_currency)


__all__ = ["DealReview", "ReviewDecision", "ReviewStage"]
