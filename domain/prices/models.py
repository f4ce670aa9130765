"""A funder's recorded price of a commodity: one row per (commodity, currency, unit, moment).

Append-only: a new price is a new row, and no row is ever changed or deleted, so a valuation
can always be traced to the price it used. Money is ``BIGINT`` minor units next to a currency.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.kernel.money import Money
from domain.persistence.base import Base, TenantOwnedMixin


class CommodityPrice(TenantOwnedMixin, Base):
    """The price of one ``unit`` of a commodity in ``currency`` as of ``as_of``, as the
    funder recorded it (from a market report, an appraisal, its own desk)."""

    __tablename__ = "commodity_prices"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id"), primary_key=True
    )
    commodity_code: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    unit: Mapped[str] = mapped_column(String(16))
    price_minor: Mapped[int] = mapped_column(BigInteger)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(Text)
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id")
    )

    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "commodity_code",
            "currency",
            "unit",
            "as_of",
            name="uq_commodity_prices_as_of",
        ),
        Index("ix_commodity_prices_id", "id"),
        Index(
            "ix_commodity_prices_latest",
            "tenant_id",
            "commodity_code",
            "currency",
            text("as_of DESC"),
        ),
    )

    @property
    def price(self) -> Money:
        """The price of one unit."""
        return Money(self.price_minor, self.currency)


__all__ = ["CommodityPrice"]
