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

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from enum import Enum
from typing import Final

from domain.kernel.actor import Actor
from domain.kernel.calendar import BusinessDayRule, Calendar, add_months, adjust, days_in_month
from domain.kernel.daycount import DayCountConvention, accrual_days
from domain.kernel.money import (
    ROUNDING_MODES,
    CurrencyMismatch,
    Money,
    ratio_rounder,
    round_minor,
    round_ratio,
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
    "loan_visible",
    "quote_cost",
    "quote_costs",
]

#: Upper bound on the number of periods: 100 years of months. Guards against a typo (or a
#: hostile input) asking for a million-line schedule.
MAX_PERIODS: Final[int] = 1200

#: Longest DAY period accepted (ten years).
_MAX_PERIOD_DAYS: Final[int] = 3660

#: The bracketed APR solver stops once the bracket around the root is narrower than this (an
#: absolute annual rate, i.e. 1e-12 = 0.0000000001 %), far below the 4-decimal rounding of the
#: result. The fast path keeps the root ten times as far from a rounding edge (see
#: _rounded_rates), so that both always round alike.
APR_TOLERANCE: Final[Decimal] = Decimal("1e-12")

# Significant digits of intermediate Decimal arithmetic. Interest on a BIGINT principal needs
# about 30; the surplus means the only rounding that matters is the explicit one per instalment.
_PRECISION: Final[int] = 60
# Every Decimal operation runs in a context of the engine's own, never one inherited from the
# caller: a caller's precision, rounding or traps must not change a figure.
_CONTEXT: Final[Context] = Context(prec=_PRECISION)

# The APR solver doubles its upper bracket until the net present value changes sign. Short
# terms with large fees annualise to absurd but finite rates (a 5 % fee on a one-day loan is
# 1.05**365 - 1, about 5e7), so the cap is far out: beyond 10**12 the APR is unquotable.
_MAX_APR_BRACKET: Final[Decimal] = Decimal(10) ** 12
_MAX_SOLVER_STEPS: Final[int] = 400


def loan_visible(actor: Actor, tenant_id: uuid.UUID) -> bool:
    """The one read rule of a loan (``node(id:)``, ``Deal.loan``, ``loans``; row-level security
    says the same): the funder's own principals and the platform operator. A loan is the
    funder's servicing account; its borrower sees the deal, not the books behind it."""
    return actor.is_platform or (actor.tenant_id is not None and actor.tenant_id == tenant_id)


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
#
# Interest is computed in integers: a rate is kept as an exact fraction ``numerator /
# denominator`` (Decimal.as_integer_ratio() of the annual rate, times days, over 12, 4 or the
# day-count basis), and the interest of a balance is ``balance x numerator / denominator``
# rounded once with :func:`round_ratio`. That is the figure the exact Decimal quotient rounds
# to, without a Decimal context per instalment, and it cannot depend on the caller's context.


def _rate_fraction(terms: ScheduleTerms) -> tuple[int, int]:
    """The annual rate as an exact fraction of integers (0.12 is 3 / 25)."""
    return terms.annual_rate.as_integer_ratio()


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


def _scheduled_ends(terms: ScheduleTerms) -> list[date]:
    """``_scheduled_end(terms, k)`` for k = 1..periods, in one pass."""
    n = terms.periods
    if terms.first_due_date is None:
        anchor, first = terms.start_date, []
        counts = range(1, n + 1)
    else:
        anchor, first = terms.first_due_date, [terms.first_due_date]
        counts = range(1, n)
    unit = terms.period_unit
    if unit is PeriodUnit.MONTH:
        return first + [add_months(anchor, count) for count in counts]
    if unit is PeriodUnit.QUARTER:
        return first + [add_months(anchor, 3 * count) for count in counts]
    step = timedelta(weeks=1) if unit is PeriodUnit.WEEK else timedelta(days=terms.period_days or 0)
    return first + [anchor + step * count for count in counts]


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


def _nominal_rate(terms: ScheduleTerms) -> tuple[int, int]:
    """The rate of one regular period as ``(numerator, denominator)``, used to size the annuity
    and to charge regular MONTH/QUARTER periods: annual/12, annual/4, or annual x (days of the
    period) / basis."""
    numerator, denominator = _rate_fraction(terms)
    unit = terms.period_unit
    if unit is PeriodUnit.MONTH:
        return numerator, denominator * 12
    if unit is PeriodUnit.QUARTER:
        return numerator, denominator * 4
    days = 7 if unit is PeriodUnit.WEEK else terms.period_days
    assert days is not None
    return numerator * days, denominator * terms.day_count.basis


def _annuity_payment_minor(
    principal_minor: int, rate: tuple[int, int], periods: int, rounding: str
) -> int:
    """Level payment P*r / (1 - (1+r)^-n), rounded to the minor unit (P/n when r is 0)."""
    with localcontext(_CONTEXT):
        r = Decimal(rate[0]) / Decimal(rate[1])
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
    builder = _LineBuilder(terms)
    if terms.method is RepaymentMethod.BULLET:
        _bullet_lines(terms, builder)
    else:
        _periodic_lines(terms, builder)
    currency = terms.principal.currency
    return Schedule(
        terms=terms,
        installments=tuple(builder.installments),
        # Every amount is non-negative, so a total fits in BIGINT if and only if every partial
        # sum does: summing integers refuses exactly what adding Money one by one refused.
        total_principal=Money(builder.sum_principal, currency),
        total_interest=Money(builder.sum_interest, currency),
        total_payment=Money(builder.sum_principal + builder.sum_interest, currency),
    )


class _LineBuilder:
    """Turns computed lines into Installments: the due date on the calendar, the check that
    due dates keep increasing, and the Money values (the balance that closes one line is the
    object that opens the next, and equal totals share one object: schedules repeat them)."""

    __slots__ = ("_calendar", "_closing", "_currency", "_previous_due", "_rule", "_totals",
                 "installments", "sum_interest", "sum_principal")  # fmt: skip

    def __init__(self, terms: ScheduleTerms) -> None:
        self._currency = terms.principal.currency
        self._calendar = terms.calendar
        self._rule = terms.business_day_rule
        self._previous_due = terms.start_date
        self._closing: Money = terms.principal
        self._totals: dict[int, Money] = {}
        self.installments: list[Installment] = []
        self.sum_principal = 0
        self.sum_interest = 0

    def add(self, start: date, end: date, opening: int, principal: int, interest: int) -> None:
        """Append the line for the period ``start``..``end`` (amounts in minor units)."""
        number = len(self.installments) + 1
        due = end
        if self._calendar is not None:
            due = adjust(end, self._rule, self._calendar)
        if due <= self._previous_due:
            raise ScheduleError(
                f"instalment {number}: due date {due} (scheduled {end}) is not after "
                f"{self._previous_due}; the business-day rule folds two dates together"
            )
        self._previous_due = due
        currency = self._currency
        principal_money = Money(principal, currency)
        interest_money = Money(interest, currency)
        total_minor = principal + interest
        total = self._totals.get(total_minor)
        if total is None:
            total = self._totals[total_minor] = Money(total_minor, currency)
        opening_money = self._closing
        if opening_money.amount_minor != opening:
            opening_money = Money(opening, currency)
        self._closing = closing = Money(opening - principal, currency)
        self.installments.append(
            Installment(
                number,  # positional: measurably cheaper than keywords, once per line
                due,
                start,
                end,
                principal_money,
                interest_money,
                total,
                opening_money,
                closing,
            )
        )
        self.sum_principal += principal
        self.sum_interest += interest


def _bullet_lines(terms: ScheduleTerms, builder: _LineBuilder) -> None:
    # The whole term is one accrual period charged by the day count, from the value date to
    # the scheduled end of the last period.
    start, end = terms.start_date, _scheduled_end(terms, terms.periods)
    principal = terms.principal.amount_minor
    numerator, denominator = _rate_fraction(terms)
    days = accrual_days(start, end, terms.day_count)
    interest = round_ratio(
        principal * numerator * days, denominator * terms.day_count.basis, terms.rounding
    )
    builder.add(start, end, principal, principal, interest)


def _periodic_lines(terms: ScheduleTerms, builder: _LineBuilder) -> None:
    n = terms.periods
    principal = terms.principal.amount_minor
    rounding = terms.rounding
    nominal_num, nominal_den = nominal = _nominal_rate(terms)
    rate_num, rate_den = _rate_fraction(terms)
    convention = terms.day_count
    day_den = rate_den * convention.basis
    method = terms.method
    payment = share = 0
    if method is RepaymentMethod.EQUAL_INSTALLMENT:
        payment = _annuity_payment_minor(principal, nominal, n, rounding)
    elif method is RepaymentMethod.EQUAL_PRINCIPAL:
        share = round_ratio(principal, n, rounding)
    # A regular month or quarter is charged the nominal periodic rate; an irregular first
    # period, and every WEEK or DAY period, by the day count of its dates.
    calendar_unit = terms.period_unit in (PeriodUnit.MONTH, PeriodUnit.QUARTER)
    first_regular = calendar_unit and (
        terms.first_due_date is None
        or terms.first_due_date == _add_periods(terms, terms.start_date, 1)
    )

    # All dates first, as a date beyond the calendar is a different refusal than a due date
    # folded onto its predecessor, and the first to be found should not depend on speed.
    ends = _scheduled_ends(terms)
    rounder = ratio_rounder(rounding)
    balance = principal
    start = terms.start_date
    equal_installment = method is RepaymentMethod.EQUAL_INSTALLMENT
    for k, end in enumerate(ends, start=1):
        regular = first_regular if k == 1 else calendar_unit
        if regular:
            interest = nominal_interest = rounder(balance * nominal_num, nominal_den)
        else:
            days = accrual_days(start, end, convention)
            interest = rounder(balance * rate_num * days, day_den)
            if equal_installment:
                nominal_interest = rounder(balance * nominal_num, nominal_den)
        if k == n:
            repay = balance  # the last instalment absorbs every rounding difference
        elif equal_installment:
            # Principal follows the level payment at the nominal rate, even when this period's
            # interest is prorated by days: only the interest of an irregular period changes.
            repay = payment - nominal_interest
        elif method is RepaymentMethod.EQUAL_PRINCIPAL:
            repay = share
        else:  # INTEREST_ONLY
            repay = 0
        # Clamp: for tiny loans over many periods a rounded-up share times (n - 1) can exceed
        # the amount; repay what is left and let later lines be zero rather than negative.
        repay = max(0, min(repay, balance))
        builder.add(start, end, balance, repay, interest)
        balance -= repay
        start = end


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
    the value date count as 1/12 year each and the remaining days as days/365. The root ``i``
    of ``net - sum(payment_k * (1 + i) ** -t_k) = 0`` is unique (the sum falls strictly as
    ``i`` rises).

    By default the result is the *effective* annual rate ``i`` (a 1 %-a-month annuity gives
    0.1268). With ``compounding_per_year=m`` it is the nominal rate ``m * ((1+i)**(1/m) - 1)``
    instead; ``m=12`` gives the "IRR x 12" figure often shown to Chinese borrowers (0.1200 for
    the same loan). Either way it is rounded half-up to 4 decimal places, and that rounded
    figure is proven (see :func:`_rounded_rates`), not merely approximated.
    """
    return quote_costs(schedule, fees, compounding=(compounding_per_year,))[0]


def quote_costs(
    schedule: Schedule,
    fees: Money,
    *,
    compounding: Sequence[int | None],
) -> tuple[CostQuote, ...]:
    """:func:`quote_cost` for each entry of ``compounding`` (``None`` for the effective rate),
    from one solve of the internal rate of return: ``quote_costs(s, fees, compounding=(None,
    12))`` gives the effective and the monthly-compounded APR at the price of one."""
    principal = schedule.terms.principal
    if not isinstance(fees, Money):
        raise TypeError("fees must be Money")
    if fees.currency != principal.currency:
        raise CurrencyMismatch(f"fees in {fees.currency}, loan in {principal.currency}")
    if fees.is_negative():
        raise ScheduleError("fees cannot be negative")
    if fees >= principal:
        raise ScheduleError("fees must be less than the principal")
    for m in compounding:
        if m is not None and (type(m) is not int or m < 1):
            raise ScheduleError("compounding_per_year must be a positive integer")

    net = principal - fees
    start = schedule.terms.start_date
    flows = [
        (*_months_and_days(start, line.due_date), line.total.amount_minor)
        for line in schedule.installments
    ]
    aprs = _rounded_rates(net.amount_minor, flows, tuple(compounding))
    if aprs is None:  # not proven by the fast path: the bracketed Decimal solver decides
        aprs = _bracketed_rates(net, flows, tuple(compounding), principal.exponent)
    total_interest = schedule.total_interest
    total_cost = total_interest + fees
    return tuple(
        CostQuote(
            principal=principal,
            fees=fees,
            net_disbursed=net,
            total_interest=total_interest,
            total_cost_of_credit=total_cost,
            total_repayable=schedule.total_payment,
            apr=apr,
        )
        for apr in aprs
    )


def _months_and_days(start: date, end: date) -> tuple[int, int]:
    """Whole months from ``start`` to ``end`` and the days left over (``end >= start``)."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    # The monthly anniversary of the value date in end's month (clamped to a short month).
    anniversary_day = min(start.day, days_in_month(end.year, end.month))
    if anniversary_day <= end.day:
        return months, end.day - anniversary_day
    months -= 1
    return months, (end - add_months(start, months)).days


_APR_PLACES: Final[Decimal] = Decimal("0.0001")


def _quantize_apr(rate: Decimal) -> Decimal:
    with localcontext(_CONTEXT):
        return rate.quantize(_APR_PLACES, rounding=ROUND_HALF_UP)


# The fast path. A Newton search in floats finds the rate (refined in Decimal for absurd rates,
# where a float has too few digits); the 4-decimal APR it rounds to is then *proven* with
# exact integer arithmetic: rates p_low < root < p_high are exhibited at which the net present
# value is shown, by fixed-point interval arithmetic rounded outward, to be negative and
# positive, and p_low, p_high are shown to lie inside the rounding interval of every requested
# APR, at least 10**-11 from its edges. The root is then inside too, and so is the answer of the
# bracketed Decimal solver (within APR_TOLERANCE / 2 of the root; the nominal conversion moves a
# rate by no more than the rate moves), so both round alike. Whenever a step cannot be proven
# (a root within the margin of a rounding edge, a search that does not settle) the Decimal
# solver answers instead.

#: Fraction bits of the fixed-point numbers of the proof (x is represented by x * 2**96).
_FIXED_BITS: Final[int] = 96
_FIXED_ONE: Final[int] = 1 << _FIXED_BITS
#: Rates of the proof are ``x / 10**11``: the margin kept from a rounding edge is 10**-11, ten
#: times the Decimal solver's tolerance, so that it cannot round the other way.
_EDGE_SCALE: Final[int] = 10**11
#: Half a unit of the 4th decimal place less the margin, in units of 10**-11.
_HALF_UNIT: Final[int] = 5 * 10**6 - 1
#: lcm(12, 365): with v = (1 + p) ** (-1 / 4380), a month discounts by v**365 and a day by v**12.
_DAY_MONTH_ROOT: Final[int] = 4380
_MAX_NEWTON_STEPS: Final[int] = 60
#: Above this effective rate the float search is refined in Decimal before the proof.
_LOG_FLOAT_LIMIT: Final[float] = math.log1p(1e6)
_REFINE_PRECISION: Final[int] = 40
_REFINE_CONTEXT: Final[Context] = Context(prec=_REFINE_PRECISION)
#: The Decimal solver doubles its bracket from 1 and refuses a root beyond the last power of
#: two within _MAX_APR_BRACKET, 2**39: an edge every proof keeps the root below.
_QUOTABLE_LIMIT: Final[int] = 1 << (int(_MAX_APR_BRACKET).bit_length() - 1)
_QUOTABLE_EDGE: Final[tuple[int, int]] = (_QUOTABLE_LIMIT * _EDGE_SCALE, 1)
_LOG_QUOTABLE: Final[float] = math.log1p(_QUOTABLE_LIMIT)

# An edge (x, m) stands for the nominal rate x / 10**11 compounded m times a year (m = 1 for an
# effective rate), i.e. the effective rate (1 + x / (m * 10**11)) ** m - 1.
_Edge = tuple[int, int]
_Flows = Sequence[tuple[int, int, int]]


def _rounded_rates(
    net_minor: int, flows: _Flows, compounding: tuple[int | None, ...]
) -> tuple[Decimal, ...] | None:
    """The APRs, each rounded half-up to 4 places, or None when they cannot be proven here.

    ``flows`` are ``(months, days, amount_minor)`` of each instalment, in due-date order.
    Raises :class:`ScheduleError` for a rate proven beyond the Decimal solver's range.
    """
    repaid = sum(amount for _, _, amount in flows)
    if net_minor >= repaid:
        # Repayments do not exceed the money received: no interest, no fees, rate 0 (an exact
        # integer comparison, as the Decimal solver's value at 0 is the same sum).
        return tuple(_quantize_apr(Decimal(0)) for _ in compounding)
    root_power = _DAY_MONTH_ROOT if any(days for _, days, _ in flows) else 12
    search = _newton_log_growth(net_minor, flows, repaid)
    if search is None or search > _LOG_QUOTABLE:
        # Beyond 2**39 a year, or a search that overflowed on the way there: prove the root is
        # above the solver's last bracket, which it refuses.
        v = _float_discount(_LOG_QUOTABLE + 1e-9, root_power)
        if v is not None and _proves_side(
            net_minor, flows, v, root_power, [_QUOTABLE_EDGE], below=True
        ):
            raise ScheduleError("APR is beyond any quotable range")
        return None
    root: _FloatRoot | _DecimalRoot
    if search < _LOG_FLOAT_LIMIT:
        root = _FloatRoot(search)
    else:
        root = _DecimalRoot(_refine_log_growth(net_minor, flows, search))
    aprs = tuple(_quantize_apr(root.annualised(m)) for m in compounding)

    # The rounding interval of each APR, [apr - 0.00005, apr + 0.00005), narrowed by the
    # margin at both ends.
    lows: list[_Edge] = []
    highs: list[_Edge] = [_QUOTABLE_EDGE]
    for apr, m in zip(aprs, compounding, strict=True):
        numerator, denominator = apr.as_integer_ratio()  # exact: apr has 4 places
        centre = numerator * _EDGE_SCALE // denominator
        times = 1 if m is None else m
        if centre - _HALF_UNIT > 0:  # an edge at or below 0 is below the root already
            lows.append((centre - _HALF_UNIT, times))
        highs.append((centre + _HALF_UNIT, times))
    for edges, below in ((lows, True), (highs, False)):
        if not edges:
            continue
        v = root.aim(edges, root_power, below=below)
        if v is None or not _proves_side(net_minor, flows, v, root_power, edges, below=below):
            return None
    return aprs


def _newton_log_growth(net_minor: int, flows: _Flows, repaid: int) -> float | None:
    """``ln(1 + i)`` at the root, by Newton's method in floats (None if it does not settle).

    g(L) = net - sum(a * exp(-t * L)) is increasing and concave in L = ln(1 + i), so Newton's
    method started left of the root climbs to it without overshooting. The start
    ln(repaid / net) / duration (duration = the amount-weighted mean time) is left of the
    root, by Jensen's inequality.
    """
    net = float(net_minor)
    times = [months / 12 + days / 365 for months, days, _ in flows]
    amounts = [float(amount) for _, _, amount in flows]
    try:
        duration = math.fsum(t * a for t, a in zip(times, amounts, strict=True)) / repaid
        log_growth = math.log(repaid / net_minor) / duration
        for _ in range(_MAX_NEWTON_STEPS):
            value = net
            slope = 0.0
            for t, a in zip(times, amounts, strict=True):
                discounted = a * math.exp(-t * log_growth)
                value -= discounted
                slope += t * discounted
            step = value / slope
            log_growth -= step
            # Convergence is quadratic: after a step of 1e-8 the error is of the order of 1e-16,
            # far closer than the proof needs (it aims halfway between the root and an edge,
            # typically 1e-5 away, and proves whatever it hits), and float noise would keep
            # smaller steps from reaching zero anyway.
            if abs(step) <= 1e-8 * (1.0 + log_growth):
                return log_growth
    except (OverflowError, ZeroDivisionError, ValueError):
        return None
    return None


def _refine_log_growth(net_minor: int, flows: _Flows, start: float) -> Decimal:
    """Two Newton steps in Decimal from the float search: enough digits to place the root of an
    absurd rate (10**6 and more a year) within a rounding interval of 10**-4."""
    with localcontext(_REFINE_CONTEXT):
        log_growth = Decimal(start)
        times = [Decimal(months) / 12 + Decimal(days) / 365 for months, days, _ in flows]
        for _ in range(2):
            month = (-log_growth / 12).exp()
            day = (-log_growth / 365).exp()
            value = Decimal(net_minor)
            slope = Decimal(0)
            for (months, days, amount), t in zip(flows, times, strict=True):
                discounted = amount * month**months * day**days
                value -= discounted
                slope += t * discounted
            log_growth -= value / slope
        return log_growth


class _FloatRoot:
    """The search's root as a float ``ln(1 + i)``."""

    __slots__ = ("log_growth",)

    def __init__(self, log_growth: float) -> None:
        self.log_growth = log_growth

    def annualised(self, m: int | None) -> Decimal:
        """The rate, effective (``m=None``) or compounded ``m`` times a year."""
        lg = self.log_growth
        return Decimal(math.expm1(lg) if m is None else m * math.expm1(lg / m))

    def aim(self, edges: list[_Edge], root_power: int, *, below: bool) -> int | None:
        """A fixed-point v for a rate halfway between the root and the nearest of ``edges``
        (all of which should be below the root if ``below``, above it otherwise)."""
        logs = [m * math.log1p(x / (m * _EDGE_SCALE)) for x, m in edges]
        edge = max(logs) if below else min(logs)
        if (edge >= self.log_growth) if below else (edge <= self.log_growth):
            return None
        return _float_discount((edge + self.log_growth) / 2, root_power)


class _DecimalRoot:
    """The search's root as a Decimal ``ln(1 + i)`` (absurd rates, where a float's 16 digits
    cannot tell the 4th decimal place)."""

    __slots__ = ("log_growth",)

    def __init__(self, log_growth: Decimal) -> None:
        self.log_growth = log_growth

    def annualised(self, m: int | None) -> Decimal:
        """The rate, effective (``m=None``) or compounded ``m`` times a year."""
        with localcontext(_REFINE_CONTEXT):
            if m is None:
                return self.log_growth.exp() - 1
            return m * ((self.log_growth / m).exp() - 1)

    def aim(self, edges: list[_Edge], root_power: int, *, below: bool) -> int | None:
        """As :meth:`_FloatRoot.aim`, in Decimal."""
        with localcontext(_REFINE_CONTEXT):
            rates = [(1 + Decimal(x) / (m * _EDGE_SCALE)) ** m - 1 for x, m in edges]
            edge = max(rates) if below else min(rates)
            rate = self.log_growth.exp() - 1
            if (edge >= rate) if below else (edge <= rate):
                return None
            # ln(1 + target) for the target halfway to the edge, as ln(1 + rate) + log1p(y)
            # with |y| < 10**-10: two terms of the series leave an error below 10**-30.
            y = (edge - rate) / (2 * (1 + rate))
            target = self.log_growth + y - y * y / 2
            v = (-target / root_power).exp()
            fixed = int((v * _FIXED_ONE).to_integral_value())
        return fixed if 0 < fixed < _FIXED_ONE else None


def _float_discount(log_growth: float, root_power: int) -> int | None:
    """A fixed-point v close to (1 + p) ** (-1 / root_power) for the rate p = expm1(log_growth).

    Any v will do for the proof (it works out which rate v stands for); a close one keeps that
    rate where it was aimed, between the root and the edge of the rounding interval.
    """
    shrink = -math.expm1(-log_growth / root_power)  # 1 - v, kept apart for its precision
    if not 0.0 < shrink < 1.0:
        return None
    return _FIXED_ONE - int(shrink * _FIXED_ONE)


def _fixed_mul(a: int, b: int, up: bool) -> int:
    """The fixed-point product of two non-negative numbers, rounded down or up."""
    product = a * b
    return -((-product) >> _FIXED_BITS) if up else product >> _FIXED_BITS


def _fixed_pow(base: int, exponent: int, up: bool) -> int:
    """``base ** exponent`` of a non-negative fixed-point number, every product rounded the
    same way, so the result is a lower (``up=False``) or an upper bound."""
    result = _FIXED_ONE
    while exponent:
        if exponent & 1:
            result = _fixed_mul(result, base, up)
        exponent >>= 1
        if exponent:
            base = _fixed_mul(base, base, up)
    return result


def _proves_side(
    net_minor: int,
    flows: _Flows,
    v: int,
    root_power: int,
    edges: list[_Edge],
    *,
    below: bool,
) -> bool:
    """Prove that p = v ** -root_power - 1 is below the root and at or above every edge
    (``below=True``), or above the root and at or below every edge (``below=False``).

    Every quantity is positive and every product is rounded away from what is to be proven
    (down for a lower bound, up for an upper bound), so a True answer is a proof.
    """
    # p versus an edge E: 1 + p >= 1 + E  <=>  (1 + E) * v**root_power <= 1 (below), and
    # 1 + p <= 1 + E  <=>  (1 + E) * v**root_power >= 1 (above). Bound both factors outward.
    outward = below
    v_power = _fixed_pow(v, root_power, outward)
    for x, m in edges:
        denominator = m * _EDGE_SCALE
        top = (denominator + x) << _FIXED_BITS
        base = top // denominator
        if outward and base * denominator != top:
            base += 1
        product = _fixed_pow(base, m, outward) * v_power
        if product > _FIXED_ONE * _FIXED_ONE if below else product < _FIXED_ONE * _FIXED_ONE:
            return False
    # Present value of the instalments at p, sum(a * u**months * w**days) with u = (1+p)**(-1/12)
    # = v**(root_power/12) and w = (1+p)**(-1/365) = v**(root_power/365), by Horner's scheme
    # from the last instalment: rounded down it must exceed net (then p is below the root),
    # rounded up it must fall short of net (then p is above the root).
    up = not below
    month = _fixed_pow(v, root_power // 12, up)
    day = _fixed_pow(v, root_power // 365, up) if root_power % 365 == 0 else _FIXED_ONE
    month_powers: dict[int, int] = {0: _FIXED_ONE, 1: month}
    day_powers: dict[int, int] = {0: _FIXED_ONE}
    total = 0
    later_months = flows[-1][0]
    for months, days, amount in reversed(flows):
        gap = later_months - months
        if gap:
            factor = month_powers.get(gap)
            if factor is None:
                factor = month_powers[gap] = _fixed_pow(month, gap, up)
            # _fixed_mul(total, factor, up), inline: this loop is the bulk of the proof.
            total = -((-total * factor) >> _FIXED_BITS) if up else (total * factor) >> _FIXED_BITS
        if days:
            factor = day_powers.get(days)
            if factor is None:
                factor = day_powers[days] = _fixed_pow(day, days, up)
            total += amount * factor  # exact: an integer times a fixed-point number
        else:
            total += amount << _FIXED_BITS
        later_months = months
    total = _fixed_mul(total, _fixed_pow(month, flows[0][0], up), up)
    if below:
        return total > net_minor << _FIXED_BITS
    return total < net_minor << _FIXED_BITS


def _bracketed_rates(
    net: Money,
    flows: Sequence[tuple[int, int, int]],
    compounding: tuple[int | None, ...],
    exponent: int,
) -> tuple[Decimal, ...]:
    """The APRs by the bracketed Decimal solver: slow, but it settles every case the fast path
    leaves open (a root at the edge of a rounding interval, extreme rates)."""
    with localcontext(_CONTEXT):
        decimal_flows = [
            (Decimal(months) / 12 + Decimal(days) / 365, Decimal(amount).scaleb(-exponent))
            for months, days, amount in flows
        ]
    effective = _solve_irr(net.to_decimal(), decimal_flows)
    rates = []
    for m in compounding:
        with localcontext(_CONTEXT):
            if m is None:
                rate = effective
            else:
                d = Decimal(m)
                rate = d * (((1 + effective).ln() / d).exp() - 1)
        rates.append(_quantize_apr(rate))
    return tuple(rates)


def _solve_irr(net: Decimal, flows: Sequence[tuple[Decimal, Decimal]]) -> Decimal:
    """The rate i >= 0 with ``net = sum(amount * (1+i)**-t)``.

    f(i) = net - sum(amount * (1+i)**-t) rises strictly with i (all amounts and times are
    positive), so the root is unique. The bracket starts at [0, 1] and doubles its top until f
    changes sign; each step then tries Newton and falls back to bisection whenever Newton would
    leave the bracket. Every step is plain Decimal arithmetic, so the result is reproducible.
    """
    with localcontext(_CONTEXT):

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
