"""Worked examples of the schedule engine. Every figure is derived by hand in the comments.

Notation: P principal, r periodic rate, n periods, B_k balance at the start of period k,
round() is half-up to the fen (0.005 -> 0.01).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext

import pytest

from domain.kernel.calendar import BusinessDayRule, ChinaCalendar, WeekendCalendar
from domain.kernel.daycount import DayCountConvention
from domain.kernel.money import CurrencyMismatch, Money
from domain.loans.policy import (
    PeriodUnit,
    RepaymentMethod,
    Schedule,
    ScheduleError,
    ScheduleTerms,
    build_schedule,
    quote_cost,
)
from domain.products import policy as product_policy
from domain.products.models import FeeKind
from domain.products.policy import OriginationFee
from tests.products_support import consumer_terms

CNY = "CNY"
START = date(2026, 1, 15)
EI = RepaymentMethod.EQUAL_INSTALLMENT
EP = RepaymentMethod.EQUAL_PRINCIPAL
IO = RepaymentMethod.INTEREST_ONLY
BULLET = RepaymentMethod.BULLET


def cny(text: str) -> Money:
    return Money.parse(text, CNY)


def column(schedule: Schedule, name: str) -> list[str]:
    values: list[str] = []
    for line in schedule.installments:
        value = getattr(line, name)
        assert isinstance(value, Money)
        values.append(value.to_decimal_string())
    return values


def terms(**overrides: object) -> ScheduleTerms:
    """100,000.00 CNY, 12 % a year, 12 monthly periods from 2026-01-15, unless overridden."""
    base: dict[str, object] = {
        "principal": cny("100000.00"),
        "annual_rate": Decimal("0.12"),
        "periods": 12,
        "method": EI,
        "start_date": START,
    }
    base.update(overrides)
    return ScheduleTerms(**base)  # type: ignore[arg-type]


# -- EQUAL_INSTALLMENT ---------------------------------------------------------------------------


def test_equal_installment_100k_12_months_at_12_percent() -> None:
    # r = 12 % / 12 = 1 % a month (annual_rate / 12, as Chinese lenders quote it).
    # Payment = P r / (1 - (1 + r)^-n) = 1,000 / (1 - 1.01^-12)
    #         = 1,000 / (1 - 0.8874492) = 1,000 / 0.1125508 = 8,884.8788 -> 8,884.88.
    # Month 1: interest = 100,000.00 x 1 % = 1,000.00; principal = 8,884.88 - 1,000.00 = 7,884.88;
    #          B_2 = 92,115.12. Month 2: interest = round(921.1512) = 921.15, and so on.
    # Month 12: B_12 = 8,796.88 (what is left), interest = round(87.9688) = 87.97,
    #          instalment = 8,796.88 + 87.97 = 8,884.85 (the last one absorbs the rounding).
    # Total interest = 11 x 8,884.88 + 8,884.85 - 100,000.00 = 106,618.53 - 100,000.00 = 6,618.53.
    schedule = build_schedule(terms())
    lines = schedule.installments
    assert [line.number for line in lines] == list(range(1, 13))
    assert column(schedule, "total") == ["8884.88"] * 11 + ["8884.85"]
    assert lines[0].interest == cny("1000.00")
    assert lines[0].principal == cny("7884.88")
    assert lines[1].interest == cny("921.15")
    # Each interest is round(B_k x 1 %); a reviewer can check every line against its balance.
    assert column(schedule, "interest") == [
        "1000.00", "921.15", "841.51", "761.08", "679.84", "597.79",
        "514.92", "431.22", "346.68", "261.30", "175.07", "87.97",
    ]  # fmt: skip
    for line in lines:
        assert line.interest == Money.from_decimal(
            line.opening_balance.to_decimal() / 100, CNY, rounding="ROUND_HALF_UP"
        )
    assert lines[-1].opening_balance == cny("8796.88")
    assert lines[-1].principal == cny("8796.88")
    assert lines[-1].interest == cny("87.97")
    assert schedule.total_interest == cny("6618.53")
    assert schedule.total_principal == cny("100000.00")
    assert schedule.total_payment == cny("106618.53")
    assert lines[-1].closing_balance == cny("0.00")
    # Monthly due dates on the 15th, no business-day rule: 2026-02-15 ... 2027-01-15.
    assert lines[0].due_date == date(2026, 2, 15)
    assert lines[-1].due_date == date(2027, 1, 15) == schedule.maturity_date


def test_equal_installment_quarterly() -> None:
    # r = 12 % / 4 = 3 % a quarter; payment = 3,000 / (1 - 1.03^-4) = 3,000 / 0.1115130
    # = 26,902.705 -> 26,902.70. Quarter 1 interest 3,000.00, principal 23,902.70.
    # Totals: 3 x 26,902.70 = 80,708.10; B_4 = 100,000 - principal paid so far; last instalment
    # = B_4 + round(3 % x B_4), checked below from the engine's own balance.
    schedule = build_schedule(terms(periods=4, period_unit=PeriodUnit.QUARTER))
    assert column(schedule, "total")[:3] == ["26902.70"] * 3
    assert schedule.installments[0].interest == cny("3000.00")
    assert [line.due_date for line in schedule.installments] == [
        date(2026, 4, 15), date(2026, 7, 15), date(2026, 10, 15), date(2027, 1, 15),
    ]  # fmt: skip
    last = schedule.installments[-1]
    # B_2 = 76,097.30; B_3 = 76,097.30 - (26,902.70 - 2,282.92) = 51,477.52;
    # B_4 = 51,477.52 - (26,902.70 - 1,544.33) = 26,119.15; interest 783.57 (783.5745);
    # last = 26,119.15 + 783.57 = 26,902.72.
    assert last.opening_balance == cny("26119.15")
    assert last.interest == cny("783.57")
    assert last.total == cny("26902.72")
    assert schedule.total_principal == cny("100000.00")


def test_equal_installment_in_yen_rounds_to_whole_yen() -> None:
    # 1,000,000 JPY (no minor unit), same 1 % a month: payment = 88,848.788 -> 88,849.
    schedule = build_schedule(terms(principal=Money.parse("1000000", "JPY")))
    assert schedule.installments[0].total == Money(88849, "JPY")
    assert schedule.installments[0].interest == Money(10000, "JPY")
    assert schedule.total_principal == Money(1000000, "JPY")


def test_zero_rate_equal_installment() -> None:
    # No interest: 100,000.00 / 12 = 8,333.333 -> 8,333.33 x 11, last 8,333.37.
    schedule = build_schedule(terms(annual_rate=Decimal(0)))
    assert column(schedule, "total") == ["8333.33"] * 11 + ["8333.37"]
    assert schedule.total_interest == cny("0.00")


# -- EQUAL_PRINCIPAL -----------------------------------------------------------------------------


def test_equal_principal_100k_12_months_at_12_percent() -> None:
    # Principal share = 100,000.00 / 12 = 8,333.333 -> 8,333.33 for months 1-11;
    # month 12 repays the rest: 100,000.00 - 11 x 8,333.33 = 100,000.00 - 91,666.63 = 8,333.37.
    # B_k = 100,000.00 - (k - 1) x 8,333.33; interest_k = round(B_k x 1 %):
    #   1,000.00; 916.6667 -> 916.67; 833.3334 -> 833.33; 750.0001 -> 750.00; 666.67; 583.33;
    #   500.00; 416.67; 333.33; 250.00; 166.67; 83.3337 -> 83.33 (falling by 83.33 or 83.34).
    # Sum: pairs (916.67 + 83.33), (833.33 + 166.67), (750 + 250), (666.67 + 333.33),
    #   (583.33 + 416.67) are 1,000.00 each, plus 1,000.00 + 500.00 = 6,500.00.
    schedule = build_schedule(terms(method=EP))
    assert column(schedule, "principal") == ["8333.33"] * 11 + ["8333.37"]
    assert column(schedule, "interest") == [
        "1000.00", "916.67", "833.33", "750.00", "666.67", "583.33",
        "500.00", "416.67", "333.33", "250.00", "166.67", "83.33",
    ]  # fmt: skip
    assert schedule.total_interest == cny("6500.00")
    assert schedule.total_principal == cny("100000.00")
    assert schedule.installments[0].total == cny("9333.33")
    assert schedule.installments[-1].total == cny("8416.70")


# -- BULLET --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("convention", "interest"),
    [
        # 100,000.00 x 12 % x 90 / 360 = 3,000.00 exactly.
        (DayCountConvention.ACT_360, "3000.00"),
        # 100,000.00 x 12 % x 90 / 365 = 2,958.9041 -> 2,958.90.
        (DayCountConvention.ACT_365, "2958.90"),
        # 2026-01-15 -> 2026-04-15 is 3 x 30 = 90 days under 30/360 too: 3,000.00.
        (DayCountConvention.THIRTY_360, "3000.00"),
    ],
)
def test_bullet_90_days(convention: DayCountConvention, interest: str) -> None:
    schedule = build_schedule(
        terms(
            method=BULLET,
            periods=1,
            period_unit=PeriodUnit.DAY,
            period_days=90,
            day_count=convention,
        )
    )
    (line,) = schedule.installments
    # 2026-01-15 + 90 days = 2026-04-15 (16 + 28 + 31 + 15 days).
    assert line.period_start == START
    assert line.period_end == line.due_date == date(2026, 4, 15)
    assert line.principal == cny("100000.00")
    assert line.interest == cny(interest)
    assert line.total == cny("100000.00") + cny(interest)
    assert line.closing_balance == cny("0.00")


def test_bullet_over_months_is_charged_by_actual_days() -> None:
    # Three monthly periods, one payment: 2026-01-15 -> 2026-04-15 is 90 actual days, so ACT/365
    # gives the same 2,958.90 as the 90-day term (not 3 x 1,000.00).
    schedule = build_schedule(terms(method=BULLET, periods=3))
    (line,) = schedule.installments
    assert line.due_date == date(2026, 4, 15)
    assert line.interest == cny("2958.90")


def test_rounding_mode_is_a_parameter() -> None:
    # 250.00 CNY at 3.65 % for one day, ACT/365: 25,000 fen x 0.0365 / 365 = 2.5 fen: a tie.
    for rounding, fen in (("ROUND_HALF_UP", 3), (ROUND_HALF_EVEN, 2), (ROUND_DOWN, 2)):
        schedule = build_schedule(
            terms(
                principal=cny("250.00"),
                annual_rate=Decimal("0.0365"),
                method=BULLET,
                periods=1,
                period_unit=PeriodUnit.DAY,
                period_days=1,
                rounding=rounding,
            )
        )
        assert schedule.installments[0].interest == Money(fen, CNY)


# -- INTEREST_ONLY and business days -------------------------------------------------------------


def test_interest_only_three_months_with_china_holidays() -> None:
    # 100,000.00 at 12 %: 1,000.00 interest a month (annual_rate / 12), principal at the end.
    # Value date 2026-07-01, scheduled period ends 08-01, 09-01, 10-01.
    #   2026-08-01 is a Saturday          -> FOLLOWING -> Monday 2026-08-03
    #   2026-09-01 is a Tuesday           -> stays
    #   2026-10-01 is National Day (10-01..10-07 off, 10-08 a working Thursday) -> 2026-10-08
    # Interest accrues to the scheduled dates, so each period is still one month and 1,000.00,
    # and period 3 still runs 09-01 -> 10-01.
    schedule = build_schedule(
        terms(
            method=IO,
            periods=3,
            start_date=date(2026, 7, 1),
            business_day_rule=BusinessDayRule.FOLLOWING,
            calendar=ChinaCalendar(),
        )
    )
    lines = schedule.installments
    assert [line.due_date for line in lines] == [
        date(2026, 8, 3), date(2026, 9, 1), date(2026, 10, 8),
    ]  # fmt: skip
    assert [line.period_end for line in lines] == [
        date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1),
    ]  # fmt: skip
    assert lines[2].period_start == date(2026, 9, 1)
    assert column(schedule, "interest") == ["1000.00"] * 3
    assert column(schedule, "principal") == ["0.00", "0.00", "100000.00"]
    assert column(schedule, "total") == ["1000.00", "1000.00", "101000.00"]
    assert column(schedule, "closing_balance") == ["100000.00", "100000.00", "0.00"]
    assert schedule.total_interest == cny("3000.00")


def test_make_up_working_saturday_is_a_due_date() -> None:
    # Value date 2026-07-10: period ends 08-10 (Mon), 09-10 (Thu), 10-10 (Sat). 2026-10-10 is a
    # make-up working day (调休) in China, so the due date stays; a plain Mon-Fri calendar
    # moves it to Monday 10-12.
    china = build_schedule(
        terms(
            method=IO,
            periods=3,
            start_date=date(2026, 7, 10),
            business_day_rule=BusinessDayRule.FOLLOWING,
            calendar=ChinaCalendar(),
        )
    )
    weekdays = build_schedule(
        terms(
            method=IO,
            periods=3,
            start_date=date(2026, 7, 10),
            business_day_rule=BusinessDayRule.FOLLOWING,
            calendar=WeekendCalendar(),
        )
    )
    assert china.installments[-1].due_date == date(2026, 10, 10)
    assert weekdays.installments[-1].due_date == date(2026, 10, 12)


def test_business_day_rule_moves_only_due_dates() -> None:
    # The same loan with and without adjustment: identical money, only due dates differ.
    plain = build_schedule(terms(start_date=date(2026, 7, 1)))
    moved = build_schedule(
        terms(
            start_date=date(2026, 7, 1),
            business_day_rule=BusinessDayRule.FOLLOWING,
            calendar=ChinaCalendar(),
        )
    )
    for a, b in zip(plain.installments, moved.installments, strict=True):
        assert (a.principal, a.interest, a.period_start, a.period_end) == (
            b.principal,
            b.interest,
            b.period_start,
            b.period_end,
        )
    assert plain.installments[3].due_date == date(2026, 11, 1)  # a Sunday
    assert moved.installments[3].due_date == date(2026, 11, 2)
    assert moved.installments[2].due_date == date(2026, 10, 8)


def test_month_end_anchor_does_not_drift() -> None:
    # Value date 2026-01-31: due 02-28, then back to 03-31, 04-30, ... (counted from the anchor).
    schedule = build_schedule(terms(start_date=date(2026, 1, 31), periods=4))
    assert [line.due_date for line in schedule.installments] == [
        date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31),
    ]  # fmt: skip
    # Every regular month is charged 1 %, whatever its length (28 or 31 days).
    assert schedule.installments[0].interest == cny("1000.00")


# -- irregular first period ----------------------------------------------------------------------


def test_long_first_period_is_prorated_by_days() -> None:
    # Value date 2026-01-10, first due date 2026-02-20: 21 + 20 = 41 days instead of a month.
    # Interest 1 = 100,000.00 x 12 % x 41 / 365 = 1,347.9452 -> 1,347.95.
    # Principal 1 is what a regular month would repay: 8,884.88 - 1,000.00 = 7,884.88, so
    # instalment 1 = 7,884.88 + 1,347.95 = 9,232.83 and every later line equals the regular
    # schedule's (8,884.88 ..., last 8,884.85), due on the 20th of each month.
    schedule = build_schedule(terms(start_date=date(2026, 1, 10), first_due_date=date(2026, 2, 20)))
    first = schedule.installments[0]
    assert (first.period_start, first.period_end) == (date(2026, 1, 10), date(2026, 2, 20))
    assert first.interest == cny("1347.95")
    assert first.principal == cny("7884.88")
    assert first.total == cny("9232.83")
    assert column(schedule, "total")[1:] == ["8884.88"] * 10 + ["8884.85"]
    assert schedule.installments[1].due_date == date(2026, 3, 20)
    assert schedule.installments[-1].due_date == date(2027, 1, 20)
    # Total interest = regular 6,618.53 + (1,347.95 - 1,000.00) = 6,966.48.
    assert schedule.total_interest == cny("6966.48")
    assert schedule.total_principal == cny("100000.00")


def test_short_first_period_under_act_360() -> None:
    # Value date 2026-01-10, first due 2026-02-01: 22 days.
    # ACT/360: 100,000.00 x 12 % x 22 / 360 = 733.3333 -> 733.33.
    schedule = build_schedule(
        terms(
            method=EP,
            start_date=date(2026, 1, 10),
            first_due_date=date(2026, 2, 1),
            day_count=DayCountConvention.ACT_360,
        )
    )
    assert schedule.installments[0].interest == cny("733.33")
    assert schedule.installments[0].principal == cny("8333.33")
    # Period 2 (02-01 -> 03-01) is regular again: round(91,666.67 x 1 %) = 916.67.
    assert schedule.installments[1].interest == cny("916.67")


def test_first_due_date_one_month_out_is_regular() -> None:
    # Giving the date a regular schedule would have anyway changes nothing.
    assert build_schedule(terms(first_due_date=date(2026, 2, 15))).installments == (
        build_schedule(terms()).installments
    )


# -- schedules that cannot be built --------------------------------------------------------------


def test_holiday_folding_two_due_dates_is_refused() -> None:
    # Weekly periods from Thursday 2026-09-24: ends 10-01 and 10-08. FOLLOWING moves 10-01 to
    # 10-08, onto the next due date; such a schedule is refused rather than silently merged.
    # Instalment 1 is moved to 10-08; instalment 2, due 10-08 as scheduled, is then not after
    # it. The message is what a quote refusal shows (the product quote passes it on as is).
    message = (
        r"^instalment 2: due date 2026-10-08 \(scheduled 2026-10-08\) is not after 2026-10-08; "
        r"the business-day rule folds two dates together$"
    )
    with pytest.raises(ScheduleError, match=message):
        build_schedule(
            terms(
                method=IO,
                periods=3,
                start_date=date(2026, 9, 24),
                period_unit=PeriodUnit.WEEK,
                business_day_rule=BusinessDayRule.FOLLOWING,
                calendar=ChinaCalendar(),
            )
        )


def test_preceding_onto_the_value_date_is_refused() -> None:
    # One-day period from Friday 2026-10-16 ends Saturday 10-17; PRECEDING gives Friday 10-16.
    with pytest.raises(ScheduleError):
        build_schedule(
            terms(
                method=BULLET,
                periods=1,
                start_date=date(2026, 10, 16),
                period_unit=PeriodUnit.DAY,
                period_days=1,
                business_day_rule=BusinessDayRule.PRECEDING,
                calendar=WeekendCalendar(),
            )
        )


@pytest.mark.parametrize(
    "overrides",
    [
        {"principal": cny("0.00")},
        {"principal": cny("-1.00")},
        {"annual_rate": Decimal(12)},  # 12 meant as 12 %
        {"annual_rate": Decimal("-0.01")},
        {"annual_rate": Decimal("NaN")},
        {"annual_rate": 0.12},  # a float
        {"periods": 0},
        {"periods": 1201},
        {"periods": 12.0},
        {"period_unit": PeriodUnit.DAY},  # no period_days
        {"period_unit": PeriodUnit.DAY, "period_days": 0},
        {"period_days": 30},  # period_days with MONTH
        {"first_due_date": START},
        {"first_due_date": date(2026, 1, 1)},
        {"business_day_rule": BusinessDayRule.FOLLOWING},  # no calendar
        {"rounding": "HALF_UP"},
    ],
)
def test_invalid_terms(overrides: dict[str, object]) -> None:
    with pytest.raises(ScheduleError):
        terms(**overrides)


# -- cost of credit ------------------------------------------------------------------------------


def _npv(net: Decimal, flows: list[tuple[Decimal, Decimal]], annual: Decimal) -> Decimal:
    """net - sum(amount / (1 + annual)^t), an independent re-computation for the tests."""
    with localcontext() as ctx:
        ctx.prec = 50
        log = (1 + annual).ln()
        return net - sum((amount * (-t * log).exp() for t, amount in flows), Decimal(0))


def test_quote_without_fees() -> None:
    # No fees and due dates exactly k months after the value date (t_k = k/12 years): the
    # monthly IRR is 1 % (up to the cent rounding of the instalments), so the effective annual
    # rate is 1.01^12 - 1 = 0.126825 -> 0.1268 and the nominal "IRR x 12" is 0.1200.
    schedule = build_schedule(terms())
    quote = quote_cost(schedule, cny("0.00"))
    assert quote.apr == Decimal("0.1268")
    assert quote.total_interest == cny("6618.53")
    assert quote.total_cost_of_credit == cny("6618.53")
    assert quote.total_repayable == cny("106618.53")
    assert quote.net_disbursed == cny("100000.00")
    assert quote_cost(schedule, cny("0.00"), compounding_per_year=12).apr == Decimal("0.1200")


def test_quote_with_upfront_fee() -> None:
    # 1,000.00 fee deducted at disbursement: the borrower receives 99,000.00 and repays the same
    # 11 x 8,884.88 + 8,884.85. Total cost of credit = 6,618.53 + 1,000.00 = 7,618.53.
    # The monthly IRR i solves 99,000 = sum 8,884.88 / (1 + i)^k (k = 1..12): the annuity factor
    # 99,000 / 8,884.88 = 11.1425 against 11.2551 at 1 %, which puts i at about 1.1594 % a month.
    # Effective: 1.011594^12 - 1 = 0.14836 -> 0.1484. Nominal: 12 x 1.1594 % = 0.13913 -> 0.1391.
    # The independent NPV below brackets both to 4 decimals.
    schedule = build_schedule(terms())
    quote = quote_cost(schedule, cny("1000.00"))
    assert quote.net_disbursed == cny("99000.00")
    assert quote.total_cost_of_credit == cny("7618.53")
    assert quote.apr == Decimal("0.1484")
    flows = [
        (Decimal(k) / 12, line.total.to_decimal())
        for k, line in enumerate(schedule.installments, start=1)
    ]
    net = Decimal("99000.00")
    assert _npv(net, flows, Decimal("0.14835")) < 0 < _npv(net, flows, Decimal("0.14845"))
    nominal = quote_cost(schedule, cny("1000.00"), compounding_per_year=12).apr
    assert nominal == Decimal("0.1391")

    def effective(nominal_rate: str) -> Decimal:
        return (1 + Decimal(nominal_rate) / 12) ** 12 - 1

    assert _npv(net, flows, effective("0.13905")) < 0 < _npv(net, flows, effective("0.13915"))


def test_quote_bullet() -> None:
    # 90-day ACT/360 bullet from 2026-01-15 to 2026-04-15: exactly 3 months = 0.25 year.
    # 100,000 received, 103,000 repaid: (1.03)^4 - 1 = 0.12550881 -> 0.1255.
    schedule = build_schedule(
        terms(
            method=BULLET,
            periods=1,
            period_unit=PeriodUnit.DAY,
            period_days=90,
            day_count=DayCountConvention.ACT_360,
        )
    )
    assert quote_cost(schedule, cny("0.00")).apr == Decimal("0.1255")


def test_quote_uses_actual_due_dates() -> None:
    # Paying later (a due date moved past a holiday) lowers the APR slightly: the same money is
    # held longer. Interest-only, value date 2026-07-01, last due date moved 10-01 -> 10-08.
    plain = build_schedule(terms(method=IO, periods=3, start_date=date(2026, 7, 1)))
    moved = build_schedule(
        terms(
            method=IO,
            periods=3,
            start_date=date(2026, 7, 1),
            business_day_rule=BusinessDayRule.FOLLOWING,
            calendar=ChinaCalendar(),
        )
    )
    assert quote_cost(plain, cny("0.00")).apr == Decimal("0.1268")
    assert quote_cost(moved, cny("0.00")).apr < Decimal("0.1268")


def test_zero_rate_no_fee_quotes_zero() -> None:
    schedule = build_schedule(terms(annual_rate=Decimal(0)))
    assert quote_cost(schedule, cny("0.00")).apr == Decimal("0.0000")


def test_quote_refuses_bad_fees() -> None:
    # The messages reach the borrower (a product quote passes them on as its userError).
    schedule = build_schedule(terms())
    with pytest.raises(CurrencyMismatch, match=r"^fees in USD, loan in CNY$"):
        quote_cost(schedule, Money.parse("10.00", "USD"))
    with pytest.raises(ScheduleError, match=r"^fees cannot be negative$"):
        quote_cost(schedule, cny("-1.00"))
    with pytest.raises(ScheduleError, match=r"^fees must be less than the principal$"):
        quote_cost(schedule, cny("100000.00"))
    with pytest.raises(ScheduleError, match=r"^compounding_per_year must be a positive integer$"):
        quote_cost(schedule, cny("0.00"), compounding_per_year=0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"first_due_date": START}, "first_due_date must be after start_date"),
        ({"annual_rate": Decimal(12)}, "annual_rate must be between 0 and 1 (0.12 means 12 %)"),
        ({"periods": 0}, "periods must be an integer from 1 to 1200"),
        ({"business_day_rule": BusinessDayRule.FOLLOWING}, "a business-day rule needs a calendar"),
    ],
)
def test_refusals_say_what_is_wrong(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ScheduleError) as refused:
        terms(**overrides)
    assert str(refused.value) == message


def test_enum_values_are_the_stored_and_published_names() -> None:
    # Products store these values and the API publishes them: they are a contract.
    assert [m.value for m in RepaymentMethod] == [
        "EQUAL_INSTALLMENT", "EQUAL_PRINCIPAL", "INTEREST_ONLY", "BULLET",
    ]  # fmt: skip
    assert [u.value for u in PeriodUnit] == ["MONTH", "QUARTER", "WEEK", "DAY"]


def test_quote_extreme_but_finite_and_beyond_range() -> None:
    # One-day bullet of 100.00 at 0 % with a 5.00 fee: 95.00 received, 100.00 repaid a day
    # later. Effective APR = (100 / 95)^365 - 1 = 1.0526316^365 - 1, about 1.3e8: absurd but
    # quotable. With a 50.00 fee it would be 2^365 - 1 (about 7.5e109): refused.
    one_day = build_schedule(
        terms(
            principal=cny("100.00"),
            annual_rate=Decimal(0),
            method=BULLET,
            periods=1,
            period_unit=PeriodUnit.DAY,
            period_days=1,
        )
    )
    apr = quote_cost(one_day, cny("5.00")).apr
    with localcontext() as ctx:
        ctx.prec = 50
        expected = ((Decimal(100) / 95) ** 365 - 1).quantize(Decimal("0.0001"))
    assert apr == expected
    with pytest.raises(ScheduleError, match=r"^APR is beyond any quotable range$"):
        quote_cost(one_day, cny("50.00"))


# -- day counts that differ ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("convention", "interest"),
    [
        # 2026-01-31 -> 2026-03-31 is 28 + 31 = 59 actual days. 30/360 counts D1 = 31 -> 30,
        # then D2 = 31 -> 30 because D1 is 30: 30 x (3 - 1) + (30 - 30) = 60 days.
        # Interest = 100,000.00 x 12 % x days / basis = 12,000.00 x days / basis:
        (DayCountConvention.ACT_365, "1939.73"),  # 12,000 x 59 / 365 = 1,939.7260
        (DayCountConvention.ACT_360, "1966.67"),  # 12,000 x 59 / 360 = 1,966.6667
        (DayCountConvention.THIRTY_360, "2000.00"),  # 12,000 x 60 / 360 = 2,000.00
    ],
)
def test_bullet_over_february_by_day_count(convention: DayCountConvention, interest: str) -> None:
    schedule = build_schedule(
        terms(method=BULLET, periods=2, start_date=date(2026, 1, 31), day_count=convention)
    )
    (line,) = schedule.installments
    assert (line.period_start, line.period_end) == (date(2026, 1, 31), date(2026, 3, 31))
    assert line.interest == cny(interest)
    assert line.total == cny("100000.00") + cny(interest)


@pytest.mark.parametrize(
    ("convention", "first_interest"),
    [
        # First period 2026-01-30 -> 2026-03-01 (irregular: a regular month would end on
        # 02-28): 2 + 28 = 30 actual days; 30/360: 30 x (3 - 1) + (1 - 30) = 31 days.
        (DayCountConvention.ACT_365, "986.30"),  # 12,000 x 30 / 365 = 986.3014
        (DayCountConvention.ACT_360, "1000.00"),  # 12,000 x 30 / 360
        (DayCountConvention.THIRTY_360, "1033.33"),  # 12,000 x 31 / 360 = 1,033.3333
    ],
)
def test_irregular_first_period_over_february_by_day_count(
    convention: DayCountConvention, first_interest: str
) -> None:
    schedule = build_schedule(
        terms(
            method=EP,
            periods=3,
            start_date=date(2026, 1, 30),
            first_due_date=date(2026, 3, 1),
            day_count=convention,
        )
    )
    # Share 100,000.00 / 3 = 33,333.33 (the last repays 33,333.34). Period 2 (03-01 -> 04-01)
    # is a regular month whatever the convention: 1 % of 66,666.67 = 666.6667 -> 666.67;
    # period 3: 1 % of 33,333.34 = 333.33.
    assert column(schedule, "interest") == [first_interest, "666.67", "333.33"]
    assert column(schedule, "principal") == ["33333.33", "33333.33", "33333.34"]


@pytest.mark.parametrize(
    ("convention", "interest"),
    [
        # Weeks from Monday 2026-01-26: 01-26 -> 02-02 and 02-02 -> 02-09, 7 actual days
        # each. 30/360 counts the first as 30 x (2 - 1) + (2 - 26) = 6 days, the second 7.
        # 100,000.00 at 36 %: 36,000.00 a year, 100.00 a day on a 360-day basis.
        (DayCountConvention.THIRTY_360, ["600.00", "700.00"]),
        (DayCountConvention.ACT_360, ["700.00", "700.00"]),
        (DayCountConvention.ACT_365, ["690.41", "690.41"]),  # 36,000 x 7 / 365 = 690.4110
    ],
)
def test_weekly_periods_across_a_month_end_by_day_count(
    convention: DayCountConvention, interest: list[str]
) -> None:
    schedule = build_schedule(
        terms(
            method=IO,
            periods=2,
            annual_rate=Decimal("0.36"),
            start_date=date(2026, 1, 26),
            period_unit=PeriodUnit.WEEK,
            day_count=convention,
        )
    )
    assert column(schedule, "interest") == interest
    assert [line.due_date for line in schedule.installments] == [
        date(2026, 2, 2), date(2026, 2, 9),
    ]  # fmt: skip


# -- weekly and daily annuities ----------------------------------------------------------------


def test_weekly_annuity() -> None:
    # 10,000.00 at 36.5 % a year, ACT/365, 4 weekly periods from Monday 2026-03-02:
    # r = 36.5 % x 7 / 365 = 0.7 % a week (each week is 7 actual days, so every period is
    # charged exactly r). 1.007^2 = 1.014049, 1.007^4 = 1.028295374401,
    # 1.007^-4 = 0.9724832231; payment = 70.00 / (1 - 0.9724832231) = 70 / 0.0275167769
    # = 2,543.9026 -> 2,543.90.
    #   week 1: interest 70.00,                   principal 2,473.90, B_2 = 7,526.10
    #   week 2: interest 52.6827 -> 52.68,        principal 2,491.22, B_3 = 5,034.88
    #   week 3: interest 35.24416 -> 35.24,       principal 2,508.66, B_4 = 2,526.22
    #   week 4: interest 17.68354 -> 17.68,       principal 2,526.22, total 2,543.90
    # Total interest 70.00 + 52.68 + 35.24 + 17.68 = 175.60.
    schedule = build_schedule(
        terms(
            principal=cny("10000.00"),
            annual_rate=Decimal("0.365"),
            periods=4,
            start_date=date(2026, 3, 2),
            period_unit=PeriodUnit.WEEK,
        )
    )
    assert column(schedule, "interest") == ["70.00", "52.68", "35.24", "17.68"]
    assert column(schedule, "principal") == ["2473.90", "2491.22", "2508.66", "2526.22"]
    assert column(schedule, "total") == ["2543.90"] * 4
    assert column(schedule, "opening_balance") == ["10000.00", "7526.10", "5034.88", "2526.22"]
    assert [line.due_date for line in schedule.installments] == [
        date(2026, 3, 9), date(2026, 3, 16), date(2026, 3, 23), date(2026, 3, 30),
    ]  # fmt: skip
    assert schedule.total_interest == cny("175.60")


def test_daily_annuity() -> None:
    # 10,000.00 at 36 % a year, ACT/360, three 10-day periods from 2026-03-02:
    # r = 36 % x 10 / 360 = 1 % a period. 1.01^3 = 1.030301, 1.01^-3 = 0.9705901479;
    # payment = 100.00 / 0.0294098521 = 3,400.2211 -> 3,400.22.
    #   period 1: interest 100.00,           principal 3,300.22, B_2 = 6,699.78
    #   period 2: interest 66.9978 -> 67.00, principal 3,333.22, B_3 = 3,366.56
    #   period 3: interest 33.6656 -> 33.67, principal 3,366.56, total 3,400.23 (the rest)
    # Total interest 100.00 + 67.00 + 33.67 = 200.67.
    schedule = build_schedule(
        terms(
            principal=cny("10000.00"),
            annual_rate=Decimal("0.36"),
            periods=3,
            start_date=date(2026, 3, 2),
            period_unit=PeriodUnit.DAY,
            period_days=10,
            day_count=DayCountConvention.ACT_360,
        )
    )
    assert column(schedule, "interest") == ["100.00", "67.00", "33.67"]
    assert column(schedule, "principal") == ["3300.22", "3333.22", "3366.56"]
    assert column(schedule, "total") == ["3400.22", "3400.22", "3400.23"]
    assert [line.due_date for line in schedule.installments] == [
        date(2026, 3, 12), date(2026, 3, 22), date(2026, 4, 1),
    ]  # fmt: skip
    assert schedule.total_interest == cny("200.67")
    # Under ACT/365 the same loan is charged 36 % x 10 / 365 = 0.98630 % a period: interest 1
    # = 98.6301 -> 98.63, so the day count reaches an annuity's every figure.
    act_365 = build_schedule(replace(schedule.terms, day_count=DayCountConvention.ACT_365))
    assert act_365.installments[0].interest == cny("98.63")


# -- rounding mode on an annuity -------------------------------------------------------------


@pytest.mark.parametrize(
    ("rounding", "interest", "principal", "total", "total_interest"),
    [
        # 12,344.50 at 12 % over 2 months (r = 1 %): exact payment
        # = 12,344.50 x 1.0201 x 0.01 / 0.0201 = 6,264.9873, and month 1's interest
        # 12,344.50 x 1 % = 123.445 is a tie.
        # Half-up: payment 6,264.99; interest 123.45 (tie away from zero); principal
        # 6,141.54; B_2 = 6,202.96; interest 62.0296 -> 62.03; last 6,202.96 + 62.03 = 6,264.99.
        ("ROUND_HALF_UP", ["123.45", "62.03"], ["6141.54", "6202.96"], ["6264.99", "6264.99"],
         "185.48"),
        # Banker's: payment 6,264.99; 123.445 -> 123.44 (to the even fen); principal 6,141.55;
        # B_2 = 6,202.95; 62.0295 -> 62.03 (not a tie); last 6,202.95 + 62.03 = 6,264.98.
        (ROUND_HALF_EVEN, ["123.44", "62.03"], ["6141.55", "6202.95"], ["6264.99", "6264.98"],
         "185.47"),
        # Truncation: payment 6,264.98; interest 123.44; principal 6,141.54; B_2 = 6,202.96;
        # 62.0296 -> 62.02; last 6,202.96 + 62.02 = 6,264.98.
        (ROUND_DOWN, ["123.44", "62.02"], ["6141.54", "6202.96"], ["6264.98", "6264.98"],
         "185.46"),
    ],
)  # fmt: skip
def test_rounding_mode_of_an_annuity(
    rounding: str,
    interest: list[str],
    principal: list[str],
    total: list[str],
    total_interest: str,
) -> None:
    schedule = build_schedule(terms(principal=cny("12344.50"), periods=2, rounding=rounding))
    assert column(schedule, "interest") == interest
    assert column(schedule, "principal") == principal
    assert column(schedule, "total") == total
    assert schedule.total_interest == cny(total_interest)
    assert schedule.total_principal == cny("12344.50")


# -- a product quote: principal, fees, total cost ------------------------------------------------


@pytest.mark.parametrize(
    ("fee", "fees", "net", "total_cost", "aprs"),
    [
        # No fee: the monthly IRR is 1 % up to the cent rounding of the instalments, so the
        # APR is 1.01^12 - 1 = 12.68 % effective and 12.00 % compounded monthly.
        (OriginationFee(FeeKind.NONE), "0.00", "10000.00", "200.67", ("0.1268", "0.1200")),
        # Flat 200.00: 9,800.00 received. The monthly IRR j solves 9,800 = 3,400.22 / (1+j)
        # + 3,400.22 / (1+j)^2 + 3,400.23 / (1+j)^3: j = 2.0306 %, so (1.020306)^12 - 1
        # = 27.28 % effective and 12 x 2.0306 % = 24.37 % nominal.
        (OriginationFee(FeeKind.FLAT, flat=cny("200.00")), "200.00", "9800.00", "400.67",
         ("0.2728", "0.2437")),
        # 1.5 % of 10,000.00 = 150.00: 9,850.00 received, j = 1.7697 %: 23.43 % and 21.24 %.
        (OriginationFee(FeeKind.PERCENT, rate=Decimal("0.015")), "150.00", "9850.00", "350.67",
         ("0.2343", "0.2124")),
    ],
)  # fmt: skip
def test_product_quote_principal_fees_and_total_cost(
    fee: OriginationFee, fees: str, net: str, total_cost: str, aprs: tuple[str, str]
) -> None:
    # 10,000.00 at 12 % over 3 months, equal instalments: r = 1 %, payment
    # 100.00 / (1 - 1.01^-3) = 3,400.2211 -> 3,400.22; interest 100.00, 67.00 (66.9978) and
    # 33.67 (33.6656), the last instalment 3,400.23; total interest 200.67, repayable
    # 10,200.67. The fee is deducted from what is paid out, never added to the instalments.
    product = consumer_terms(origination_fee=fee)
    quote = product_policy.quote(product, cny("10000.00"), 3, START)
    cost = quote.cost
    assert cost.principal == cny("10000.00")
    assert cost.fees == cny(fees)
    assert cost.net_disbursed == cny(net)
    assert cost.total_interest == cny("200.67")
    assert cost.total_cost_of_credit == cny(total_cost)
    assert cost.total_repayable == cny("10200.67")
    assert column(quote.schedule, "total") == ["3400.22", "3400.22", "3400.23"]
    apr, apr_nominal = (Decimal(a) for a in aprs)
    assert (cost.apr, quote.apr_nominal) == (apr, apr_nominal)
    # The independent NPV agrees that the effective APR is the root rounded to 4 places: the
    # root lies within half a unit of the 4th place of it.
    flows = [
        (Decimal(k) / 12, line.total.to_decimal())
        for k, line in enumerate(quote.schedule.installments, start=1)
    ]
    half = Decimal("0.00005")
    received = Decimal(net)
    assert (
        _npv(received, flows, Decimal(apr) - half) < 0 < _npv(received, flows, Decimal(apr) + half)
    )
