"""The contracts of deals: one row per version of a deal's contract.

A version is written from the approved terms of an APPROVED deal: the canonical terms
(``terms``, for display), their digest (``terms_digest``), and the rendered PDF, kept in the
document store under ``document_key`` with its SHA-256 (``sha256``) and page count. A deal has
at most one contract that is not VOID (``uq_contracts_current``): when the terms change, the
current version is voided (``voided_at``, ``void_reason``) and version n+1 written in the same
transaction. Versions are numbered from 1 per deal (``uq_contracts_version``).

Tenant-owned: ``(tenant_id, id)`` is the key and ``(tenant_id, deal_id)`` points at the deal.
The application role reads and inserts, updates only ``status``, ``voided_at`` and
``void_reason``, and deletes nothing: the terms, the digest and the document of a version never
change.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Enum,
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

from domain.persistence.base import Base


class ContractStatus(StrEnum):
    """Where one version of a contract is (migration 0021 adds the signing statuses)."""

    #: Written from the current approved terms; not yet sent for signature.
    DRAFT = "DRAFT"
    #: Superseded: the terms it was written from are no longer the deal's.
    VOID = "VOID"
    #: Out for e-signature: an envelope is (being) created, its signers sign in order.
    SENT = "SENT"
    #: Every signer signed; the signed document is stored with its hash.
    SIGNED = "SIGNED"
    #: A signer declined: the deal cannot be disbursed on this contract.
    DECLINED = "DECLINED"
    #: The signing window closed before every signer signed (or the signing deadline passed).
    EXPIRED = "EXPIRED"
    #: The envelope could not be created: the service refused it, or every attempt failed
    #: (migration 0023). The funder may send it again.
    FAILED = "FAILED"


class Contract(Base):
    """One version of a deal's contract."""

    __tablename__ = "contracts"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    deal_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[ContractStatus] = mapped_column(
        Enum(
            ContractStatus,
            name="contract_status",
            native_enum=False,
            create_constraint=True,
            length=32,
        )
    )
    terms_digest: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    document_key: Mapped[str] = mapped_column(String(200))
    pages: Mapped[int] = mapped_column(Integer)
    terms: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    void_reason: Mapped[str | None] = mapped_column(String(200))
    #: The e-signature service's envelope, once created.
    envelope_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: The signers in signing order: role, order, name, status, signed_at (no ID numbers).
    signers: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb"), default=list
    )
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signed_sha256: Mapped[str | None] = mapped_column(String(64))
    signed_document_key: Mapped[str | None] = mapped_column(String(200))
    #: Attempts at creating the current envelope, at most ``envelope_max_attempts`` (0023).
    envelope_attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    envelope_max_attempts: Mapped[int] = mapped_column(Integer, server_default=text("8"), default=8)
    #: When the next creation attempt is due (a lease while one runs); NULL once recorded.
    envelope_next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    envelope_last_error: Mapped[str | None] = mapped_column(String(1000))
    #: When the service last told anything of the envelope (answer, callback, read).
    envelope_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Times the contract was sent again after a decline or a failure.
    resends: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    #: Why a FAILED contract failed.
    failure_reason: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "deal_id"],
            ["deals.tenant_id", "deals.id"],
            name="fk_contracts_tenant_id_deals",
        ),
        UniqueConstraint("tenant_id", "deal_id", "version", name="uq_contracts_version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("pages >= 1", name="pages_positive"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        CheckConstraint("terms_digest ~ '^[0-9a-f]{64}$'", name="terms_digest_hex"),
        CheckConstraint(
            "(status = 'VOID') = (voided_at IS NOT NULL AND void_reason IS NOT NULL)",
            name="voided",
        ),
        # At most one contract of a deal is not void: the one a borrower is to sign.
        Index(
            "uq_contracts_current",
            "tenant_id",
            "deal_id",
            unique=True,
            postgresql_where=text("status <> 'VOID'"),
        ),
        # The sweeper's: creations overdue, envelopes unheard of (0023).
        Index(
            "ix_contracts_envelope_due",
            "envelope_next_attempt_at",
            postgresql_where=text("status = 'SENT' AND envelope_id IS NULL"),
        ),
        Index(
            "ix_contracts_envelope_seen",
            "envelope_seen_at",
            postgresql_where=text("status = 'SENT' AND envelope_id IS NOT NULL"),
        ),
    )


__all__ = ["Contract", "ContractStatus"]
