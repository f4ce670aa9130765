"""Supply-chain assets that back financing: purchase orders (receivables a core enterprise owes
a trading company), warehouse receipts (goods held by a supervised warehouse), the claims
funders' deals put on receipts, and uploaded documents.

Orders, receipts and documents are platform-level: they belong to the parties, and funders
see them only through their deals. A claim is tenant-owned (the funder's deal holds it); the
partial unique index ``uq_receipt_claims_live`` lets a receipt back at most one live deal
across every funder. Money is ``BIGINT`` minor units next to a currency; quantities are
``NUMERIC(20, 6)``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Numeric,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.kernel.money import Money
from domain.persistence.base import Base, IdMixin, new_id
from domain.persistence.base import checked_enum as _enum


class PurchaseOrderStatus(StrEnum):
    """PENDING_CONFIRMATION -> CONFIRMED | DISPUTED, decided once by the buyer."""

    PENDING_CONFIRMATION = "PENDING_CONFIRMATION"
    CONFIRMED = "CONFIRMED"
    DISPUTED = "DISPUTED"


class WarehouseReceiptStatus(StrEnum):
    """ISSUED -> CANCELLED (final, and only while no live deal claims the receipt)."""

    ISSUED = "ISSUED"
    CANCELLED = "CANCELLED"


class DocumentKind(StrEnum):
    """What an uploaded document is."""

    PURCHASE_ORDER = "PURCHASE_ORDER"
    INVOICE = "INVOICE"
    DELIVERY_NOTE = "DELIVERY_NOTE"
    CONTRACT = "CONTRACT"
    WAREHOUSE_RECEIPT = "WAREHOUSE_RECEIPT"
    INSPECTION_REPORT = "INSPECTION_REPORT"
    INSURANCE_POLICY = "INSURANCE_POLICY"
    OTHER = "OTHER"


class PurchaseOrder(IdMixin, Base):
    """A purchase order / receivable: the seller (the borrower, a TRADE_ENTERPRISE) is owed
    ``amount`` by the buyer (a CORE_ENTERPRISE) on ``due_date``. Only the buyer's users
    confirm or dispute it, once."""

    __tablename__ = "purchase_orders"

    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    seller_organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id")
    )
    buyer_organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id")
    )
    # The seller itself, or the partner that submitted the order on its behalf; None when
    # the platform entered it.
    submitted_by_organization_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id")
    )
    number: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[PurchaseOrderStatus] = mapped_column(
        _enum(PurchaseOrderStatus, "purchase_order_status"),
        default=PurchaseOrderStatus.PENDING_CONFIRMATION,
    )
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id")
    )
    created_by_client_id: Mapped[str | None] = mapped_column(String(64))
    decided_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id")
    )
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(String(1000))

    __table_args__ = (
        UniqueConstraint("buyer_organization_id", "number", name="uq_purchase_orders_buyer_number"),
        Index("ix_purchase_orders_seller", "seller_organization_id", "created_at", "id"),
        Index("ix_purchase_orders_buyer", "buyer_organization_id", "created_at", "id"),
        Index("ix_purchase_orders_submitter", "submitted_by_organization_id", "created_at", "id"),
        # A core enterprise sees the sellers of the orders it owes (row-level security).
        Index("ix_purchase_orders_seller_buyer", "seller_organization_id", "buyer_organization_id"),
    )

    @property
    def amount(self) -> Money:
        """The amount owed."""
        return Money(self.amount_minor, self.currency)


class WarehouseReceipt(IdMixin, Base):
    """A receipt issued by a supervised warehouse for goods it holds for their owner (a
    CARGO_OWNER). The declared unit price is the valuation input; a funder applies its own
    haircut and LTV."""

    __tablename__ = "warehouse_receipts"

    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    warehouse_organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id")
    )
    owner_organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id")
    )
    number: Mapped[str] = mapped_column(String(64))
    goods_description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(Numeric(20, 6))
    unit: Mapped[str] = mapped_column(String(16))
    location: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    # The exchange or spot-market code of the goods (upper case), which valuations price
    # them by; None when the warehouse named none (such goods are left unvalued).
    commodity_code: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[WarehouseReceiptStatus] = mapped_column(
        _enum(WarehouseReceiptStatus, "warehouse_receipt_status"),
        default=WarehouseReceiptStatus.ISSUED,
    )
    issued_by_user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    cancelled_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id")
    )
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancellation_reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        UniqueConstraint(
            "warehouse_organization_id", "number", name="uq_warehouse_receipts_warehouse_number"
        ),
        Index("ix_warehouse_receipts_warehouse", "warehouse_organization_id", "created_at", "id"),
        Index("ix_warehouse_receipts_owner", "owner_organization_id", "created_at", "id"),
    )

    @property
    def unit_price(self) -> Money:
        """The declared price of one unit of the goods."""
        return Money(self.unit_price_minor, self.currency)


class ReceiptClaim(Base):
    """A funder's deal holding a warehouse receipt as collateral, from ``claimed_at`` until
    ``released_at``. At most one live claim per receipt, across every tenant."""

    __tablename__ = "receipt_claims"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    receipt_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("warehouse_receipts.id")
    )
    # The deal (tenant_id, deal_id) holding the receipt.
    deal_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "deal_id"],
            ["deals.tenant_id", "deals.id"],
            name="fk_receipt_claims_tenant_id_deals",
        ),
        Index(
            "uq_receipt_claims_live",
            "receipt_id",
            unique=True,
            postgresql_where=text("released_at IS NULL"),
        ),
        Index("ix_receipt_claims_receipt_tenant", "receipt_id", "tenant_id"),
        Index(
            "ix_receipt_claims_receipt_tenant_live",
            "receipt_id",
            "tenant_id",
            postgresql_where=text("released_at IS NULL"),
        ),
        Index("ix_receipt_claims_deal", "tenant_id", "deal_id"),
    )

    @property
    def is_live(self) -> bool:
        """Whether the claim still holds the receipt."""
        return self.released_at is None


class PurchaseOrderClaim(Base):
    """A funder's deal financing a purchase order, from ``claimed_at`` until ``released_at``.
    At most one live claim per order, across every tenant (``uq_purchase_order_claims_live``),
    so one receivable is never financed twice."""

    __tablename__ = "purchase_order_claims"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    purchase_order_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("purchase_orders.id")
    )
    deal_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "deal_id"],
            ["deals.tenant_id", "deals.id"],
            name="fk_purchase_order_claims_tenant_id_deals",
        ),
        Index(
            "uq_purchase_order_claims_live",
            "purchase_order_id",
            unique=True,
            postgresql_where=text("released_at IS NULL"),
        ),
        Index("ix_purchase_order_claims_order_tenant", "purchase_order_id", "tenant_id"),
        Index("ix_purchase_order_claims_deal", "tenant_id", "deal_id"),
    )

    @property
    def is_live(self) -> bool:
        """Whether the claim still holds the order."""
        return self.released_at is None


class Document(IdMixin, Base):
    """An uploaded file: its metadata here, its bytes in document storage under
    ``storage_key`` (content-addressed by ``sha256``). Owned by an organization or a person,
    optionally attached to one purchase order or warehouse receipt."""

    __tablename__ = "documents"

    owner_organization_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id"), index=True
    )
    owner_person_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("persons.id"), index=True
    )
    kind: Mapped[DocumentKind] = mapped_column(_enum(DocumentKind, "document_kind"))
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    uploaded_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id")
    )
    uploaded_by_client_id: Mapped[str | None] = mapped_column(String(64))
    purchase_order_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("purchase_orders.id"), index=True
    )
    warehouse_receipt_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("warehouse_receipts.id"), index=True
    )
    attached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


__all__ = [
    "Document",
    "DocumentKind",
    "PurchaseOrder",
    "PurchaseOrderClaim",
    "PurchaseOrderStatus",
    "ReceiptClaim",
    "WarehouseReceipt",
    "WarehouseReceiptStatus",
]
