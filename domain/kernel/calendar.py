"""Working-day calendars and business-day adjustment of due dates.

A due date that falls on a non-working day is moved by a :class:`BusinessDayRule`; interest
accrual is not this module's concern (the schedule engine accrues to the unadjusted date).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum
from functools import lru_cache
from typing import Final, Protocol, runtime_checkable

import chinese_calendar  # type: ignore[import-untyped,unused-ignore]  # no type hints

__all__ = [
    "BusinessDayRule",
    "Calendar",
    "ChinaCalendar",
    "NoWorkingDayFound",
    "WeekendCalendar",
    "add_months",
    "adjust",
    "days_in_month",
]

# Longest run of non-working days adjust() will step over before giving up. China's longest
# closures (Spring Festival or National Day plus a weekend) are about ten days; a calendar that
# answers "no" for a whole year is broken and must not send adjust() into an endless loop.
_MAX_SEARCH_DAYS: Final[int] = 366

# Days in each month of a common year; February of a leap year has 29. A table rather than
# calendar.monthrange(), which also works out the weekday of the 1st: add_months() runs once or
# twice for every instalment of every schedule and quote.
_MONTH_DAYS: Final[tuple[int, ...]] = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class NoWorkingDayFound(ValueError):
    """The calendar has no working day within a year of the date being adjusted."""


class BusinessDayRule(Enum):
    """How a date that is not a working day is moved."""

    #: Keep the date even if it is not a working day.
    NONE = "NONE"
    #: The next working day.
    FOLLOWING = "FOLLOWING"
    #: The next working day, unless that is in the next calendar month; then the previous one.
    MODIFIED_FOLLOWING = "MODIFIED_FOLLOWING"
    #: The previous working day.
    PRECEDING = "PRECEDING"


@runtime_checkable
class Calendar(Protocol):
    """Anything that can tell working days from non-working days."""

    def is_working_day(self, day: date) -> bool:
        """True if ``day`` is a working (settlement) day."""
        ...


@dataclass(frozen=True, slots=True)
class WeekendCalendar:
    """Monday to Friday are working days; no public holidays."""

    def is_working_day(self, day: date) -> bool:
        """True from Monday to Friday."""
        return day.weekday() < 5


@lru_cache(maxsize=4096)
def _china_is_workday(day: date) -> bool | None:
    """chinesecalendar's answer, or None for a year outside its data."""
    try:
        # bool(): the package is untyped; keep its answer from leaking an Any.
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


@dataclass(frozen=True, slots=True)
class ChinaCalendar:
    """Mainland China working days from the ``chinesecalendar`` package.

    The package carries the State Council's yearly holiday arrangement, including the make-up
    working days on weekends (调休上班, e.g. Saturday 2026-10-10), which are working days here.

    **Fallback:** the State Council publishes each year's arrangement only in the November
    before, so the package covers a fixed range of years (2004-2026 in chinesecalendar 1.11.0).
    For a date in a year it does not cover (it raises ``NotImplementedError``) this calendar
    falls back to Monday-Friday, with no public holidays. Due dates in such years are
    therefore provisional: they may land on a holiday that was not yet known, and a schedule
    generated with a newer package version can move them. :meth:`covers` tells which case
    applies.
    """

    def is_working_day(self, day: date) -> bool:
        """True if ``day`` is a working day in mainland China (Mon-Fri outside the data)."""
        # A datetime is a date subclass; normalise so the cache and the package see a date.
        plain = day if type(day) is date else date(day.year, day.month, day.day)
        answer = _china_is_workday(plain)
        if answer is None:
            return plain.weekday() < 5
        return answer

    def covers(self, day: date) -> bool:
        """True if the package has official data for ``day``'s year (no fallback used)."""
        return _china_is_workday(date(day.year, day.month, day.day)) is not None


def adjust(day: date, rule: BusinessDayRule, calendar: Calendar) -> date:
    """Move ``day`` to a working day of ``calendar`` according to ``rule``.

    A working day is returned unchanged under every rule; ``BusinessDayRule.NONE`` never moves
    a date. Raises :class:`NoWorkingDayFound` if no working day is found within a year.
    """
    if rule is BusinessDayRule.NONE or calendar.is_working_day(day):
        return day
    if rule is BusinessDayRule.FOLLOWING:
        return _step(day, 1, calendar)
    if rule is BusinessDayRule.PRECEDING:
        return _step(day, -1, calendar)
    if rule is BusinessDayRule.MODIFIED_FOLLOWING:
        following = _step(day, 1, calendar)
        if following.month != day.month:
            return _step(day, -1, calendar)
        return following
    raise ValueError(f"unknown business-day rule {rule!r}")


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the end of a shorter month.

    2026-01-31 + 1 month is 2026-02-28. Callers that build a series of dates should add
    ``k`` months to one anchor rather than one month ``k`` times, so a clamp does not stick
    (the anchor 01-31 gives 02-28, then 03-31, not 03-28).
    """
    year, month0 = divmod(day.year * 12 + (day.month - 1) + months, 12)
    dom = day.day
    if dom > 28:  # every month has at least 28 days: only the 29th to the 31st can be clamped
        dom = min(dom, days_in_month(year, month0 + 1))
    return date(year, month0 + 1, dom)


def days_in_month(year: int, month: int) -> int:
    """Number of days of ``month`` (1-12) in ``year`` of the proleptic Gregorian calendar."""
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _MONTH_DAYS[month - 1]


def _step(day: date, direction: int, calendar: Calendar) -> date:
    candidate = day
    for _ in range(_MAX_SEARCH_DAYS):
        candidate += timedelta(days=direction)
        if calendar.is_working_day(candidate):
            return candidate
    raise NoWorkingDayFound(f"no working day within {_MAX_SEARCH_DAYS} days of {day}")
