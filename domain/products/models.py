"""Loan products of a funder and their versions.

A product is the identity a funder publishes (line, name, lifecycle status, which version is
current). Its terms live in ``product_versions``: one row per version, frozen once the product
has been published (a trigger refuses updates), so a deal that applied under version ``n``
keeps exactly those terms after the funder publishes version ``n + 1``.

Money is stored as ``BIGINT`` minor units next to the version's currency; rates are fractions
in ``NUMERIC(10, 8)`` (``0.12000000`` is 12 %).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.kernel.calendar import BusinessDayRule, HolidayCalendar
from domain.kernel.daycount import DayCountConvention
from domain.loans.policy import RepaymentMethod
from domain.persistence.base import Base, TenantOwnedMixin
from domain.persistence.base import checked_enum as _enum


class ProductLine(StrEnum):
    """The three product lines of the marketplace (DESIGN.md section 1)."""

    CONSUMER_CREDIT = "CONSUMER_CREDIT"
    ORDER_FINANCING = "ORDER_FINANCING"
    WAREHOUSE_RECEIPT_PLEDGE = "WAREHOUSE_RECEIPT_PLEDGE"


class ProductStatus(StrEnum):
    """Lifecycle: DRAFT -> PUBLISHED -> RETIRED (final)."""

    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    RETIRED = "RETIRED"


class TermUnit(StrEnum):
    """What a product's allowed terms count: months (instalment loans) or days (one bullet
    period, e.g. 90 days to an order's payment date)."""

    MONTH = "MONTH"
    DAY = "DAY"


class FeeKind(StrEnum):
    """How the origination fee is set: none, a flat amount, or a percentage of the amount."""

    NONE = "NONE"
    FLAT = "FLAT"
    PERCENT = "PERCENT"


class PenaltyBasis(StrEnum):
    """What a late-payment penalty accrues on."""

    #: Overdue principal only.
    OVERDUE_PRINCIPAL = "OVERDUE_PRINCIPAL"
    #: The whole overdue instalment (principal and interest).
    OVERDUE_INSTALLMENT = "OVERDUE_INSTALLMENT"


_RATE = Numeric(10, 8)


class Product(TenantOwnedMixin, Base):
    """A funder's product: identity, line, name, lifecycle and the current version number."""

    __tablename__ = "products"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id"), primary_key=True
    )
    product_line: Mapped[ProductLine] = mapped_column(_enum(ProductLine, "product_line"))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[ProductStatus] = mapped_column(
        _enum(ProductStatus, "product_status"), default=ProductStatus.DRAFT
    )
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # PUBLISHED by an ACTIVE funder: readable by anyone. Kept by the database's triggers in
    # the transaction that changes the product or its funder; never written by the code.
    listed: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)

    __table_args__ = (
        # Lookups by global ID, which carries no tenant.
        Index("ix_products_id", "id"),
        # The marketplace's keyset order, over listed products only.
        Index(
            "ix_products_marketplace",
            "published_at",
            "tenant_id",
            "id",
            postgresql_where=text("listed"),
        ),
        # A funder's own list, in creation order.
        Index("ix_products_tenant_created", "tenant_id", "created_at", "id"),
    )


class ProductVersion(TenantOwnedMixin, Base):
    """The terms of one version of a product. Immutable once the product is published."""

    __tablename__ = "product_versions"

    product_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    version: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    min_amount_minor: Mapped[int] = mapped_column(BigInteger)
    max_amount_minor: Mapped[int] = mapped_column(BigInteger)
    term_unit: Mapped[TermUnit] = mapped_column(_enum(TermUnit, "term_unit"))
    allowed_terms: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    annual_rate: Mapped[Decimal] = mapped_column(_RATE)
    repayment_method: Mapped[RepaymentMethod] = mapped_column(
        _enum(RepaymentMethod, "repayment_method")
    )
    day_count: Mapped[DayCountConvention] = mapped_column(_enum(DayCountConvention, "day_count"))
    # Working-day schedules (0008): how a due date on a non-working day moves, and whose
    # working days count.
    business_day_convention: Mapped[BusinessDayRule] = mapped_column(
        _enum(BusinessDayRule, "business_day_convention"),
        default=BusinessDayRule.NONE,
        server_default=text("'NONE'"),
    )
    holiday_calendar: Mapped[HolidayCalendar] = mapped_column(
        _enum(HolidayCalendar, "holiday_calendar"),
        default=HolidayCalendar.NONE,
        server_default=text("'NONE'"),
    )
    origination_fee_kind: Mapped[FeeKind] = mapped_column(_enum(FeeKind, "fee_kind"))
    origination_fee_flat_minor: Mapped[int | None] = mapped_column(BigInteger)
    origination_fee_rate: Mapped[Decimal | None] = mapped_column(_RATE)
    late_penalty_daily_rate: Mapped[Decimal] = mapped_column(_RATE)
    late_penalty_basis: Mapped[PenaltyBasis] = mapped_column(_enum(PenaltyBasis, "penalty_basis"))
    late_penalty_grace_days: Mapped[int] = mapped_column(Integer)
    prepayment_penalty_rate: Mapped[Decimal] = mapped_column(_RATE)
    prepayment_free_allowance: Mapped[Decimal] = mapped_column(_RATE)
    # ORDER_FINANCING only.
    max_advance_rate: Mapped[Decimal | None] = mapped_column(_RATE)
    eligible_core_enterprise_ids: Mapped[list[uuid.UUID] | None] = mapped_column(
        ARRAY(UUID(as_uuid=True))
    )
    # WAREHOUSE_RECEIPT_PLEDGE only.
    max_ltv: Mapped[Decimal | None] = mapped_column(_RATE)
    haircut: Mapped[Decimal | None] = mapped_column(_RATE)
    accepted_warehouse_ids: Mapped[list[uuid.UUID] | None] = mapped_column(
        ARRAY(UUID(as_uuid=True))
    )
    # CONSUMER_CREDIT only.
    min_borrower_age: Mapped[int | None] = mapped_column(Integer)
    max_borrower_age: Mapped[int | None] = mapped_column(Integer)
    min_credit_score: Mapped[int | None] = mapped_column(Integer)
    # The risk scorecard (0013): each rule applies when set; money in the version's currency.
    scorecard_min_bureau_score: Mapped[int | None] = mapped_column(Integer)
    scorecard_max_current_delinquencies: Mapped[int | None] = mapped_column(Integer)
    scorecard_max_debt_to_income: Mapped[Decimal | None] = mapped_column(_RATE)
    scorecard_max_exposure_minor: Mapped[int | None] = mapped_column(BigInteger)
    scorecard_auto_approve_below_minor: Mapped[int | None] = mapped_column(BigInteger)
    # How many days an approval waits for signing.
    approval_validity_days: Mapped[int] = mapped_column(
        Integer, default=30, server_default=text("30")
    )
    # The current version of a listed product (kept by the database's triggers).
    listed: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)

    __table_args__ = (
        Index(
            "ix_product_versions_listed", "tenant_id", "product_id", postgresql_where=text("listed")
        ),
        ForeignKeyConstraint(
            ["tenant_id", "product_id"],
            ["products.tenant_id", "products.id"],
            name="fk_product_versions_tenant_id_products",
        ),
        UniqueConstraint(
            "tenant_id", "product_id", "version", name="uq_product_versions_product_version"
        ),
    )


__all__ = [
    "FeeKind",
    "PenaltyBasis",
    "Product",
    "ProductLine",
    "ProductStatus",
    "ProductVersion",
    "TermUnit",
]
