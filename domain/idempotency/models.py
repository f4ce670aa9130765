"""Idempotency keys of mutations: who sent the key (client, user, tenant), for which operation,
a fingerprint of the request and the answer it got."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.persistence.base import Base, IdMixin


class IdempotencyKey(IdMixin, Base):
    """One key of one principal for one operation. ``response`` is the answer exactly as it
    went out (text, not JSONB, which would reorder its keys), written in the transaction of
    the effect, so a key whose first request was refused or rolled back leaves no row."""

    __tablename__ = "idempotency_keys"

    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id")
    )
    client_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    operation: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # NULLS NOT DISTINCT (PostgreSQL 15): a client's own key (no user, no tenant) is unique
        # too, and two concurrent inserts of one key cannot both succeed.
        UniqueConstraint(
            "client_id",
            "user_id",
            "tenant_id",
            "operation",
            "key",
            name="uq_idempotency_keys_principal_key",
            postgresql_nulls_not_distinct=True,
        ),
        # The purge finds expired keys by age.
        Index("ix_idempotency_keys_created_at", "created_at"),
    )


__all__ = ["IdempotencyKey"]
