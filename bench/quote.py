"""CPU cost of a loan quote, against a hand-written float annuity measured in the same run.

A quote is what the ``quote`` field of the API computes: ``domain.products.policy.quote``,
i.e. the offer check, the schedule, the origination fee, the total cost of credit and both
APRs (effective and compounded monthly). It is priced for 12, 36 and 60 monthly instalments of
each repayment method (100,000.00 CNY at 12 %, a 1.5 % origination fee) and for the schedule
alone. The baseline is the floor any engine has to pay for a schedule of that length: a plain
float annuity (payment, then interest, principal and balance per line) in a few lines of
Python, with no Decimal, no Money and no APR.

Each figure is the median of several rounds of CPU time (``time.process_time``) over many
runs, in milliseconds per quote; ``x floor`` divides it by the baseline of the same length.
Usage::

    .venv/bin/python bench/quote.py [--rounds 7] [--budget 0.3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal

from domain.kernel.daycount import DayCountConvention
from domain.kernel.money import Money
from domain.loans.policy import RepaymentMethod, build_schedule
from domain.products import policy
from domain.products.models import FeeKind, PenaltyBasis, TermUnit
from domain.products.policy import (
    LatePenalty,
    OriginationFee,
    PrepaymentPenalty,
    ProductTerms,
)

AMOUNT = Money(10_000_000, "CNY")  # 100,000.00
START = date(2026, 1, 15)
TERMS = (12, 36, 60)
TARGET_MS = 2.0  # 60 equal instalments with both APRs (issue 6, defect 9)

PRODUCT = ProductTerms(
    currency="CNY",
    min_amount=Money(100_000, "CNY"),
    max_amount=Money(100_000_000, "CNY"),
    term_unit=TermUnit.MONTH,
    allowed_terms=TERMS,
    annual_rate=Decimal("0.12"),
    repayment_method=RepaymentMethod.EQUAL_INSTALLMENT,
    day_count=DayCountConvention.ACT_365,
    late_penalty=LatePenalty(Decimal("0.0005"), PenaltyBasis.OVERDUE_PRINCIPAL, 3),
    prepayment_penalty=PrepaymentPenalty(Decimal("0.02"), Decimal("0.10")),
    origination_fee=OriginationFee(FeeKind.PERCENT, rate=Decimal("0.015")),
)


def float_annuity(principal: float, annual_rate: float, periods: int) -> list[tuple[float, ...]]:
    """The baseline: a level-payment schedule in floats, rounded to the cent per line."""
    r = annual_rate / 12
    payment = round(principal * r / (1 - (1 + r) ** -periods), 2)
    balance = principal
    lines = []
    for k in range(1, periods + 1):
        interest = round(balance * r, 2)
        repay = balance if k == periods else payment - interest
        lines.append((k, balance, repay, interest, repay + interest))
        balance = round(balance - repay, 2)
    return lines


def cpu_ms(run: Callable[[], object], rounds: int, budget: float) -> float:
    """Median over ``rounds`` of the CPU milliseconds per call, each round about ``budget``
    seconds of CPU (the number of calls is calibrated once)."""
    run()  # warm caches (calendar, Decimal contexts) outside the measurement
    calls = 1
    while True:
        started = time.process_time()
        for _ in range(calls):
            run()
        spent = time.process_time() - started
        if spent >= budget / 4:
            break
        calls *= 2
    calls = max(1, int(calls * budget / max(spent, 1e-9)))
    samples = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(calls):
            run()
        samples.append((time.process_time() - started) / calls * 1000)
    return statistics.median(samples)


def main() -> None:
    """Print one table row per method and term, then the target check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds per figure (median)")
    parser.add_argument("--budget", type=float, default=0.3, help="CPU seconds per round")
    args = parser.parse_args()

    floors = {
        n: cpu_ms(lambda n=n: float_annuity(100_000.0, 0.12, n), args.rounds, args.budget)
        for n in TERMS
    }
    print(f"{'method':<18} {'n':>3} {'floor ms':>9} {'schedule ms':>12} {'quote ms':>9}"
          f" {'x floor':>8}")  # fmt: skip
    target = None
    for method in RepaymentMethod:
        product = replace(PRODUCT, repayment_method=method)
        for n in TERMS:
            terms = policy.schedule_terms(product, AMOUNT, n, START)
            schedule = cpu_ms(lambda t=terms: build_schedule(t), args.rounds, args.budget)
            quote = cpu_ms(
                lambda p=product, n=n: policy.quote(p, AMOUNT, n, START), args.rounds, args.budget
            )
            if method is RepaymentMethod.EQUAL_INSTALLMENT and n == 60:
                target = quote
            print(
                f"{method.name:<18} {n:>3} {floors[n]:>9.3f} {schedule:>12.3f} {quote:>9.3f}"
                f" {quote / floors[n]:>8.1f}"
            )
    assert target is not None
    verdict = "under" if target < TARGET_MS else "OVER"
    print(f"EQUAL_INSTALLMENT x 60 with both APRs: {target:.3f} ms, {verdict} {TARGET_MS} ms")


if __name__ == "__main__":
    main()
