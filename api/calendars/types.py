"""GraphQL types of working-day calendars."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from api.errors import UserError
from domain.calendars.models import CalendarDay as CalendarDayRow
from domain.kernel import calendar as kernel_calendar

HolidayCalendar = strawberry.enum(
    kernel_calendar.HolidayCalendar,
    description="Whose working days due dates follow: NONE (Monday to Friday, no holidays) or "
    "CN (mainland China: the State Council's holidays and make-up working days, from the "
    "chinesecalendar package, overridden by the platform operator's calendarDays entries).",
)
BusinessDayConvention = strawberry.enum(
    kernel_calendar.BusinessDayRule,
    name="BusinessDayConvention",
    description="How a due date on a non-working day moves: NONE (it stays), FOLLOWING (the "
    "next working day), MODIFIED_FOLLOWING (the next working day unless that is in the next "
    "month, then the previous one), PRECEDING (the previous working day). Interest always "
    "accrues to the unadjusted scheduled date: a period whose due date moves is charged as "
    "if it had not moved, and the next period starts on the scheduled date.",
)


@strawberry.type(
    description="A day of a holiday calendar as the platform operator entered it; it wins "
    "over the packaged calendar, and a year with any entry counts as known."
)
class CalendarDay:
    calendar: HolidayCalendar = strawberry.field(description="The calendar.")  # type: ignore[valid-type]
    date: date = strawberry.field(description="The day.")
    working: bool = strawberry.field(
        description="True for a make-up working day (e.g. a Saturday), false for a holiday."
    )
    label: str = strawberry.field(description='What the day is, e.g. "National Day".')
    updated_at: datetime = strawberry.field(description="When it was last entered or removed.")
    removed: bool = strawberry.field(description="True once removed (the package answers again).")

    @classmethod
    def of(cls, row: CalendarDayRow) -> CalendarDay:
        return cls(
            calendar=row.calendar,
            date=row.day,
            working=row.working,
            label=row.label,
            updated_at=row.updated_at,
            removed=row.removed_at is not None,
        )


@strawberry.type(description="Result of setCalendarDay and removeCalendarDay.")
class CalendarDayPayload:
    calendar_day: CalendarDay | None = strawberry.field(description="The entry, unless refused.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


__all__ = ["BusinessDayConvention", "CalendarDay", "CalendarDayPayload", "HolidayCalendar"]
