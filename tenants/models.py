"""Tables of tenancy and access: tenants (funders), users, memberships, OAuth clients and
refresh tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    ARRAY,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.persistence.base import Base, IdMixin, TenantOwnedMixin


class TenantKind(StrEnum):
    """What kind of funder a tenant is."""

    BANK = "BANK"
    INSURER = "INSURER"
    PRIVATE_LENDER = "PRIVATE_LENDER"


class Status(StrEnum):
    """Lifecycle of tenants, users and clients."""

    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


class ClientKind(StrEnum):
    """Who holds an OAuth client."""

    PARTNER_APP = "PARTNER_APP"
    SERVICE_ACCOUNT = "SERVICE_ACCOUNT"
    FIRST_PARTY = "FIRST_PARTY"


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, create_constraint=True, length=32)


class Tenant(IdMixin, Base):
    """A funder: bank, insurer or private lender."""

    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    # The unified social credit code a contract names the funder by; None for a funder
    # onboarded before it was recorded (no contract is prepared for it).
    registration_number: Mapped[str | None] = mapped_column(String(18), unique=True, default=None)
    kind: Mapped[TenantKind] = mapped_column(_enum(TenantKind, "tenant_kind"))
    time_zone: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[Status] = mapped_column(_enum(Status, "tenant_status"), default=Status.ACTIVE)
    # ACTIVE with a PUBLISHED product: shown in the marketplace. Kept by the database's
    # triggers; never written by the code.
    listed: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)

    __table_args__ = (Index("ix_tenants_listed", "id", postgresql_where=text("listed")),)


class User(IdMixin, Base):
    """A person who signs in: operator staff, funder staff, borrowers and supply-chain users."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(Text)
    platform_roles: Mapped[list[str]] = mapped_column(
        ARRAY(String(32)), default=list, server_default=text("'{}'")
    )
    person_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("persons.id")
    )
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id")
    )
    status: Mapped[Status] = mapped_column(_enum(Status, "user_status"), default=Status.ACTIVE)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("uq_users_email_lower", func.lower(email), unique=True),)


class Membership(TenantOwnedMixin, Base):
    """A user's roles in one tenant."""

    __tablename__ = "memberships"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id"), index=True
    )
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(32)))

    __table_args__ = (UniqueConstraint("tenant_id", "user_id", name="uq_memberships_tenant_user"),)


class OAuthClient(IdMixin, Base):
    """An OAuth 2.0 client: a partner app, a service account or a first-party app. The secret
    is stored only as a hash."""

    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ClientKind] = mapped_column(_enum(ClientKind, "client_kind"))
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id")
    )
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id")
    )
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    grant_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    status: Mapped[Status] = mapped_column(_enum(Status, "client_status"), default=Status.ACTIVE)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RefreshToken(IdMixin, Base):
    """A refresh token, stored as a hash; revoking it (or its client) takes effect at once."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    client_pk: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("oauth_clients.id"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id")
    )
    scope: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


__all__ = [
    "ClientKind",
    "Membership",
    "OAuthClient",
    "RefreshToken",
    "Status",
    "Tenant",
    "TenantKind",
    "User",
]
