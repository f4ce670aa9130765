"""Invariants of the schedule engine over random terms (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from domain.kernel.calendar import BusinessDayRule, Calendar, ChinaCalendar, WeekendCalendar
from domain.kernel.daycount import DayCountConvention
from domain.kernel.money import Money
from domain.loans.policy import (
    PeriodUnit,
    RepaymentMethod,
    Schedule,
    ScheduleTerms,
    build_schedule,
    quote_cost,
)

SETTINGS = settings(
    max_examples=300,
    deadline=None,  # the first China-calendar lookups warm a cache; timing is not under test
    database=None,  # keep no example database in the work tree
    suppress_health_check=[HealthCheck.too_slow],
)

amounts = st.integers(min_value=1, max_value=10**9)
# 0 to 36 % a year in basis points of a basis point (4 decimals: 0.1234 = 12.34 %).
rates = st.integers(min_value=0, max_value=3600).map(lambda bp: Decimal(bp).scaleb(-4))
period_counts = st.integers(min_value=1, max_value=60)
methods = st.sampled_from(list(RepaymentMethod))
conventions = st.sampled_from(list(DayCountConvention))
currencies = st.sampled_from(["CNY", "JPY"])
start_dates = st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))
_CALENDARS: list[Calendar] = [ChinaCalendar(), WeekendCalendar()]
calendars = st.sampled_from(_CALENDARS)


@st.composite
def schedule_terms(draw: st.DrawFn) -> ScheduleTerms:
    """Random valid terms. Business-day rules are drawn for MONTH and QUARTER periods only:
    with WEEK or DAY periods a week-long holiday can legitimately fold two due dates together,
    which the engine refuses (see the worked examples)."""
    unit = draw(st.sampled_from(list(PeriodUnit)))
    start = draw(start_dates)
    period_days = draw(st.integers(min_value=1, max_value=400)) if unit is PeriodUnit.DAY else None
    if unit in (PeriodUnit.MONTH, PeriodUnit.QUARTER):
        rule = draw(st.sampled_from(list(BusinessDayRule)))
        calendar = (
            draw(calendars) if rule is not BusinessDayRule.NONE else draw(st.none() | calendars)
        )
        # An irregular first period of 15 to 75 days (sometimes none): at least 15 days so
        # that PRECEDING across the longest Chinese holiday cannot reach the value date.
        first_due = draw(
            st.none() | st.integers(min_value=15, max_value=75).map(lambda d: start + timedelta(d))
        )
    else:
        rule, calendar = BusinessDayRule.NONE, None
        first_due = draw(
            st.none() | st.integers(min_value=1, max_value=60).map(lambda d: start + timedelta(d))
        )
    return ScheduleTerms(
        principal=Money(draw(amounts), draw(currencies)),
        annual_rate=draw(rates),
        periods=draw(period_counts),
        method=draw(methods),
        start_date=start,
        period_unit=unit,
        period_days=period_days,
        first_due_date=first_due,
        day_count=draw(conventions),
        business_day_rule=rule,
        calendar=calendar,
    )


def _check_invariants(schedule: Schedule) -> None:
    terms = schedule.terms
    lines = schedule.installments
    currency = terms.principal.currency
    zero = Money.zero(currency)

    expected_count = 1 if terms.method is RepaymentMethod.BULLET else terms.periods
    assert [line.number for line in lines] == list(range(1, expected_count + 1))

    # Principal sums to the amount to the minor unit; totals are the sums of the lines.
    assert Money.sum((line.principal for line in lines), currency) == terms.principal
    assert schedule.total_principal == terms.principal
    assert schedule.total_interest == Money.sum((line.interest for line in lines), currency)
    assert schedule.total_payment == schedule.total_principal + schedule.total_interest

    previous_due = terms.start_date
    expected_opening = terms.principal
    expected_start = terms.start_date
    for line in lines:
        # Nothing negative, and each total is its parts.
        assert line.principal >= zero
        assert line.interest >= zero
        assert line.total >= zero
        assert line.total == line.principal + line.interest
        # Balance chain.
        assert line.opening_balance == expected_opening
        assert line.closing_balance == line.opening_balance - line.principal
        assert line.closing_balance >= zero
        expected_opening = line.closing_balance
        # Accrual periods tile the term without gaps; due dates strictly increase.
        assert line.period_start == expected_start
        assert line.period_end > line.period_start
        expected_start = line.period_end
        assert line.due_date > previous_due
        previous_due = line.due_date
        # Due dates move only by the business-day rule, onto a working day.
        if terms.business_day_rule is BusinessDayRule.NONE:
            assert line.due_date == line.period_end
        else:
            assert terms.calendar is not None
            assert terms.calendar.is_working_day(line.due_date)
            assert abs((line.due_date - line.period_end).days) <= 14

    assert lines[-1].closing_balance == zero
    if terms.annual_rate == 0:
        assert schedule.total_interest == zero
    # The first period ends on the first due date, except in a BULLET, whose only period runs
    # to maturity.
    if terms.first_due_date is not None and terms.method is not RepaymentMethod.BULLET:
        assert lines[0].period_end == terms.first_due_date


@SETTINGS
@given(schedule_terms())
def test_schedule_invariants(terms: ScheduleTerms) -> None:
    schedule = build_schedule(terms)
    _check_invariants(schedule)
    assert build_schedule(terms) == schedule  # deterministic


@SETTINGS
@given(amounts, rates, period_counts, methods, start_dates)
def test_plain_monthly_cny_invariants(
    amount: int, rate: Decimal, periods: int, method: RepaymentMethod, start: date
) -> None:
    # The brief's exact ranges on the most common shape: CNY, monthly, no calendar.
    terms = ScheduleTerms(Money(amount, "CNY"), rate, periods, method, start)
    _check_invariants(build_schedule(terms))


@SETTINGS
@given(
    st.integers(min_value=1, max_value=60).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(min_value=100 * n, max_value=10**9))
    ),
    rates,
    start_dates,
)
def test_equal_installments_are_level(
    n_and_amount: tuple[int, int], rate: Decimal, start: date
) -> None:
    # With a regular first period every instalment but the last is the same amount (the
    # annuity payment); with at least 1.00 per period the last-line clamp never applies.
    periods, amount = n_and_amount
    schedule = build_schedule(
        ScheduleTerms(Money(amount, "CNY"), rate, periods, RepaymentMethod.EQUAL_INSTALLMENT, start)
    )
    totals = {line.total for line in schedule.installments[:-1]}
    assert len(totals) <= 1


@SETTINGS
@given(
    st.integers(min_value=1, max_value=60).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(min_value=n * n, max_value=10**9))
    ),
    rates,
    start_dates,
)
def test_equal_principal_shares_are_equal(
    n_and_amount: tuple[int, int], rate: Decimal, start: date
) -> None:
    # Every principal but the last is round(P / n); the interest falls as the balance does.
    periods, amount = n_and_amount
    schedule = build_schedule(
        ScheduleTerms(Money(amount, "CNY"), rate, periods, RepaymentMethod.EQUAL_PRINCIPAL, start)
    )
    lines = schedule.installments
    assert len({line.principal for line in lines[:-1]}) <= 1
    interests = [line.interest for line in lines]
    assert interests == sorted(interests, reverse=True)


@SETTINGS
@given(schedule_terms())
def test_interest_only_and_bullet_shapes(terms: ScheduleTerms) -> None:
    assume(terms.method in (RepaymentMethod.INTEREST_ONLY, RepaymentMethod.BULLET))
    lines = build_schedule(terms).installments
    assert all(line.principal.is_zero() for line in lines[:-1])
    assert lines[-1].principal == terms.principal
    assert all(line.opening_balance == terms.principal for line in lines)


@settings(max_examples=60, deadline=None, database=None)
@given(schedule_terms(), st.integers(min_value=0, max_value=50))
def test_apr_properties(terms: ScheduleTerms, fee_per_mille: int) -> None:
    # Fees up to 5 %: larger fees on one-day terms annualise beyond the quotable range, which
    # quote_cost refuses (tested among the worked examples).
    schedule = build_schedule(terms)
    currency = terms.principal.currency
    fee_minor = terms.principal.amount_minor * fee_per_mille // 1000
    assume(fee_minor < terms.principal.amount_minor)
    without = quote_cost(schedule, Money.zero(currency))
    with_fee = quote_cost(schedule, Money(fee_minor, currency))
    # Costs are never negative and a fee never makes credit cheaper.
    assert without.apr >= 0
    assert with_fee.apr >= without.apr
    assert with_fee.total_cost_of_credit == schedule.total_interest + Money(fee_minor, currency)
    assert without.apr == without.apr.quantize(Decimal("0.0001"))
    if schedule.total_interest.is_zero():
        assert without.apr == 0
    # The nominal rate compounded monthly never exceeds the effective rate.
    assert quote_cost(schedule, Money.zero(currency), compounding_per_year=12).apr <= without.apr


@SETTINGS
@given(schedule_terms())
def test_adjustment_never_changes_money(terms: ScheduleTerms) -> None:
    # Interest accrues to the scheduled date, so a business-day rule moves due dates only.
    assume(terms.business_day_rule is not BusinessDayRule.NONE)
    unadjusted = replace(terms, business_day_rule=BusinessDayRule.NONE)
    adjusted_lines = build_schedule(terms).installments
    plain_lines = build_schedule(unadjusted).installments
    for a, b in zip(adjusted_lines, plain_lines, strict=True):
        assert (a.principal, a.interest, a.period_end) == (b.principal, b.interest, b.period_end)
