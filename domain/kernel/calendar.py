"""Working-day calendars and business-day adjustment of due dates.

A due date that falls on a non-working day is moved by a :class:`BusinessDayRule`; interest
accrual is not this module's concern (the schedule engine accrues to the unadjusted date).

Which days are working days is a :class:`HolidayCalendar`'s: ``NONE`` is Monday to Friday,
``CN`` mainland China's State Council arrangement (holidays and make-up working days) from the
``chinesecalendar`` package, overridden day by day by what the platform operator entered
(:class:`OperatorCalendar`). Each calendar also says whether it *knows* a date
(:meth:`OperatorCalendar.covers`): a schedule flags every due date in a year nobody published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import Enum
from functools import lru_cache
from typing import Final, Protocol, runtime_checkable

import chinese_calendar  # type: ignore[import-untyped,unused-ignore]  # no type hints

__all__ = [
    "BusinessDayRule",
    "Calendar",
    "ChinaCalendar",
    "HolidayCalendar",
    "KnownCalendar",
    "NoWorkingDayFound",
    "OperatorCalendar",
    "WeekendCalendar",
    "add_months",
    "adjust",
    "calendar_of",
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


class HolidayCalendar(Enum):
    """Whose working days a product's due dates follow."""

    #: Monday to Friday, no public holidays.
    NONE = "NONE"
    #: Mainland China: the State Council's holidays and make-up working days (调休).
    CN = "CN"


@runtime_checkable
class Calendar(Protocol):
    """Anything that can tell working days from non-working days."""

    def is_working_day(self, day: date) -> bool:
        """True if ``day`` is a working (settlement) day."""
        ...


@runtime_checkable
class KnownCalendar(Calendar, Protocol):
    """A calendar that also says which dates its answers are official for."""

    def covers(self, day: date) -> bool:
        """True if the calendar's answer for ``day`` is known, not a Monday-Friday guess."""
        ...


@dataclass(frozen=True, slots=True)
class WeekendCalendar:
    """Monday to Friday are working days; no public holidays."""

    def is_working_day(self, day: date) -> bool:
        """True from Monday to Friday."""
        return day.weekday() < 5

    def covers(self, day: date) -> bool:
        """Always: a weekend calendar has no holidays to be published."""
        return True


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


@dataclass(frozen=True, slots=True)
class OperatorCalendar:
    """China's calendar with the days the platform operator entered, which win over the package.

    ``entries`` maps a date to whether it is a working day: an official holiday on a weekday is
    ``False``, a make-up working Saturday or Sunday ``True``. A year in which the operator
    entered any day counts as known (the operator enters a year's whole arrangement, as the
    State Council publishes it); days of that year not entered are Monday to Friday.
    """

    entries: Mapping[date, bool] = field(default_factory=dict)
    base: ChinaCalendar = field(default_factory=ChinaCalendar)
    entered_years: frozenset[int] = field(init=False)

    def __post_init__(self) -> None:
        # Derived once: covers() runs for every instalment of every quote.
        object.__setattr__(self, "entered_years", frozenset(d.year for d in self.entries))

    def is_working_day(self, day: date) -> bool:
        """The operator's entry for ``day`` if there is one, the package's answer otherwise."""
        plain = day if type(day) is date else date(day.year, day.month, day.day)
        entered = self.entries.get(plain)
        if entered is not None:
            return entered
        return self.base.is_working_day(plain)

    def covers(self, day: date) -> bool:
        """True if the package or the operator knows ``day``'s year."""
        return day.year in self.entered_years or self.base.covers(day)


def calendar_of(kind: HolidayCalendar, entries: Mapping[date, bool] | None = None) -> KnownCalendar:
    """The calendar of ``kind``; ``entries`` are the operator's days for CN."""
    if kind is HolidayCalendar.NONE:
        return WeekendCalendar()
    return OperatorCalendar(entries=dict(entries or {}))


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
