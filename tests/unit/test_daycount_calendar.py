"""Day-count conventions and business-day adjustment (China and Mon-Fri calendars)."""

from __future__ import annotations

import calendar as stdlib_calendar
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext

import chinese_calendar  # type: ignore[import-untyped,unused-ignore]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.kernel.calendar import (
    BusinessDayRule,
    Calendar,
    ChinaCalendar,
    NoWorkingDayFound,
    WeekendCalendar,
    add_months,
    adjust,
    days_in_month,
)
from domain.kernel.daycount import (
    DayCountConvention,
    accrual_days,
    day_count_fraction,
    year_fraction,
)

ACT_365 = DayCountConvention.ACT_365
ACT_360 = DayCountConvention.ACT_360
THIRTY_360 = DayCountConvention.THIRTY_360


def _ratio(numerator: int, denominator: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 50
        return Decimal(numerator) / Decimal(denominator)


# -- day count -----------------------------------------------------------------------------------


def test_act_365_and_act_360_count_actual_days() -> None:
    # 2026-01-15 -> 2026-04-15: 16 (rest of Jan) + 28 (Feb) + 31 (Mar) + 15 (Apr) = 90 days.
    start, end = date(2026, 1, 15), date(2026, 4, 15)
    assert accrual_days(start, end, ACT_365) == 90
    assert year_fraction(start, end, ACT_360) == Decimal("0.25")  # 90/360 terminates
    assert day_count_fraction(start, end, ACT_365) == (90, 365)
    # 90/365 does not terminate; it is correctly rounded, so x 365 comes back to 90.
    assert abs(year_fraction(start, end, ACT_365) * 365 - 90) < Decimal("1e-30")
    assert str(year_fraction(start, end, ACT_365)).startswith("0.24657534246575342465")


def test_act_365_fixed_ignores_leap_years() -> None:
    # 2028 is a leap year: 366 actual days, still divided by 365.
    assert day_count_fraction(date(2028, 1, 1), date(2029, 1, 1), ACT_365) == (366, 365)
    assert abs(year_fraction(date(2028, 1, 1), date(2029, 1, 1), ACT_365) - _ratio(366, 365)) < (
        Decimal("1e-30")
    )
    assert year_fraction(date(2027, 1, 1), date(2028, 1, 1), ACT_365) == Decimal(1)


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        # 30/360 Bond Basis (ISDA 2006 4.16(f)): 360*dY + 30*dM + dD after the 31st rules.
        (date(2026, 1, 15), date(2026, 4, 15), 90),  # 30 * 3
        (date(2026, 1, 31), date(2026, 2, 28), 28),  # D1 31->30: 30*1 + (28-30); no Feb rule
        (date(2026, 1, 31), date(2026, 3, 31), 60),  # D1 -> 30, then D2 31 -> 30
        (date(2026, 2, 28), date(2026, 3, 31), 33),  # D1 = 28 < 30, so D2 stays 31: 30 + 3
        (date(2026, 1, 30), date(2026, 3, 31), 60),  # D1 = 30 -> D2 31 -> 30
        (date(2026, 12, 15), date(2027, 1, 15), 30),  # year boundary: 360 - 330
        (date(2026, 1, 1), date(2027, 1, 1), 360),
        (date(2026, 3, 5), date(2026, 3, 5), 0),
    ],
)
def test_thirty_360_bond_basis(start: date, end: date, days: int) -> None:
    assert accrual_days(start, end, THIRTY_360) == days
    assert day_count_fraction(start, end, THIRTY_360) == (days, 360)
    assert abs(year_fraction(start, end, THIRTY_360) - _ratio(days, 360)) < Decimal("1e-30")


def test_end_before_start_is_refused() -> None:
    for convention in DayCountConvention:
        with pytest.raises(ValueError, match="before it starts"):
            year_fraction(date(2026, 2, 1), date(2026, 1, 31), convention)


def test_convention_labels_and_bases() -> None:
    assert ACT_365.value == "ACT/365 Fixed"
    assert (ACT_365.basis, ACT_360.basis, THIRTY_360.basis) == (365, 360, 360)


@settings(max_examples=200, database=None)
@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
    st.integers(min_value=0, max_value=3000),
    st.integers(min_value=0, max_value=3000),
)
def test_year_fraction_is_additive_for_actual_conventions(start: date, a: int, b: int) -> None:
    middle, end = start + timedelta(days=a), start + timedelta(days=a + b)
    for convention in (ACT_365, ACT_360):
        assert accrual_days(start, middle, convention) + accrual_days(
            middle, end, convention
        ) == accrual_days(start, end, convention)
    assert year_fraction(start, end, THIRTY_360) >= 0


# -- add_months ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 1, 31), 2, date(2026, 3, 31)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 1, 15), 12, date(2027, 1, 15)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
    ],
)
def test_add_months_clamps_to_month_end(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("year", "month", "days"),
    [
        (2026, 2, 28),
        (2028, 2, 29),  # divisible by 4
        (1900, 2, 28),  # a century, not divisible by 400
        (2000, 2, 29),  # divisible by 400
        (2100, 2, 28),
        (2026, 4, 30),
        (2026, 12, 31),
        (2026, 1, 31),
    ],
)
def test_days_in_month(year: int, month: int, days: int) -> None:
    assert days_in_month(year, month) == days


@settings(max_examples=500)
@given(
    day=st.dates(min_value=date(1800, 1, 1), max_value=date(2500, 12, 31)),
    months=st.integers(min_value=-1200, max_value=3600),
)
def test_add_months_agrees_with_the_standard_library(day: date, months: int) -> None:
    # Independent model: the target month from divmod, its length from calendar.monthrange.
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    last = stdlib_calendar.monthrange(year, month0 + 1)[1]
    assert add_months(day, months) == date(year, month0 + 1, min(day.day, last))
    assert days_in_month(year, month0 + 1) == last


# -- calendars and adjustment --------------------------------------------------------------------

CHINA = ChinaCalendar()
WEEKENDS = WeekendCalendar()


def test_calendars_satisfy_the_protocol() -> None:
    assert isinstance(CHINA, Calendar)
    assert isinstance(WEEKENDS, Calendar)


def test_national_day_2026_follows_to_the_first_working_day() -> None:
    # The State Council's 2026 arrangement as shipped in chinesecalendar: National Day is
    # 2026-10-01 (Thu) to 2026-10-07 (Wed), with Sunday 2026-09-20 and Saturday 2026-10-10 as
    # make-up working days. So 2026-10-08 (Thu) is already a working day - unlike 2025, when
    # the holiday ran to 10-08 - and FOLLOWING moves 10-01 to 10-08, not 10-09.
    for offset in range(7):
        assert not CHINA.is_working_day(date(2026, 10, 1) + timedelta(days=offset))
    assert CHINA.is_working_day(date(2026, 10, 8))
    assert chinese_calendar.is_workday(date(2026, 10, 8))  # the package itself says so
    assert adjust(date(2026, 10, 1), BusinessDayRule.FOLLOWING, CHINA) == date(2026, 10, 8)
    assert adjust(date(2026, 10, 1), BusinessDayRule.MODIFIED_FOLLOWING, CHINA) == date(2026, 10, 8)
    assert adjust(date(2026, 10, 1), BusinessDayRule.PRECEDING, CHINA) == date(2026, 9, 30)
    assert adjust(date(2026, 10, 1), BusinessDayRule.NONE, CHINA) == date(2026, 10, 1)
    # The Mon-Fri calendar knows nothing of the holiday: Thursday 10-01 is a working day.
    assert adjust(date(2026, 10, 1), BusinessDayRule.FOLLOWING, WEEKENDS) == date(2026, 10, 1)


@pytest.mark.parametrize(
    "make_up_day",
    [
        date(2026, 10, 10),  # Saturday after National Day
        date(2026, 9, 20),  # Sunday before National Day
        date(2026, 2, 14),  # Saturday before Spring Festival
        date(2026, 2, 28),  # Saturday after Spring Festival
        date(2026, 5, 9),  # Saturday after Labour Day
    ],
)
def test_make_up_weekend_days_are_working_days(make_up_day: date) -> None:
    assert make_up_day.weekday() >= 5
    assert CHINA.is_working_day(make_up_day)
    assert not WEEKENDS.is_working_day(make_up_day)
    for rule in BusinessDayRule:
        assert adjust(make_up_day, rule, CHINA) == make_up_day


def test_spring_festival_2026() -> None:
    # Holiday 2026-02-15 (Sun) to 2026-02-23 (Mon); 02-24 (Tue) is the first working day.
    assert adjust(date(2026, 2, 17), BusinessDayRule.FOLLOWING, CHINA) == date(2026, 2, 24)
    assert adjust(date(2026, 2, 17), BusinessDayRule.PRECEDING, CHINA) == date(2026, 2, 14)


def test_ordinary_weekend_in_china() -> None:
    # 2026-10-17/18 is an ordinary weekend.
    assert adjust(date(2026, 10, 17), BusinessDayRule.FOLLOWING, CHINA) == date(2026, 10, 19)
    assert adjust(date(2026, 10, 18), BusinessDayRule.PRECEDING, CHINA) == date(2026, 10, 16)


def test_modified_following_stays_in_the_month() -> None:
    # 2026-10-31 is a Saturday: FOLLOWING would give Monday 11-02, another month, so
    # MODIFIED_FOLLOWING goes back to Friday 10-30.
    assert adjust(date(2026, 10, 31), BusinessDayRule.FOLLOWING, WEEKENDS) == date(2026, 11, 2)
    assert adjust(date(2026, 10, 31), BusinessDayRule.MODIFIED_FOLLOWING, WEEKENDS) == date(
        2026, 10, 30
    )
    assert adjust(date(2026, 10, 31), BusinessDayRule.MODIFIED_FOLLOWING, CHINA) == date(
        2026, 10, 30
    )
    # Mid-month it behaves like FOLLOWING.
    assert adjust(date(2026, 10, 17), BusinessDayRule.MODIFIED_FOLLOWING, WEEKENDS) == date(
        2026, 10, 19
    )


def test_years_beyond_the_package_fall_back_to_monday_to_friday() -> None:
    # chinesecalendar 1.11.0 has data up to 2026 and raises NotImplementedError after that.
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2031, 10, 1))
    assert not CHINA.covers(date(2031, 10, 1))
    assert CHINA.covers(date(2026, 10, 1))
    # 2031-10-01 is a Wednesday: a working day under the fallback, although it will surely be
    # National Day once the State Council publishes 2031.
    assert CHINA.is_working_day(date(2031, 10, 1))
    assert not CHINA.is_working_day(date(2031, 10, 4))  # Saturday
    assert adjust(date(2031, 10, 4), BusinessDayRule.FOLLOWING, CHINA) == date(2031, 10, 6)
    # Before the data starts too.
    assert CHINA.is_working_day(date(1999, 10, 1))  # a Friday


def test_datetime_is_treated_as_its_date() -> None:
    assert not CHINA.is_working_day(datetime(2026, 10, 1, 9, 30))
    assert CHINA.is_working_day(datetime(2026, 10, 10, 9, 30))


class _NeverOpen:
    def is_working_day(self, day: date) -> bool:
        return False


def test_a_calendar_without_working_days_does_not_loop_forever() -> None:
    with pytest.raises(NoWorkingDayFound):
        adjust(date(2026, 1, 1), BusinessDayRule.FOLLOWING, _NeverOpen())


@settings(max_examples=300, database=None)
@given(
    st.dates(min_value=date(2004, 1, 1), max_value=date(2035, 12, 31)),
    st.sampled_from([CHINA, WEEKENDS]),
)
def test_adjustment_properties(day: date, calendar: ChinaCalendar | WeekendCalendar) -> None:
    following = adjust(day, BusinessDayRule.FOLLOWING, calendar)
    preceding = adjust(day, BusinessDayRule.PRECEDING, calendar)
    modified = adjust(day, BusinessDayRule.MODIFIED_FOLLOWING, calendar)
    assert calendar.is_working_day(following)
    assert calendar.is_working_day(preceding)
    assert calendar.is_working_day(modified)
    assert preceding <= day <= following
    assert modified.month == day.month or modified == following
    assert modified in (following, preceding)
    assert adjust(day, BusinessDayRule.NONE, calendar) == day
    # No working day is skipped: everything strictly between them is a day off.
    probe = day
    while probe < following:
        assert not calendar.is_working_day(probe)
        probe += timedelta(days=1)
