"""Deals: one financing case from application to closure, and its timeline.

A deal is tenant-owned: the application is made to one funder's product and belongs to that
funder from its creation. It records the exact product version it was applied under
(``(tenant_id, product_id, product_version)``, a foreign key onto the frozen versions), the
channel it came through, the applicant (a person for CONSUMER_CREDIT, an organization for the
other lines), the borrower's credit consent, the loan request and its collateral (a purchase
order for ORDER_FINANCING, warehouse receipts for WAREHOUSE_RECEIPT_PLEDGE). Money is
``BIGINT`` minor units next to the currency.

``deal_events`` is the timeline: one row per creation, edit and transition, with who made it
and when; append-only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.kernel.money import Money
from domain.persistence.base import Base
from domain.persistence.base import checked_enum as _enum
from domain.products.models import ProductLine, TermUnit


class DealStatus(StrEnum):
    """The lifecycle of DESIGN.md section 2 (the transitions are in ``policy.TRANSITIONS``)."""

    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"
    RETURNED = "RETURNED"
    FIRST_REVIEW = "FIRST_REVIEW"
    SECOND_REVIEW = "SECOND_REVIEW"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    SIGNING = "SIGNING"
    SIGNED = "SIGNED"
    DISBURSING = "DISBURSING"
    ACTIVE = "ACTIVE"
    OVERDUE = "OVERDUE"
    COLLECTIONS = "COLLECTIONS"
    SETTLED = "SETTLED"
    SOLD = "SOLD"
    WRITTEN_OFF = "WRITTEN_OFF"
    WITHDRAWN = "WITHDRAWN"
    EXPIRED = "EXPIRED"


class DealChannel(StrEnum):
    """How an application reached the funder."""

    #: A partner app (OAuth client credentials of a PARTNER organization), for its user.
    PARTNER_APP = "PARTNER_APP"
    #: The funder's own app embedding lendgraph (a principal of the funder's tenant).
    FUNDER_APP = "FUNDER_APP"
    #: The applicant itself, signed in (a person or a company's user).
    DIRECT = "DIRECT"


class ConsentMethod(StrEnum):
    """How the applicant gave credit consent (authorisation to pull credit reports)."""

    ONLINE_CHECKBOX = "ONLINE_CHECKBOX"
    SMS_CODE = "SMS_CODE"
    E_SIGNATURE = "E_SIGNATURE"
    PAPER_FORM = "PAPER_FORM"


class ActorKind(StrEnum):
    """Who made a change on a deal, as the timeline shows it."""

    APPLICANT = "APPLICANT"
    PARTNER_APP = "PARTNER_APP"
    FUNDER = "FUNDER"
    PLATFORM = "PLATFORM"
    SYSTEM = "SYSTEM"


class Deal(Base):
    """An application and, later, the financing case it becomes."""

    __tablename__ = "deals"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    product_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    product_version: Mapped[int] = mapped_column(Integer)
    product_line: Mapped[ProductLine] = mapped_column(_enum(ProductLine, "product_line"))
    status: Mapped[DealStatus] = mapped_column(_enum(DealStatus, "deal_status"))
    channel: Mapped[DealChannel] = mapped_column(_enum(DealChannel, "deal_channel"))
    # The OAuth client the application came through.
    channel_client_id: Mapped[str] = mapped_column(String(64))
    # The partner organization, for PARTNER_APP.
    channel_organization_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id")
    )
    applicant_person_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("persons.id")
    )
    applicant_organization_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id")
    )
    # The loan request.
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    term: Mapped[int] = mapped_column(Integer)
    term_unit: Mapped[TermUnit] = mapped_column(_enum(TermUnit, "term_unit"))
    purpose: Mapped[str] = mapped_column(String(500))
    # What the risk checks read: the applicant's declared monthly income (in ``currency``)
    # and the identity provider's reference of the applicant's face capture.
    monthly_income_minor: Mapped[int | None] = mapped_column(BigInteger)
    liveness_session: Mapped[str | None] = mapped_column(String(128))
    # Credit consent: all three or none.
    consent_given_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    consent_text_version: Mapped[str | None] = mapped_column(String(32))
    consent_method: Mapped[ConsentMethod | None] = mapped_column(
        _enum(ConsentMethod, "consent_method")
    )
    # Collateral: the order (ORDER_FINANCING) or the receipts (WAREHOUSE_RECEIPT_PLEDGE).
    purchase_order_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("purchase_orders.id")
    )
    warehouse_receipt_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), server_default=text("'{}'")
    )
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id")
    )
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawal_reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "product_id", "product_version"],
            [
                "product_versions.tenant_id",
                "product_versions.product_id",
                "product_versions.version",
            ],
            name="fk_deals_product_version",
        ),
        CheckConstraint(
            "monthly_income_minor IS NULL OR monthly_income_minor > 0",
            name="monthly_income_positive",
        ),
        # Lookups by global ID, which carries no tenant.
        Index("ix_deals_id", "id"),
        # Keyset pages: the funder's, the applicant's, the channel's.
        Index("ix_deals_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_deals_applicant_person", "applicant_person_id", "created_at", "id"),
        Index("ix_deals_applicant_organization", "applicant_organization_id", "created_at", "id"),
        Index("ix_deals_channel_client", "channel_client_id", "created_at", "id"),
        # The funder's widened reads of orders and receipts.
        Index("ix_deals_purchase_order_id", "purchase_order_id"),
        Index("ix_deals_warehouse_receipt_ids", "warehouse_receipt_ids", postgresql_using="gin"),
        Index("ix_deals_product", "tenant_id", "product_id", "product_version"),
        # Row-level security's look-ups: a party's deals with one funder (and one version),
        # a funder's deals on one order.
        Index(
            "ix_deals_person_tenant",
            "applicant_person_id",
            "tenant_id",
            "product_id",
            "product_version",
            postgresql_where=text("applicant_person_id IS NOT NULL"),
        ),
        Index(
            "ix_deals_organization_tenant",
            "applicant_organization_id",
            "tenant_id",
            "product_id",
            "product_version",
            postgresql_where=text("applicant_organization_id IS NOT NULL"),
        ),
        Index(
            "ix_deals_channel_tenant",
            "channel_client_id",
            "tenant_id",
            "product_id",
            "product_version",
            postgresql_where=text("channel = 'PARTNER_APP'"),
        ),
        Index(
            "ix_deals_tenant_purchase_order",
            "tenant_id",
            "purchase_order_id",
            postgresql_where=text("purchase_order_id IS NOT NULL"),
        ),
        # The operator's pages across funders, by filter (migration 0010_platform_deals).
        Index("ix_deals_created", "created_at", "tenant_id", "id"),
        Index("ix_deals_line_created", "product_line", "created_at", "tenant_id", "id"),
        Index("ix_deals_status_created", "status", "created_at", "tenant_id", "id"),
        Index(
            "ix_deals_submitted",
            "submitted_at",
            postgresql_where=text("submitted_at IS NOT NULL"),
        ),
    )

    @property
    def amount(self) -> Money:
        """The amount applied for."""
        return Money(self.amount_minor, self.currency)

    @property
    def monthly_income(self) -> Money | None:
        """The declared monthly income, if any."""
        if self.monthly_income_minor is None:
            return None
        return Money(self.monthly_income_minor, self.currency)

    @property
    def has_consent(self) -> bool:
        """Whether the applicant's credit consent is recorded."""
        return self.consent_given_at is not None


class DealEvent(Base):
    """One entry of a deal's timeline: its creation, an edit or a transition."""

    __tablename__ = "deal_events"

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    deal_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    action: Mapped[str] = mapped_column(String(64))
    from_status: Mapped[DealStatus | None] = mapped_column(_enum(DealStatus, "from_status"))
    to_status: Mapped[DealStatus] = mapped_column(_enum(DealStatus, "to_status"))
    actor_kind: Mapped[ActorKind] = mapped_column(_enum(ActorKind, "actor_kind"))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    actor_client_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(500))
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'")
    )

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "deal_id"],
            ["deals.tenant_id", "deals.id"],
            name="fk_deal_events_tenant_id_deals",
        ),
        Index("ix_deal_events_deal", "tenant_id", "deal_id", "id"),
    )


__all__ = ["ActorKind", "ConsentMethod", "Deal", "DealChannel", "DealEvent", "DealStatus"]
