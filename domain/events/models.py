"""The outbox: a state change writes its event in the same transaction; relays read it after
commit. ``tenant_id`` is empty for platform-level events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.persistence.base import Base


class Event(Base):
    """One domain event, in commit order by ``id``."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    type: Mapped[str] = mapped_column(String(64))
    aggregate_type: Mapped[str] = mapped_column(String(64))
    aggregate_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'")
    )
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # The relay's queue: unpublished events in commit order.
    __table_args__ = (Index("ix_events_unpublished", id, postgresql_where=published_at.is_(None)),)
