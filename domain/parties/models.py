"""Parties known to the platform: organizations and natural persons. They are platform-level:
a funder sees a borrower only through its own deals."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from domain.persistence.base import Base, IdMixin


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
