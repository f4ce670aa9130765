"""The operator's calendar mutations: enter or remove a holiday or make-up working day."""

from __future__ import annotations

from datetime import date

import strawberry
from strawberry.types import Info

from api.calendars.types import CalendarDay, CalendarDayPayload, HolidayCalendar
from api.errors import run_use_case
from api.permissions import has_scope
from domain.calendars import service
from domain.kernel.scopes import Scope


@strawberry.input(description="A day of a holiday calendar to enter (or enter again).")
class SetCalendarDayInput:
    calendar: HolidayCalendar = strawberry.field(description="The calendar (CN).")  # type: ignore[valid-type]
    date: date = strawberry.field(description="The day.")
    working: bool = strawberry.field(
        description="False for an official holiday, true for a make-up working day."
    )
    label: str = strawberry.field(description='What the day is, e.g. "Spring Festival".')


@strawberry.input(description="A day whose entry is to be removed.")
class RemoveCalendarDayInput:
    calendar: HolidayCalendar = strawberry.field(description="The calendar (CN).")  # type: ignore[valid-type]
    date: date = strawberry.field(description="The day.")


@strawberry.type
class CalendarMutations:
    @strawberry.mutation(
        description="Enter an official holiday or make-up working day; it wins over the "
        "packaged calendar for every quote priced afterwards, and makes its year known. "
        "Platform operator (calendars:write) only.",
        permission_classes=[has_scope(Scope.CALENDARS_WRITE)],
    )
    async def set_calendar_day(self, info: Info, input: SetCalendarDayInput) -> CalendarDayPayload:
        async with info.context.db() as session:
            row, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.set_calendar_day(
                    s,
                    a,
                    calendar=input.calendar,
                    day=input.date,
                    working=input.working,
                    label=input.label,
                ),
            )
        return CalendarDayPayload(
            calendar_day=CalendarDay.of(row) if row is not None else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Remove an entry: the packaged calendar answers for the day again. "
        "Platform operator (calendars:write) only.",
        permission_classes=[has_scope(Scope.CALENDARS_WRITE)],
    )
    async def remove_calendar_day(
        self, info: Info, input: RemoveCalendarDayInput
    ) -> CalendarDayPayload:
        async with info.context.db() as session:
            row, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.remove_calendar_day(
                    s, a, calendar=input.calendar, day=input.date
                ),
            )
        return CalendarDayPayload(
            calendar_day=CalendarDay.of(row) if row is not None else None, user_errors=errors
        )
