"""Pure rules for the operator's calendar entries: what an entry may say, and the calendar a
schedule uses once the entries are loaded."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Final

from domain.kernel.calendar import HolidayCalendar, KnownCalendar, calendar_of
from domain.kernel.errors import DomainError, ErrorCode, collect

MAX_LABEL: Final = 200
#: Years an entry may fall in: the package starts in 2004; nothing is lent a century out.
MIN_YEAR: Final = 2000
MAX_YEAR: Final = 2100


@dataclass(frozen=True, slots=True)
class Entry:
    """A day as the operator enters it."""

    calendar: HolidayCalendar
    day: date
    working: bool
    label: str


def check_calendar(calendar: HolidayCalendar, field: str = "calendar") -> None:
    """Only a calendar with holidays takes entries (NONE is Monday to Friday, always)."""
    if calendar is HolidayCalendar.NONE:
        raise DomainError(ErrorCode.INVALID, "the NONE calendar has no holidays to enter", field)


def check_year(year: int, field: str = "year") -> None:
    """A year the calendar may hold."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise DomainError(ErrorCode.INVALID, f"a year from {MIN_YEAR} to {MAX_YEAR}", field)


def clean_entry(calendar: HolidayCalendar, day: date, working: bool, label: str) -> Entry:
    """The entry as stored, or every refusal at once: a calendar with holidays, a date in
    range, and a label (what the notice calls the day, e.g. "National Day")."""
    problems: list[DomainError] = []
    try:
        check_calendar(calendar)
    except DomainError as exc:
        problems.append(exc)
    try:
        check_year(day.year, "date")
    except DomainError as exc:
        problems.append(exc)
    clean = " ".join(label.split())
    if not clean:
        problems.append(DomainError(ErrorCode.REQUIRED, "what the day is", "label"))
    elif len(clean) > MAX_LABEL:
        problems.append(DomainError(ErrorCode.TOO_LONG, f"at most {MAX_LABEL} characters", "label"))
    collect(problems)
    return Entry(calendar=calendar, day=day, working=working, label=clean)


def calendar_with(kind: HolidayCalendar, entries: Iterable[tuple[date, bool]]) -> KnownCalendar:
    """The calendar of ``kind`` with the operator's ``(day, working)`` entries, which win over
    the package's answers and make their years known."""
    return calendar_of(kind, dict(entries))


__all__ = [
    "MAX_LABEL",
    "Entry",
    "calendar_with",
    "check_calendar",
    "check_year",
    "clean_entry",
]
