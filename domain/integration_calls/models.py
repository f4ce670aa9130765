"""``integration_calls``: one row per call a deal needs from an outside provider.

The row is the truth about a call: its state, how many attempts it has had and may have, when
the next one is due (for a RUNNING call: when its current attempt's lease runs out), the last
error and the result. ``idempotency_reference`` is sent to the provider on every attempt, so
that a provider that dedups by it answers a repeated attempt without acting twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

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
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

# The deals table, which every call points at, must be in the metadata for the worker too.
import domain.deals.models  # noqa: F401
from domain.persistence.base import Base
from domain.persistence.base import checked_enum as _enum


class IntegrationKind(StrEnum):
    """What a call asks of which kind of provider."""

    BUREAU = "BUREAU"
    IDENTITY = "IDENTITY"
    VALUATION = "VALUATION"


class CallState(StrEnum):
    """PENDING (waiting for an attempt) -> RUNNING (an attempt holds its lease) -> SUCCEEDED,
    or back to PENDING after a failed attempt, or FAILED once no attempt is left."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class IntegrationCall(Base):
    """One call of one kind for one deal."""

    __tablename__ = "integration_calls"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    deal_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[IntegrationKind] = mapped_column(_enum(IntegrationKind, "integration_kind"))
    state: Mapped[CallState] = mapped_column(
        _enum(CallState, "call_state"), server_default=text("'PENDING'")
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    max_attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_error: Mapped[str | None] = mapped_column(String(1000))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    idempotency_reference: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "deal_id"],
            ["deals.tenant_id", "deals.id"],
            name="fk_integration_calls_tenant_id_deals",
        ),
        UniqueConstraint("tenant_id", "deal_id", "kind", name="uq_integration_calls_deal_kind"),
        UniqueConstraint(
            "idempotency_reference", name="uq_integration_calls_idempotency_reference"
        ),
        Index("ix_integration_calls_id", "id"),
        Index(
            "ix_integration_calls_due",
            "next_attempt_at",
            postgresql_where=text("state IN ('PENDING', 'RUNNING')"),
        ),
    )
