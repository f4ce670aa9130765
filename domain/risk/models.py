"""``risk_assessments``: the scorecard's verdict on one submission of a deal (see migration
0016). ``results`` holds each rule's result, ``facts`` what was judged; both are the stored
forms of :mod:`domain.risk.assessment`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

import domain.deals.models  # noqa: F401  (the deals table the rows point at)
from domain.persistence.base import Base


class RiskAssessment(Base):
    """One assessment of one submission of a deal."""

    __tablename__ = "risk_assessments"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    deal_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recommendation: Mapped[str] = mapped_column(String(32))
    auto_approved: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    facts: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "deal_id"],
            ["deals.tenant_id", "deals.id"],
            name="fk_risk_assessments_tenant_id_deals",
        ),
        UniqueConstraint(
            "tenant_id", "deal_id", "submitted_at", name="uq_risk_assessments_submission"
        ),
        CheckConstraint("recommendation IN ('APPROVE', 'REFER', 'DECLINE')", name="recommendation"),
        CheckConstraint("NOT auto_approved OR recommendation = 'APPROVE'", name="auto_approved"),
    )
