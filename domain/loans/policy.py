"""The repayment-schedule engine and the cost-of-credit quote. Pure: no I/O, no clock, no await.

Conventions (the reviewer's checklist):

* **Periodic rate.** A regular monthly (quarterly) period of an instalment loan is charged
  ``annual_rate / 12`` (``/ 4``) whatever its number of days: that is how Chinese lenders quote
  monthly instalments (月利率 = 年利率 / 12), and it makes every regular instalment of an
  annuity equal. The day-count convention is used only where that does not apply: an irregular
  first period, BULLET loans, and WEEK / DAY periods.
* **First-period proration.** With a ``first_due_date`` other than one period after the value
  date, the first period is charged ``balance x annual_rate x year_fraction(start,
  first_due_date)`` for its actual days. Its principal is what a regular first period would
  repay, so the rest of the schedule is unchanged and only instalment 1's interest differs.
* **Business days.** Interest accrues to the *scheduled* period end; only the due date moves to
  a working day (``BusinessDayRule``). A borrower therefore pays the same interest whether the
  1st of October is a holiday or not, and the next period still starts on the scheduled date.
* **Rounding.** Interest and principal are rounded per instalment to the minor unit with
  ``terms.rounding`` (half-up, ties away from zero, by default). The last instalment repays
  whatever principal is left, so principal sums to the loan amount exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from enum import Enum
from typing import Final

from domain.kernel.calendar import BusinessDayRule, Calendar, add_months, adjust
from domain.kernel.daycount import DayCountConvention, accrual_days
from domain.kernel.money import (
    ROUNDING_MODES,
    CurrencyMismatch,
    Money,
    round_minor,
)

__all__ = [
    "APR_TOLERANCE",
    "MAX_PERIODS",
    "CostQuote",
    "Installment",
    "PeriodUnit",
    "RepaymentMethod",
    "Schedule",
    "ScheduleError",
    "ScheduleTerms",
    "build_schedule",
    "quote_cost",
]

#: Upper bound on the number of periods: 100 years of months. Guards against a typo (or a
#: hostile input) asking for a million-line schedule.
MAX_PERIODS: Final[int] = 1200

#: Longest DAY period accepted (ten years).
_MAX_PERIOD_DAYS: Final[int] = 3660

#: The APR solver stops once the bracket around the root is narrower than this (an absolute
#: annual rate, i.e. 1e-12 = 0.0000000001 %), far below the 4-decimal rounding of the result.
APR_TOLERANCE: Final[Decimal] = Decimal("1e-12")

# Significant digits of intermediate Decimal arithmetic. Interest on a BIGINT principal needs
# about 30; the surplus means the only rounding that matters is the explicit one per instalment.
_PRECISION: Final[int] = 60

# The APR solver doubles its upper bracket until the net present value changes sign. Short
# terms with large fees annualise to absurd but finite rates (a 5 % fee on a one-day loan is
# 1.05**365 - 1, about 5e7), so the cap is far out: beyond 10**12 the APR is unquotable.
_MAX_APR_BRACKET: Final[Decimal] = Decimal(10) ** 12
_MAX_SOLVER_STEPS: Final[int] = 400


class ScheduleError(ValueError):
    """Terms from which no valid schedule can be built."""


class PeriodUnit(Enum):
    """Length of one repayment period."""

    MONTH = "MONTH"
    QUARTER = "QUARTER"
    WEEK = "WEEK"
    #: ``ScheduleTerms.period_days`` days per period (e.g. one 90-day BULLET period).
    DAY = "DAY"


class RepaymentMethod(Enum):
    """How principal and interest are spread over the periods."""

    #: Annuity (等额本息): equal instalments of principal plus interest.
    EQUAL_INSTALLMENT = "EQUAL_INSTALLMENT"
    #: Equal principal (等额本金): the same principal each period plus interest on the balance.
    EQUAL_PRINCIPAL = "EQUAL_PRINCIPAL"
    #: Interest each period, all principal with the last instalment (按期付息, 到期还本).
    INTEREST_ONLY = "INTEREST_ONLY"
    #: One instalment at maturity: all principal plus interest for the whole term.
    BULLET = "BULLET"


@dataclass(frozen=True, slots=True)
class ScheduleTerms:
    """Everything the engine needs to build a schedule; validated on construction.

    ``annual_rate`` is a fraction (``Decimal("0.12")`` for 12 %). ``start_date`` is the value
    date from which interest runs. Each period is one ``period_unit`` long, or ``period_days``
    days when the unit is ``DAY``. ``first_due_date`` (optional) makes the first period
    irregular; later periods are counted from it. Due dates are moved by
    ``business_day_rule`` on ``calendar`` (required unless the rule is ``NONE``).
    """

    principal: Money
    annual_rate: Decimal
    periods: int
    method: RepaymentMethod
    start_date: date
    period_unit: PeriodUnit = PeriodUnit.MONTH
    period_days: int | None = None
    first_due_date: date | None = None
    day_count: DayCountConvention = DayCountConvention.ACT_365
    business_day_rule: BusinessDayRule = BusinessDayRule.NONE
    calendar: Calendar | None = None
    rounding: str = ROUND_HALF_UP

    def __post_init__(self) -> None:
        if not isinstance(self.principal, Money) or not self.principal.is_positive():
            raise ScheduleError("principal must be a positive Money amount")
        if not isinstance(self.annual_rate, Decimal) or not self.annual_rate.is_finite():
            raise ScheduleError("annual_rate must be a finite Decimal, e.g. Decimal('0.12')")
        # Rates are fractions; 12 instead of 0.12 is the classic slip, and 1200 % is no
        # product we sell, so anything above 100 % a year is refused rather than computed.
        if not Decimal(0) <= self.annual_rate <= Decimal(1):
            raise ScheduleError("annual_rate must be between 0 and 1 (0.12 means 12 %)")
        if type(self.periods) is not int or not 1 <= self.periods <= MAX_PERIODS:
            raise ScheduleError(f"periods must be an integer from 1 to {MAX_PERIODS}")
        if self.period_unit is PeriodUnit.DAY:
            days = self.period_days
            if type(days) is not int or not 1 <= days <= _MAX_PERIOD_DAYS:
                raise ScheduleError(
                    f"period_days must be an integer from 1 to {_MAX_PERIOD_DAYS} for DAY periods"
                )
        elif self.period_days is not None:
            raise ScheduleError("period_days is only meaningful with PeriodUnit.DAY")
        for name in ("start_date", "first_due_date"):
            value = getattr(self, name)
            # datetime is a date subclass; a time of day has no place in a schedule.
            if value is not None and type(value) is not date:
                raise ScheduleError(f"{name} must be a datetime.date")
        if self.first_due_date is not None and self.first_due_date <= self.start_date:
            raise ScheduleError("first_due_date must be after start_date")
        if self.business_day_rule is not BusinessDayRule.NONE and self.calendar is None:
            raise ScheduleError("a business-day rule needs a calendar")
        if self.rounding not in ROUNDING_MODES:
            raise ScheduleError(f"unknown rounding mode {self.rounding!r}")


@dataclass(frozen=True, slots=True)
class Installment:
    """One line of a schedule.

    ``period_start``/``period_end`` are the scheduled (unadjusted) accrual dates; ``due_date``
    is ``period_end`` moved to a working day. ``total = principal + interest`` and
    ``closing_balance = opening_balance - principal``.
    """

    number: int
    due_date: date
    period_start: date
    period_end: date
    principal: Money
    interest: Money
    total: Money
    opening_balance: Money
    closing_balance: Money


@dataclass(frozen=True, slots=True)
class Schedule:
    """A repayment schedule: its terms, its instalments (numbered from 1) and their totals."""

    terms: ScheduleTerms
    installments: tuple[Installment, ...]
    total_principal: Money
    total_interest: Money
    total_payment: Money

    @property
    def maturity_date(self) -> date:
        """Due date of the last instalment."""
        return self.installments[-1].due_date


@dataclass(frozen=True, slots=True)
class CostQuote:
    """What the credit costs the borrower.

    ``net_disbursed = principal - fees`` (fees are deducted at the start);
    ``total_cost_of_credit = total_interest + fees``; ``apr`` is a fraction rounded half-up to
    4 decimals (``Decimal("0.1268")`` is 12.68 %).
    """

    principal: Money
    fees: Money
    net_disbursed: Money
    total_interest: Money
    total_cost_of_credit: Money
    total_repayable: Money
    apr: Decimal


# -- schedule -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rate:
    """A per-period rate kept as ``numerator / denominator`` so that interest is computed as
    ``balance * numerator / denominator`` with a single division (exact until the rounding)."""

    numerator: Decimal
    denominator: int

    def interest_minor(self, balance_minor: int, rounding: str) -> int:
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            exact = Decimal(balance_minor) * self.numerator / Decimal(self.denominator)
        return round_minor(exact, rounding)

    def as_decimal(self) -> Decimal:
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            return self.numerator / Decimal(self.denominator)


def _scheduled_end(terms: ScheduleTerms, k: int) -> date:
    """Unadjusted end of period ``k`` (1-based).

    Dates are always counted from one anchor (the value date, or the first due date for
    k >= 2) so that an end-of-month clamp in February does not drag later dates to the 28th.
    """
    if terms.first_due_date is None:
        anchor, offset = terms.start_date, k
    elif k == 1:
        return terms.first_due_date
    else:
        anchor, offset = terms.first_due_date, k - 1
    return _add_periods(terms, anchor, offset)


def _add_periods(terms: ScheduleTerms, anchor: date, count: int) -> date:
    unit = terms.period_unit
    if unit is PeriodUnit.MONTH:
        return add_months(anchor, count)
    if unit is PeriodUnit.QUARTER:
        return add_months(anchor, 3 * count)
    if unit is PeriodUnit.WEEK:
        return anchor + timedelta(weeks=count)
    assert terms.period_days is not None  # validated in ScheduleTerms.__post_init__
    return anchor + timedelta(days=terms.period_days * count)


def _nominal_rate(terms: ScheduleTerms) -> _Rate:
    """The rate of one regular period, used to size the annuity and to charge regular
    MONTH/QUARTER periods: annual/12, annual/4, or annual x (days of the period) / basis."""
    unit = terms.period_unit
    if unit is PeriodUnit.MONTH:
        return _Rate(terms.annual_rate, 12)
    if unit is PeriodUnit.QUARTER:
        return _Rate(terms.annual_rate, 4)
    days = 7 if unit is PeriodUnit.WEEK else terms.period_days
    assert days is not None
    return _Rate(terms.annual_rate * days, terms.day_count.basis)


def _day_count_rate(terms: ScheduleTerms, start: date, end: date) -> _Rate:
    """annual_rate x the day-count fraction of ``start``..``end``."""
    days = accrual_days(start, end, terms.day_count)
    return _Rate(terms.annual_rate * days, terms.day_count.basis)


def _accrual_rate(terms: ScheduleTerms, k: int, start: date, end: date) -> _Rate:
    """What period ``k`` is charged: the nominal periodic rate for a regular month or quarter,
    the day-count fraction otherwise (irregular first period, WEEK, DAY)."""
    calendar_unit = terms.period_unit in (PeriodUnit.MONTH, PeriodUnit.QUARTER)
    regular = k > 1 or end == _add_periods(terms, terms.start_date, 1)
    if calendar_unit and regular:
        return _nominal_rate(terms)
    return _day_count_rate(terms, start, end)


def _annuity_payment_minor(principal_minor: int, rate: _Rate, periods: int, rounding: str) -> int:
    """Level payment P*r / (1 - (1+r)^-n), rounded to the minor unit (P/n when r is 0)."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        r = rate.as_decimal()
        if r.is_zero():
            exact = Decimal(principal_minor) / Decimal(periods)
        else:
            exact = Decimal(principal_minor) * r / (1 - (1 + r) ** -periods)
    return round_minor(exact, rounding)


def build_schedule(terms: ScheduleTerms) -> Schedule:
    """Build the repayment schedule for ``terms``.

    Raises :class:`ScheduleError` when business-day adjustment would make a due date fall on
    or before the value date or on or before the previous due date (e.g. weekly periods
    across a week-long holiday), since such a schedule cannot be collected as written.
    """
    if terms.method is RepaymentMethod.BULLET:
        lines = _bullet_lines(terms)
    else:
        lines = _periodic_lines(terms)
    installments = _with_due_dates(terms, lines)
    currency = terms.principal.currency
    return Schedule(
        terms=terms,
        installments=installments,
        total_principal=Money.sum((i.principal for i in installments), currency),
        total_interest=Money.sum((i.interest for i in installments), currency),
        total_payment=Money.sum((i.total for i in installments), currency),
    )


@dataclass(frozen=True, slots=True)
class _Line:
    start: date
    end: date
    opening_minor: int
    principal_minor: int
    interest_minor: int


def _bullet_lines(terms: ScheduleTerms) -> list[_Line]:
    # The whole term is one accrual period charged by the day count, from the value date to
    # the scheduled end of the last period.
    start, end = terms.start_date, _scheduled_end(terms, terms.periods)
    principal = terms.principal.amount_minor
    interest = _day_count_rate(terms, start, end).interest_minor(principal, terms.rounding)
    return [_Line(start, end, principal, principal, interest)]


def _periodic_lines(terms: ScheduleTerms) -> list[_Line]:
    n = terms.periods
    principal = terms.principal.amount_minor
    nominal = _nominal_rate(terms)
    method = terms.method
    payment = share = 0
    if method is RepaymentMethod.EQUAL_INSTALLMENT:
        payment = _annuity_payment_minor(principal, nominal, n, terms.rounding)
    elif method is RepaymentMethod.EQUAL_PRINCIPAL:
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            share = round_minor(Decimal(principal) / Decimal(n), terms.rounding)

    lines: list[_Line] = []
    balance = principal
    start = terms.start_date
    for k in range(1, n + 1):
        end = _scheduled_end(terms, k)
        interest = _accrual_rate(terms, k, start, end).interest_minor(balance, terms.rounding)
        if k == n:
            repay = balance  # the last instalment absorbs every rounding difference
        elif method is RepaymentMethod.EQUAL_INSTALLMENT:
            # Principal follows the level payment at the nominal rate, even when this period's
            # interest is prorated by days: only the interest of an irregular period changes.
            repay = payment - nominal.interest_minor(balance, terms.rounding)
        elif method is RepaymentMethod.EQUAL_PRINCIPAL:
            repay = share
        else:  # INTEREST_ONLY
            repay = 0
        # Clamp: for tiny loans over many periods a rounded-up share times (n - 1) can exceed
        # the amount; repay what is left and let later lines be zero rather than negative.
        repay = max(0, min(repay, balance))
        lines.append(_Line(start, end, balance, repay, interest))
        balance -= repay
        start = end
    return lines


def _with_due_dates(terms: ScheduleTerms, lines: Sequence[_Line]) -> tuple[Installment, ...]:
    currency = terms.principal.currency
    installments: list[Installment] = []
    previous_due = terms.start_date
    for number, line in enumerate(lines, start=1):
        due = line.end
        if terms.calendar is not None:
            due = adjust(line.end, terms.business_day_rule, terms.calendar)
        if due <= previous_due:
            raise ScheduleError(
                f"instalment {number}: due date {due} (scheduled {line.end}) is not after "
                f"{previous_due}; the business-day rule folds two dates together"
            )
        previous_due = due
        principal = Money(line.principal_minor, currency)
        interest = Money(line.interest_minor, currency)
        installments.append(
            Installment(
                number=number,
                due_date=due,
                period_start=line.start,
                period_end=line.end,
                principal=principal,
                interest=interest,
                total=principal + interest,
                opening_balance=Money(line.opening_minor, currency),
                closing_balance=Money(line.opening_minor - line.principal_minor, currency),
            )
        )
    return tuple(installments)


# -- cost of credit ------------------------------------------------------------------------------


def quote_cost(
    schedule: Schedule,
    fees: Money,
    *,
    compounding_per_year: int | None = None,
) -> CostQuote:
    """Total interest, total cost of credit and the APR of ``schedule`` with upfront ``fees``.

    The APR is the internal rate of return of the borrower's cash flows: ``principal - fees``
    received on the value date, each instalment's ``total`` paid on its *due date*. Time is
    measured as in the EU Consumer Credit Directive (2008/48/EC, Annex I): whole months from
    the value date count as 1/12 year each and the remaining days as days/365. The root of
    ``net - sum(payment_k * (1 + i) ** -t_k) = 0`` is found by Newton's method safeguarded by
    bisection, in ``Decimal``, until the bracket is narrower than :data:`APR_TOLERANCE`.

    By default the result is the *effective* annual rate ``i`` (a 1 %-a-month annuity gives
    0.1268). With ``compounding_per_year=m`` it is the nominal rate ``m * ((1+i)**(1/m) - 1)``
    instead; ``m=12`` gives the "IRR x 12" figure often shown to Chinese borrowers (0.1200 for
    the same loan). Either way it is rounded half-up to 4 decimal places.
    """
    principal = schedule.terms.principal
    if not isinstance(fees, Money):
        raise TypeError("fees must be Money")
    if fees.currency != principal.currency:
        raise CurrencyMismatch(f"fees in {fees.currency}, loan in {principal.currency}")
    if fees.is_negative():
        raise ScheduleError("fees cannot be negative")
    if fees >= principal:
        raise ScheduleError("fees must be less than the principal")
    if compounding_per_year is not None and (
        type(compounding_per_year) is not int or compounding_per_year < 1
    ):
        raise ScheduleError("compounding_per_year must be a positive integer")

    net = principal - fees
    start = schedule.terms.start_date
    flows = [
        (_years_between(start, line.due_date), line.total.to_decimal())
        for line in schedule.installments
    ]
    effective = _solve_irr(net.to_decimal(), flows)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        if compounding_per_year is None:
            rate = effective
        else:
            m = Decimal(compounding_per_year)
            rate = m * (((1 + effective).ln() / m).exp() - 1)
    apr = rate.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    return CostQuote(
        principal=principal,
        fees=fees,
        net_disbursed=net,
        total_interest=schedule.total_interest,
        total_cost_of_credit=schedule.total_interest + fees,
        total_repayable=schedule.total_payment,
        apr=apr,
    )


def _years_between(start: date, end: date) -> Decimal:
    """Whole months from ``start`` as twelfths of a year plus the remaining days / 365."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if add_months(start, months) > end:
        months -= 1
    days = (end - add_months(start, months)).days
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return Decimal(months) / 12 + Decimal(days) / 365


def _solve_irr(net: Decimal, flows: Sequence[tuple[Decimal, Decimal]]) -> Decimal:
    """The rate i >= 0 with ``net = sum(amount * (1+i)**-t)``.

    f(i) = net - sum(amount * (1+i)**-t) rises strictly with i (all amounts and times are
    positive), so the root is unique. The bracket starts at [0, 1] and doubles its top until f
    changes sign; each step then tries Newton and falls back to bisection whenever Newton would
    leave the bracket. Every step is plain Decimal arithmetic, so the result is reproducible.
    """
    with localcontext() as ctx:
        ctx.prec = _PRECISION

        def value_and_slope(rate: Decimal) -> tuple[Decimal, Decimal]:
            log_growth = (1 + rate).ln()
            value = net
            slope = Decimal(0)
            for years, amount in flows:
                discounted = amount * (-years * log_growth).exp()
                value -= discounted
                slope += years * discounted / (1 + rate)
            return value, slope

        lo = Decimal(0)
        f_lo, _ = value_and_slope(lo)
        if f_lo >= 0:
            # Repayments do not exceed the money received: no interest, no fees, rate 0.
            return Decimal(0)
        hi = Decimal(1)
        while value_and_slope(hi)[0] < 0:
            hi *= 2
            if hi > _MAX_APR_BRACKET:
                raise ScheduleError("APR is beyond any quotable range")

        guess = (lo + hi) / 2
        half_tolerance = APR_TOLERANCE / 2
        for _ in range(_MAX_SOLVER_STEPS):
            value, slope = value_and_slope(guess)
            if value.is_zero():
                return guess
            if value < 0:
                lo = guess
            else:
                hi = guess
            if hi - lo <= APR_TOLERANCE:
                return (lo + hi) / 2
            newton = guess - value / slope if not slope.is_zero() else lo
            if not lo < newton < hi:
                newton = (lo + hi) / 2
            converged = abs(newton - guess) < half_tolerance
            guess = newton
            if converged:
                # Newton approaches from one side, so the far end of the bracket may never
                # move; probe half a tolerance either side to close the bracket around it.
                for probe in (guess - half_tolerance, guess + half_tolerance):
                    if lo < probe < hi:
                        probe_value, _ = value_and_slope(probe)
                        if probe_value.is_zero():
                            return probe
                        if probe_value < 0:
                            lo = probe
                        else:
                            hi = probe
                if hi - lo <= APR_TOLERANCE:
                    return (lo + hi) / 2
        # Unreachable in practice: bisection alone narrows [0, 2**40] below 1e-12 in 80 steps.
        raise ScheduleError("APR solver did not converge")
