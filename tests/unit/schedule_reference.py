"""A frozen record of what the schedule engine and the APR solver answer over a wide grid.

``tests/unit/fixtures/schedule_reference.jsonl`` holds one JSON object per case: the inputs
(schedule terms and upfront fees) and the outputs of the engine as it stood before the quote
was optimised (commit ``8c5b6ff``): every instalment (as a digest of all its fields, plus the
first and last line and the totals in clear), and for each fee the cost of credit and the APR,
effective and compounded monthly, or the refusal. ``test_schedule_reference`` rebuilds every
case with the current code and requires the same answers, so a faster engine cannot change a
figure unnoticed.

Regenerate only on purpose (a deliberate change of figures), from the commit whose answers are
the reference::

    .venv/bin/python -m tests.unit.schedule_reference > tests/unit/fixtures/schedule_reference.jsonl

The same module prints the outcomes of any case list, which is how ``bench/quote_equivalence.py``
compares an old tree with the current one on many more random cases.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from domain.kernel.calendar import BusinessDayRule, Calendar, ChinaCalendar, WeekendCalendar
from domain.kernel.daycount import DayCountConvention
from domain.kernel.money import ROUNDING_MODES, Money
from domain.loans.policy import (
    PeriodUnit,
    RepaymentMethod,
    Schedule,
    ScheduleError,
    ScheduleTerms,
    build_schedule,
    quote_cost,
)

FIXTURE = Path(__file__).parent / "fixtures" / "schedule_reference.jsonl"

_CALENDARS: dict[str, Calendar] = {"china": ChinaCalendar(), "weekend": WeekendCalendar()}

Case = dict[str, Any]


# -- inputs ---------------------------------------------------------------------------------


def terms_of(case: Case) -> ScheduleTerms:
    """The ScheduleTerms a case describes."""
    t = case["terms"]
    first_due = t.get("first_due")
    calendar = t.get("calendar")
    return ScheduleTerms(
        principal=Money(t["principal"][0], t["principal"][1]),
        annual_rate=Decimal(t["rate"]),
        periods=t["periods"],
        method=RepaymentMethod[t["method"]],
        start_date=date.fromisoformat(t["start"]),
        period_unit=PeriodUnit[t["unit"]],
        period_days=t.get("period_days"),
        first_due_date=None if first_due is None else date.fromisoformat(first_due),
        day_count=DayCountConvention[t["day_count"]],
        business_day_rule=BusinessDayRule[t.get("rule", "NONE")],
        calendar=None if calendar is None else _CALENDARS[calendar],
        rounding=t.get("rounding", ROUND_HALF_UP),
    )


def _case(
    *,
    principal: tuple[int, str],
    rate: str,
    periods: int,
    method: RepaymentMethod,
    start: date,
    unit: PeriodUnit = PeriodUnit.MONTH,
    period_days: int | None = None,
    first_due: date | None = None,
    day_count: DayCountConvention = DayCountConvention.ACT_365,
    rule: BusinessDayRule = BusinessDayRule.NONE,
    calendar: str | None = None,
    rounding: str = ROUND_HALF_UP,
    fees: list[int],
    product_fees: list[list[Any]] | None = None,
) -> Case:
    terms: dict[str, Any] = {
        "principal": list(principal),
        "rate": rate,
        "periods": periods,
        "method": method.name,
        "start": start.isoformat(),
        "unit": unit.name,
        "day_count": day_count.name,
    }
    # Settings left at their defaults are omitted, to keep the fixture small.
    if period_days is not None:
        terms["period_days"] = period_days
    if first_due is not None:
        terms["first_due"] = first_due.isoformat()
    if rule is not BusinessDayRule.NONE:
        terms["rule"] = rule.name
    if calendar is not None:
        terms["calendar"] = calendar
    if rounding != ROUND_HALF_UP:
        terms["rounding"] = rounding
    case: Case = {"terms": terms, "fees": fees}
    if product_fees is not None:
        # The same fees as a product states them (kind and flat amount or rate), so the test
        # can also price the case through domain.products.policy.quote.
        case["product_fees"] = product_fees
    return case


def _percent_fee(amount_minor: int, rate: Decimal) -> int:
    """``amount x rate`` rounded half-up to the minor unit (what a PERCENT origination fee is)."""
    return int((Decimal(amount_minor) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


_PRODUCT_RATES = ["0", "0.0001", "0.0435", "0.12", "0.2399", "0.36"]
_PRODUCT_AMOUNTS = [
    (100_000, "CNY"),  # 1,000.00
    (1_234_567, "CNY"),  # 12,345.67
    (10_000_000, "CNY"),  # 100,000.00
    (500_000_000, "CNY"),  # 5,000,000.00
    (1_000_000, "JPY"),
]
_STARTS = [
    date(2026, 1, 15),
    date(2026, 1, 31),
    date(2028, 2, 29),
    date(2026, 8, 30),
    date(2027, 12, 31),
    date(2026, 3, 1),
]
_CONVENTIONS = list(DayCountConvention)


def _product_fees(principal: tuple[int, str]) -> tuple[list[int], list[list[Any]]]:
    """No fee, a flat fee of 1 % of the amount, and a 1.5 % PERCENT fee."""
    flat = principal[0] // 100
    percent = Decimal("0.015")
    return (
        [0, flat, _percent_fee(principal[0], percent)],
        [["NONE"], ["FLAT", flat], ["PERCENT", str(percent)]],
    )


def product_cases() -> Iterator[Case]:
    """What the quote API can be asked: monthly terms of 1..60 or one BULLET period of days, no
    business-day rule, half-up rounding, rates 0..36 %, no fee, a flat and a percent fee."""
    index = 0
    for method in RepaymentMethod:
        terms = range(1, 61) if method is RepaymentMethod.EQUAL_INSTALLMENT else (
            1, 2, 3, 6, 11, 12, 13, 24, 36, 48, 59, 60
        )  # fmt: skip
        for periods in terms:
            for rate in _PRODUCT_RATES:
                principal = _PRODUCT_AMOUNTS[index % len(_PRODUCT_AMOUNTS)]
                fees, product_fees = _product_fees(principal)
                yield _case(
                    principal=principal,
                    rate=rate,
                    periods=periods,
                    method=method,
                    start=_STARTS[index % len(_STARTS)],
                    day_count=_CONVENTIONS[index % len(_CONVENTIONS)],
                    fees=fees,
                    product_fees=product_fees,
                )
                index += 1
    for days in (1, 7, 30, 90, 180, 365, 366):
        for rate in _PRODUCT_RATES:
            for convention in _CONVENTIONS:
                principal = _PRODUCT_AMOUNTS[index % len(_PRODUCT_AMOUNTS)]
                fees, product_fees = _product_fees(principal)
                yield _case(
                    principal=principal,
                    rate=rate,
                    periods=1,
                    method=RepaymentMethod.BULLET,
                    start=_STARTS[index % len(_STARTS)],
                    unit=PeriodUnit.DAY,
                    period_days=days,
                    day_count=convention,
                    fees=fees,
                    product_fees=product_fees,
                )
                index += 1


def random_cases(count: int, seed: int) -> Iterator[Case]:
    """``count`` cases drawn over the whole input space of the engine, reproducibly."""
    rng = random.Random(seed)
    roundings = sorted(ROUNDING_MODES)
    for _ in range(count):
        unit = rng.choice(list(PeriodUnit))
        start = date(2024, 1, 1) + timedelta(days=rng.randrange(4 * 365))
        period_days = rng.randint(1, 400) if unit is PeriodUnit.DAY else None
        periods = rng.choice([rng.randint(1, 12), rng.randint(1, 60), rng.randint(1, 60)])
        if rng.random() < 0.02:
            periods = rng.randint(61, 240)
        rule = BusinessDayRule.NONE
        calendar = None
        if rng.random() < 0.5:
            rule = rng.choice(list(BusinessDayRule))
            calendar = rng.choice(sorted(_CALENDARS))
        first_due = None
        if rng.random() < 0.3:
            first_due = start + timedelta(days=rng.randint(1, 75))
        currency = rng.choice(["CNY", "CNY", "USD", "JPY"])
        principal = (int(10 ** rng.uniform(0, 12)) + 1, currency)
        if rng.random() < 0.9:
            rate = str(Decimal(rng.randint(0, 3600)).scaleb(-4))
        else:
            rate = str(Decimal(rng.randint(0, 10**8)).scaleb(-8))  # up to 100 %, 8 places
        fees = [0]
        for _ in range(rng.randint(1, 2)):
            share = rng.choice([0.001, 0.01, 0.05, rng.random() * 0.2, rng.random()])
            fees.append(min(int(principal[0] * share), principal[0] - 1))
        yield _case(
            principal=principal,
            rate=rate,
            periods=periods,
            method=rng.choice(list(RepaymentMethod)),
            start=start,
            unit=unit,
            period_days=period_days,
            first_due=first_due,
            day_count=rng.choice(_CONVENTIONS),
            rule=rule,
            calendar=calendar,
            rounding=rng.choice(roundings),
            fees=fees,
        )


def reference_cases() -> list[Case]:
    """The cases of the committed fixture: the product grid and 1,500 random ones."""
    return [*product_cases(), *random_cases(1500, seed=20260115)]


# -- outputs --------------------------------------------------------------------------------


def _money(value: Money) -> str:
    return f"{value.amount_minor} {value.currency}"


def _amount(value: Money, currency: str) -> int | str:
    """Minor units, with the currency spelled out only if it is not the loan's (a bug)."""
    return value.amount_minor if value.currency == currency else _money(value)


def _line(schedule: Schedule, index: int) -> list[Any]:
    line = schedule.installments[index]
    return [
        line.number,
        line.due_date.isoformat(),
        line.period_start.isoformat(),
        line.period_end.isoformat(),
        _money(line.principal),
        _money(line.interest),
        _money(line.total),
        _money(line.opening_balance),
        _money(line.closing_balance),
    ]


def schedule_outcome(schedule: Schedule) -> list[Any]:
    """Every figure of ``schedule``: the number of lines, a digest over all of their fields,
    and in clear the maturity date and the totals of principal, interest and payment."""
    lines = [json.dumps(_line(schedule, i)) for i in range(len(schedule.installments))]
    currency = schedule.terms.principal.currency
    return [
        len(lines),
        hashlib.sha256("\n".join(lines).encode()).hexdigest()[:20],
        schedule.maturity_date.isoformat(),
        _amount(schedule.total_principal, currency),
        _amount(schedule.total_interest, currency),
        _amount(schedule.total_payment, currency),
    ]


def _refusal(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def outcome(case: Case) -> dict[str, Any]:
    """What the engine answers for ``case``: its schedule and, for each fee, the quote as
    ``[apr, apr compounded monthly, principal, fees, net disbursed, total interest, total cost
    of credit, total repayable]`` (or the refusal)."""
    try:
        schedule = build_schedule(terms_of(case))
    except ScheduleError as exc:
        return {"error": _refusal(exc)}
    quotes: list[Any] = []
    currency = schedule.terms.principal.currency
    for fee_minor in case["fees"]:
        fee = Money(fee_minor, currency)
        try:
            cost = quote_cost(schedule, fee)
            nominal = quote_cost(schedule, fee, compounding_per_year=12)
        except ScheduleError as exc:
            quotes.append(_refusal(exc))
            continue
        quotes.append(
            [
                str(cost.apr),
                str(nominal.apr),
                _amount(cost.principal, currency),
                _amount(cost.fees, currency),
                _amount(cost.net_disbursed, currency),
                _amount(cost.total_interest, currency),
                _amount(cost.total_cost_of_credit, currency),
                _amount(cost.total_repayable, currency),
            ]
        )
    return {"schedule": schedule_outcome(schedule), "quotes": quotes}


def main(argv: list[str]) -> None:
    """Print ``{"case": ..., "outcome": ...}`` lines: the reference grid, or with
    ``--random COUNT SEED`` that many random cases."""
    if argv[:1] == ["--random"]:
        cases = list(random_cases(int(argv[1]), seed=int(argv[2])))
    else:
        cases = reference_cases()
    for case in cases:
        record = {"case": case, "outcome": outcome(case)}
        sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
