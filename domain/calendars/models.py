"""``calendar_days``: a day of a holiday calendar as the platform operator entered it.

Platform-level (no tenant): its live rows are readable by every scope; it is written (and its
removed rows read) only in the platform scope (row-level security), by a token with
``calendars:write`` (the service). An entry is removed by stamping ``removed_at``, so the
history of what a schedule was computed against stays; a removed day answers as the package
says again.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, Enum, String, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.kernel.calendar import HolidayCalendar
from domain.persistence.base import Base


class CalendarDay(Base):
    """One date of one calendar: a working day or not, with the reason (the notice's label)."""

    __tablename__ = "calendar_days"

    calendar: Mapped[HolidayCalendar] = mapped_column(
        Enum(
            HolidayCalendar,
            name="calendar",
            native_enum=False,
            create_constraint=True,
            length=16,
        ),
        primary_key=True,
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_by_user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


__all__ = ["CalendarDay"]
