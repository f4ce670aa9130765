"""Business-day conventions on mainland China's calendar, worked by hand.

Dates come from the State Council's 2026 notice (in chinesecalendar 1.11.0): Spring Festival
15-23 February off, Saturday 14 and Saturday 28 February worked; National Day 1-7 October off,
Sunday 20 September and Saturday 10 October worked. Weekdays checked on a wall calendar:
2026-08-15 Saturday, 2026-10-31 Saturday, 2026-10-30 Friday, 2026-11-02 Monday.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from domain.calendars.policy import calendar_with, clean_entry
from domain.kernel.calendar import (
    BusinessDayRule,
    ChinaCalendar,
    HolidayCalendar,
    OperatorCalendar,
    WeekendCalendar,
    adjust,
    calendar_of,
)
from domain.kernel.errors import DomainError
from domain.loans.policy import RepaymentMethod
from domain.products.models import TermUnit
from domain.products.policy import quote
from tests.products_support import base_terms, cny

CN = ChinaCalendar()
F, MF, P, NONE = (
    BusinessDayRule.FOLLOWING,
    BusinessDayRule.MODIFIED_FOLLOWING,
    BusinessDayRule.PRECEDING,
    BusinessDayRule.NONE,
)


@pytest.mark.parametrize(
    ("day", "rule", "expected"),
    [
        # A weekend: Saturday 15 August.
        (date(2026, 8, 15), F, date(2026, 8, 17)),
        (date(2026, 8, 15), MF, date(2026, 8, 17)),
        (date(2026, 8, 15), P, date(2026, 8, 14)),
        (date(2026, 8, 15), NONE, date(2026, 8, 15)),
        # A holiday on a weekday: Thursday 1 October, the week off ends on the 7th.
        (date(2026, 10, 1), F, date(2026, 10, 8)),
        (date(2026, 10, 1), MF, date(2026, 10, 8)),
        (date(2026, 10, 1), P, date(2026, 9, 30)),
        (date(2026, 10, 5), P, date(2026, 9, 30)),
        # Spring Festival from Sunday 15 February to Monday 23 February.
        (date(2026, 2, 15), F, date(2026, 2, 24)),
        # ... and the day before it is Saturday 14 February, a make-up working day.
        (date(2026, 2, 15), P, date(2026, 2, 14)),
        # A make-up working Saturday is a working day under every rule.
        (date(2026, 10, 10), F, date(2026, 10, 10)),
        (date(2026, 10, 10), MF, date(2026, 10, 10)),
        (date(2026, 10, 10), P, date(2026, 10, 10)),
        (date(2026, 2, 28), MF, date(2026, 2, 28)),
        # MODIFIED_FOLLOWING across a month end: Saturday 31 October would follow to Monday
        # 2 November, in the next month, so it goes back to Friday 30 October.
        (date(2026, 10, 31), F, date(2026, 11, 2)),
        (date(2026, 10, 31), MF, date(2026, 10, 30)),
        (date(2026, 10, 31), P, date(2026, 10, 30)),
    ],
)
def test_conventions_on_the_china_calendar(
    day: date, rule: BusinessDayRule, expected: date
) -> None:
    assert adjust(day, rule, CN) == expected


def test_modified_following_crossing_a_month_end_on_weekends_only() -> None:
    # Sunday 31 January 2027: Monday 1 February is next month, so Friday 29 January.
    assert adjust(date(2027, 1, 31), MF, WeekendCalendar()) == date(2027, 1, 29)
    assert adjust(date(2027, 1, 31), F, WeekendCalendar()) == date(2027, 2, 1)


def test_the_package_knows_2026_but_not_2027() -> None:
    # chinesecalendar 1.11.0 ends with 2026: 2027 is a Monday-to-Friday guess, and says so.
    assert CN.covers(date(2026, 12, 31))
    assert not CN.covers(date(2027, 1, 1))
    assert CN.is_working_day(date(2027, 1, 1))  # Friday: the guess, not New Year's Day
    assert not calendar_of(HolidayCalendar.CN).covers(date(2027, 6, 1))
    assert calendar_of(HolidayCalendar.NONE).covers(date(2099, 6, 1))


def test_operator_entries_win_over_the_package_and_make_their_year_known() -> None:
    calendar = calendar_with(
        HolidayCalendar.CN,
        [
            # Against the package: its make-up Saturday made a holiday, a weekday off.
            (date(2026, 10, 10), False),
            (date(2026, 12, 14), False),
            # 2027, which the package lacks.
            (date(2027, 1, 1), False),
            (date(2027, 5, 15), True),
        ],
    )
    assert isinstance(calendar, OperatorCalendar)
    assert not calendar.is_working_day(date(2026, 10, 10))
    assert not calendar.is_working_day(date(2026, 12, 14))
    assert calendar.is_working_day(date(2026, 12, 15))  # not entered: the package's answer
    assert not calendar.is_working_day(date(2026, 10, 1))  # the package's holiday stays
    assert adjust(date(2026, 10, 10), F, calendar) == date(2026, 10, 12)
    assert not calendar.is_working_day(date(2027, 1, 1))
    assert calendar.is_working_day(date(2027, 5, 15))  # a Saturday, worked
    assert not calendar.is_working_day(date(2027, 5, 16))  # a Sunday, not entered
    assert calendar.covers(date(2027, 8, 1))
    assert not calendar.covers(date(2028, 1, 3))


def test_an_entry_needs_a_calendar_with_holidays_and_a_label() -> None:
    with pytest.raises(DomainError) as caught:
        clean_entry(HolidayCalendar.NONE, date(2027, 1, 1), False, "  ")
    fields = {e.field for e in caught.value.errors}  # type: ignore[attr-defined]
    assert fields == {"calendar", "label"}
    entry = clean_entry(HolidayCalendar.CN, date(2027, 1, 1), False, "  New   Year's Day ")
    assert entry.label == "New Year's Day"


def test_a_quote_flags_due_dates_beyond_the_known_calendar() -> None:
    # 6 months from 15 October 2026 on CN / FOLLOWING: due 15 November and 15 December 2026
    # (Sunday 15 November follows to Monday 16 November), then four dates in 2027, which
    # nobody has published: flagged, each.
    terms = base_terms(
        business_day_convention=F,
        holiday_calendar=HolidayCalendar.CN,
        repayment_method=RepaymentMethod.EQUAL_PRINCIPAL,
    )
    q = quote(terms, cny("60000.00"), 6, date(2026, 10, 15))
    due = [line.due_date for line in q.schedule.installments]
    assert due[:2] == [date(2026, 11, 16), date(2026, 12, 15)]
    assert q.calendar_known == (True, True, False, False, False, False)
    assert [w.installment for w in q.calendar_warnings] == [3, 4, 5, 6]
    assert "2027" in q.calendar_warnings[0].message
    # Without a convention no due date depends on a calendar: nothing to flag.
    plain = quote(
        replace(terms, business_day_convention=NONE), cny("60000.00"), 6, date(2026, 10, 15)
    )
    assert plain.calendar_warnings == ()
    assert plain.schedule.installments[0].due_date == date(2026, 11, 15)


def test_interest_of_a_shifted_period_accrues_to_the_scheduled_date() -> None:
    # 90 days from Friday 3 July 2026 end on Thursday 1 October, National Day: the bullet is
    # due on Thursday 8 October, and charged 90 days, not 97: 100,000.00 x 12 % x 90 / 365 =
    # 2,958.904... -> 2,958.90 (97 days would be 3,189.04).
    terms = base_terms(
        business_day_convention=F,
        holiday_calendar=HolidayCalendar.CN,
        term_unit=TermUnit.DAY,
        allowed_terms=(90,),
        repayment_method=RepaymentMethod.BULLET,
    )
    q = quote(terms, cny("100000.00"), 90, date(2026, 7, 3))
    (line,) = q.schedule.installments
    assert line.period_end == date(2026, 10, 1)
    assert line.due_date == date(2026, 10, 8)
    assert line.interest == cny("2958.90")
    assert q.calendar_warnings == ()
