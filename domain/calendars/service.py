"""Use cases on the operator's calendars: enter or remove a day (platform admin with
``calendars:write``), read a year's entries (anyone), and the calendar a schedule runs on."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import repository as audit
from domain.calendars import policy, repository
from domain.calendars.models import CalendarDay
from domain.events import repository as events
from domain.kernel.actor import Actor, require
from domain.kernel.calendar import HolidayCalendar, KnownCalendar, calendar_of
from domain.kernel.clock import transaction_now
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.scopes import Scope


def _require_operator(actor: Actor) -> None:
    require(actor, Scope.CALENDARS_WRITE)
    # Row-level security lets only the platform scope write; say so before it refuses.
    if not actor.is_platform:
        raise DomainError(
            ErrorCode.FORBIDDEN,
            "requires the platform:admin scope: calendars are kept by the platform operator",
        )


async def _record(session: AsyncSession, actor: Actor, action: str, row: CalendarDay) -> None:
    payload = {
        "calendar": row.calendar.value,
        "date": row.day.isoformat(),
        "working": row.working,
        "label": row.label,
    }
    key = f"{row.calendar.value}:{row.day.isoformat()}"
    await audit.record(
        session,
        actor,
        action=f"calendar_day.{action}",
        object_type="CalendarDay",
        object_id=key,
        tenant_id=None,
        details=payload,
    )
    await events.append(
        session,
        tenant_id=None,
        type=f"calendar_day.{action}",
        aggregate_type="CalendarDay",
        aggregate_id=key,
        payload=payload,
    )


async def set_calendar_day(
    session: AsyncSession,
    actor: Actor,
    *,
    calendar: HolidayCalendar,
    day: date,
    working: bool,
    label: str,
) -> CalendarDay:
    """Enter an official holiday (``working=False``) or make-up working day (``True``) of
    ``calendar``; it wins over the package from now on, for quotes priced after it."""
    _require_operator(actor)
    entry = policy.clean_entry(calendar, day, working, label)
    row = await repository.upsert(
        session,
        calendar=entry.calendar,
        day=entry.day,
        working=entry.working,
        label=entry.label,
        user_id=actor.user_id,
        at=await transaction_now(session),
    )
    await _record(session, actor, "set", row)
    return row


async def remove_calendar_day(
    session: AsyncSession, actor: Actor, *, calendar: HolidayCalendar, day: date
) -> CalendarDay:
    """Remove an entry: the package answers for that day again. NOT_FOUND when none is live."""
    _require_operator(actor)
    policy.check_calendar(calendar)
    row = await repository.remove(
        session,
        calendar=calendar,
        day=day,
        user_id=actor.user_id,
        at=await transaction_now(session),
    )
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no entry for that date", "date")
    await _record(session, actor, "remove", row)
    return row


async def calendar_days(
    session: AsyncSession, calendar: HolidayCalendar, year: int
) -> list[CalendarDay]:
    """The operator's live entries of ``calendar`` in ``year``, by date."""
    policy.check_year(year)
    if calendar is HolidayCalendar.NONE:
        return []
    return await repository.days_between(session, calendar, date(year, 1, 1), date(year, 12, 31))


async def calendar_from(session: AsyncSession, kind: HolidayCalendar, start: date) -> KnownCalendar:
    """The calendar of ``kind`` with every operator entry from ``start``'s year on (a few dozen
    rows a year), for a schedule that starts on ``start``."""
    if kind is HolidayCalendar.NONE:
        return calendar_of(kind)
    rows = await repository.days_between(session, kind, date(start.year, 1, 1), date.max)
    return policy.calendar_with(kind, ((r.day, r.working) for r in rows))


__all__ = ["calendar_days", "calendar_from", "remove_calendar_day", "set_calendar_day"]
