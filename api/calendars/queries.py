"""The ``calendarDays`` query: the operator's entries of a calendar for a year."""

from __future__ import annotations

from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from api.calendars.types import CalendarDay, HolidayCalendar
from api.permissions import Authenticated
from domain.calendars import service
from domain.kernel.errors import DomainError


@strawberry.type
class CalendarQueries:
    @strawberry.field(
        description="The platform operator's entries of a holiday calendar for a year (official "
        "holidays and make-up working days), by date; every other day answers as the packaged "
        "calendar says. Readable by every token.",
        permission_classes=[Authenticated],
    )
    async def calendar_days(
        self,
        info: Info,
        calendar: Annotated[
            HolidayCalendar,  # type: ignore[valid-type]
            strawberry.argument(description="The calendar."),
        ],
        year: Annotated[int, strawberry.argument(description="The year, e.g. 2027.")],
    ) -> list[CalendarDay]:
        async with info.context.db() as session:
            try:
                rows = await service.calendar_days(session, calendar, year)
            except DomainError as exc:
                raise GraphQLError(
                    f"{exc.field}: {exc.message}", extensions={"code": "BAD_USER_INPUT"}
                ) from exc
        return [CalendarDay.of(r) for r in rows]
