"""Parties known to the platform: organizations and natural persons (platform-level), and the
recorded relationships of those who act for them: ``party_agents`` (a partner acting for a
borrower, a warehouse storing for a cargo owner) and ``tenant_customers`` (the parties a
funder's own app acts for). A funder sees a borrower only through its own deals and its own
customers."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    DateTime,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.persistence.base import Base, IdMixin, TenantOwnedMixin
from domain.persistence.base import checked_enum as _enum


class OrganizationKind(StrEnum):
    """The part an organization plays in the marketplace."""

    TRADE_ENTERPRISE = "TRADE_ENTERPRISE"
    CARGO_OWNER = "CARGO_OWNER"
    CORE_ENTERPRISE = "CORE_ENTERPRISE"
    WAREHOUSE = "WAREHOUSE"
    PARTNER = "PARTNER"


# Kinds every signed-in principal may look up (funders pick them as eligible counterparties).
PUBLIC_ORGANIZATION_KINDS = (
    OrganizationKind.CORE_ENTERPRISE,
    OrganizationKind.WAREHOUSE,
    OrganizationKind.PARTNER,
)


class Organization(IdMixin, Base):
    """A company identified by its unified social credit code."""

    __tablename__ = "organizations"

    kind: Mapped[OrganizationKind] = mapped_column(
        Enum(
            OrganizationKind,
            name="organization_kind",
            native_enum=False,
            create_constraint=True,
            length=32,
        )
    )
    name: Mapped[str] = mapped_column(String(200))
    social_credit_code: Mapped[str] = mapped_column(String(18), unique=True)


class Person(IdMixin, Base):
    """A natural person. Resident ID and phone are encrypted at rest and found by keyed hash."""

    __tablename__ = "persons"

    full_name: Mapped[str] = mapped_column(String(200))
    resident_id_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    resident_id_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    resident_id_masked: Mapped[str] = mapped_column(String(18))
    phone_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_hash: Mapped[bytes | None] = mapped_column(LargeBinary, index=True)
    phone_masked: Mapped[str | None] = mapped_column(String(20))


class AgentKind(StrEnum):
    """What an organization does for a party: a PARTNER acts for a borrower (its app applies
    for them and submits their orders); a WAREHOUSE stores a cargo owner's goods (and issues
    receipts to it)."""

    ACTS_FOR = "ACTS_FOR"
    STORES_FOR = "STORES_FOR"


class GrantedBy(StrEnum):
    """How a relationship came about: the agent's app onboarded the party, the party
    authorised the agent, or the platform operator recorded it."""

    ONBOARDING = "ONBOARDING"
    AUTHORISATION = "AUTHORISATION"
    PLATFORM = "PLATFORM"


class _Relationship:
    """A party (a person or an organization) that someone acts for, until revoked."""

    person_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("persons.id")
    )
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id")
    )
    granted_by: Mapped[GrantedBy] = mapped_column(_enum(GrantedBy, "granted_by"))
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id")
    )
    created_by_client_id: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def live(self) -> bool:
        """Whether the relationship holds now."""
        return self.revoked_at is None


class PartyAgent(_Relationship, IdMixin, Base):
    """An organization acting for a party (platform-level). The database refuses a deal, an
    order or a receipt that names a party its writer has no such relationship with."""

    __tablename__ = "party_agents"

    kind: Mapped[AgentKind] = mapped_column(_enum(AgentKind, "kind"))
    agent_organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id")
    )

    __table_args__ = (
        Index(
            "uq_party_agents_live_person",
            "agent_organization_id",
            "kind",
            "person_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL AND person_id IS NOT NULL"),
        ),
        Index(
            "uq_party_agents_live_organization",
            "agent_organization_id",
            "kind",
            "organization_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL AND organization_id IS NOT NULL"),
        ),
        Index(
            "ix_party_agents_person", "person_id", postgresql_where=text("person_id IS NOT NULL")
        ),
        Index(
            "ix_party_agents_organization",
            "organization_id",
            postgresql_where=text("organization_id IS NOT NULL"),
        ),
    )


class TenantCustomer(_Relationship, TenantOwnedMixin, Base):
    """A party a funder's own app acts for (tenant-owned)."""

    __tablename__ = "tenant_customers"

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_tenant_customers_tenant_id_tenants"
        ),
        Index(
            "uq_tenant_customers_live_person",
            "tenant_id",
            "person_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL AND person_id IS NOT NULL"),
        ),
        Index(
            "uq_tenant_customers_live_organization",
            "tenant_id",
            "organization_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL AND organization_id IS NOT NULL"),
        ),
        Index(
            "ix_tenant_customers_person",
            "person_id",
            postgresql_where=text("person_id IS NOT NULL"),
        ),
        Index(
            "ix_tenant_customers_organization",
            "organization_id",
            postgresql_where=text("organization_id IS NOT NULL"),
        ),
    )
