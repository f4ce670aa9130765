"""Every query on ``calendar_days``."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.calendars.models import CalendarDay
from domain.kernel.calendar import HolidayCalendar


async def days_between(
    session: AsyncSession, calendar: HolidayCalendar, first: date, last: date
) -> list[CalendarDay]:
    """The live entries of ``calendar`` from ``first`` to ``last`` (inclusive), by date."""
    stmt = (
        select(CalendarDay)
        .where(
            CalendarDay.calendar == calendar,
            CalendarDay.day >= first,
            CalendarDay.day <= last,
            CalendarDay.removed_at.is_(None),
        )
        .order_by(CalendarDay.day)
    )
    return list(await session.scalars(stmt))


async def upsert(
    session: AsyncSession,
    *,
    calendar: HolidayCalendar,
    day: date,
    working: bool,
    label: str,
    user_id: uuid.UUID | None,
    at: datetime,
) -> CalendarDay:
    """Enter ``day`` (again): a removed entry comes back with the new answer."""
    values = {
        "working": working,
        "label": label,
        "updated_at": at,
        "updated_by_user_id": user_id,
        "removed_at": None,
    }
    stmt = (
        insert(CalendarDay)
        .values(calendar=calendar, day=day, created_at=at, **values)
        .on_conflict_do_update(index_elements=["calendar", "day"], set_=values)
        .returning(CalendarDay)
    )
    row = (await session.scalars(stmt, execution_options={"populate_existing": True})).one()
    return row


async def remove(
    session: AsyncSession,
    *,
    calendar: HolidayCalendar,
    day: date,
    user_id: uuid.UUID | None,
    at: datetime,
) -> CalendarDay | None:
    """Stamp the live entry of ``day`` removed; None when there is none."""
    stmt = (
        update(CalendarDay)
        .where(
            CalendarDay.calendar == calendar,
            CalendarDay.day == day,
            CalendarDay.removed_at.is_(None),
        )
        .values(removed_at=at, updated_at=at, updated_by_user_id=user_id)
        .returning(CalendarDay)
    )
    return (
        await session.scalars(stmt, execution_options={"populate_existing": True})
    ).one_or_none()


__all__ = ["days_between", "remove", "upsert"]
