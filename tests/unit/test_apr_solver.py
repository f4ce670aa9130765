"""The APR solver: the fast path (float search, then an integer proof of the rounded figure)
against an independent present-value model, its refusal to guess at a rounding edge, and the
bracketed Decimal solver it falls back to."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal, localcontext
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import domain.loans.policy as engine
from domain.kernel.money import Money
from domain.loans.policy import (
    PeriodUnit,
    RepaymentMethod,
    Schedule,
    ScheduleError,
    ScheduleTerms,
    build_schedule,
    quote_cost,
    quote_costs,
)
from tests.unit.schedule_reference import FIXTURE, outcome

CNY = "CNY"
START = date(2026, 1, 15)
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _flows(schedule: Schedule) -> list[tuple[int, int, int]]:
    return [
        (*engine._months_and_days(schedule.terms.start_date, line.due_date),
         line.total.amount_minor)
        for line in schedule.installments
    ]  # fmt: skip


def _present_value(flows: list[tuple[int, int, int]], effective: Decimal) -> Decimal:
    """sum(a / (1 + i) ** (months / 12 + days / 365)) at 50 digits: an independent model
    (exp and ln of the whole exponent, as the directive's formula reads)."""
    with localcontext() as ctx:
        ctx.prec = 50
        log = (1 + effective).ln()
        return sum(
            (Decimal(a) * (-(Decimal(m) / 12 + Decimal(d) / 365) * log).exp() for m, d, a in flows),
            Decimal(0),
        )


def _effective_of(nominal: Decimal, m: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 50
        return (1 + nominal / m) ** m - 1


@st.composite
def loans(draw: st.DrawFn) -> tuple[Schedule, int]:
    """A loan a product could offer (monthly or a day bullet, 0..36 %) with an upfront fee."""
    day = draw(st.booleans())
    method = RepaymentMethod.BULLET if day else draw(st.sampled_from(list(RepaymentMethod)))
    principal = draw(st.integers(min_value=100, max_value=10**10))
    terms = ScheduleTerms(
        principal=Money(principal, CNY),
        annual_rate=Decimal(draw(st.integers(min_value=0, max_value=3600))).scaleb(-4),
        periods=1 if day else draw(st.integers(min_value=1, max_value=60)),
        method=method,
        start_date=START + timedelta(days=draw(st.integers(min_value=0, max_value=1500))),
        period_unit=PeriodUnit.DAY if day else PeriodUnit.MONTH,
        period_days=draw(st.integers(min_value=1, max_value=366)) if day else None,
    )
    fee = draw(st.integers(min_value=0, max_value=principal // 10))
    return build_schedule(terms), fee


@SETTINGS
@given(loan=loans())
def test_fast_apr_is_the_correctly_rounded_root(loan: tuple[Schedule, int]) -> None:
    # Whatever the fast path answers must be the root rounded half-up to 4 places, by the
    # independent model: f(apr - 0.00005) <= 0 < f(apr + 0.00005) with f = net - PV. When it
    # cannot prove its figure it answers None (the bracketed solver then decides).
    schedule, fee = loan
    net = schedule.terms.principal.amount_minor - fee
    flows = _flows(schedule)
    try:
        aprs = engine._rounded_rates(net, flows, (None, 12))
    except ScheduleError:
        # Refused as beyond the solver's last bracket (a tiny loan, a day long, a big fee):
        # the root must then be above 2**39, i.e. the present value there still exceeds net.
        assert _present_value(flows, Decimal(2**39)) > net
        return
    if aprs is None:
        return
    effective, nominal = aprs
    half = Decimal("0.00005")
    if sum(a for _, _, a in flows) <= net:
        assert aprs == (Decimal("0.0000"), Decimal("0.0000"))
        return
    low_e, high_e = effective - half, effective + half
    if low_e > 0:
        assert _present_value(flows, low_e) >= net
    assert _present_value(flows, high_e) < net
    low_n, high_n = nominal - half, nominal + half
    if low_n > 0:
        assert _present_value(flows, _effective_of(low_n, 12)) >= net
    assert _present_value(flows, _effective_of(high_n, 12)) < net


@SETTINGS
@given(loan=loans(), aim=st.floats(min_value=-0.5, max_value=0.5))
def test_a_side_is_proven_only_when_true(loan: tuple[Schedule, int], aim: float) -> None:
    # Aim the proof at rates around the root, on either side: whenever it claims "p is below
    # (above) the root", the independent present value at p must exceed (fall short of) net.
    # Aimed clearly to one side, the true claim is proven and the false one is not.
    schedule, fee = loan
    net = schedule.terms.principal.amount_minor - fee
    flows = _flows(schedule)
    repaid = sum(a for _, _, a in flows)
    root_power = 4380 if any(d for _, d, _ in flows) else 12
    search = engine._newton_log_growth(net, flows, repaid) if repaid > net else None
    if search is None:
        return
    v = engine._float_discount(search * (1 + aim), root_power)
    assert v is not None
    with localcontext() as ctx:
        ctx.prec = 60
        p = (Decimal(engine._FIXED_ONE) / Decimal(v)) ** root_power - 1
    pv = _present_value(flows, p)
    proven_below = engine._proves_side(net, flows, v, root_power, [], below=True)
    proven_above = engine._proves_side(net, flows, v, root_power, [], below=False)
    if proven_below:
        assert pv > net
    if proven_above:
        assert pv < net
    if abs(aim) >= 1e-3 and p <= 2**39:  # within the quotable range, where the engine aims
        assert (proven_below, proven_above) == (aim < 0, aim > 0)


@SETTINGS
@given(
    loan=loans(),
    side=st.sampled_from([-0.2, 0.2]),
    compounded=st.sampled_from([1, 12]),
)
def test_an_edge_is_proven_only_on_its_side(
    loan: tuple[Schedule, int], side: float, compounded: int
) -> None:
    # Aim at a rate p clearly below (side < 0) or above the root, then ask for an edge a little
    # beyond p away from the root (the claim holds) or toward it (it does not): an edge (x, m)
    # is the rate x / 10**11 compounded m times a year.
    schedule, fee = loan
    net = schedule.terms.principal.amount_minor - fee
    flows = _flows(schedule)
    repaid = sum(a for _, _, a in flows)
    search = engine._newton_log_growth(net, flows, repaid) if repaid > net else None
    if search is None or search < 1e-6:
        return
    root_power = 4380 if any(d for _, d, _ in flows) else 12
    below = side < 0
    v = engine._float_discount(search * (1 + side), root_power)
    assert v is not None
    with localcontext() as ctx:
        ctx.prec = 60
        p = (Decimal(engine._FIXED_ONE) / Decimal(v)) ** root_power - 1
        nominal = compounded * ((1 + p) ** (Decimal(1) / compounded) - 1)
        scaled = nominal * engine._EDGE_SCALE
    if p > 2**39:
        return  # beyond the quotable range, where the engine never aims an edge proof
    # Completeness needs a gap above the proof's own precision (96 fraction bits, i.e. about
    # 1e-18 relative for the absurd rates a one-day loan with a fee reaches); soundness none.
    gap = 2 + int(scaled * Decimal("1e-15"))
    inside = int(scaled) - gap if below else int(scaled) + gap  # an edge p does clear
    outside = int(scaled) + 2 if below else int(scaled) - 1  # an edge just beyond p
    assert engine._proves_side(net, flows, v, root_power, [(inside, compounded)], below=below)
    assert not engine._proves_side(net, flows, v, root_power, [(outside, compounded)], below=below)
    assert not engine._proves_side(
        net, flows, v, root_power, [(inside, compounded), (outside, compounded)], below=below
    )


def _bullet_a_year(rate: str) -> Schedule:
    # 12 monthly periods repaid at once: 2026-01-15 -> 2027-01-15 is 365 days, so under
    # ACT/365 the interest is exactly principal x rate, paid exactly one year (t = 1) later.
    return build_schedule(
        ScheduleTerms(
            principal=Money.parse("100000.00", CNY),
            annual_rate=Decimal(rate),
            periods=12,
            method=RepaymentMethod.BULLET,
            start_date=START,
        )
    )


def test_root_on_a_rounding_edge_is_left_to_the_bracketed_solver() -> None:
    # 100,000.00 received, 112,345.00 repaid a year later: the effective rate is exactly
    # 12.345 %, halfway between 0.1234 and 0.1235. No proof can place the root strictly inside
    # either rounding interval, so the fast path declines and the Decimal solver answers as
    # it always did: half-up, 0.1235 (its root, 0.12345000000025, is within its tolerance).
    schedule = _bullet_a_year("0.12345")
    assert schedule.installments[0].interest == Money.parse("12345.00", CNY)
    flows = _flows(schedule)
    assert flows == [(12, 0, 11234500)]
    assert engine._rounded_rates(10_000_000, flows, (None,)) is None
    assert quote_cost(schedule, Money.zero(CNY)).apr == Decimal("0.1235")


def _forbidden(*args: Any) -> None:
    raise AssertionError("the bracketed solver should not be needed")


def test_just_off_the_edge_is_proven_without_the_bracketed_solver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 12.3449 % and 12.3451 % a year: a hundredth of a basis point either side of the edge,
    # far more than the proof's 10**-11 margin, so the fast path settles both.
    monkeypatch.setattr(engine, "_bracketed_rates", _forbidden)
    assert quote_cost(_bullet_a_year("0.123449"), Money.zero(CNY)).apr == Decimal("0.1234")
    assert quote_cost(_bullet_a_year("0.123451"), Money.zero(CNY)).apr == Decimal("0.1235")


def test_absurd_rates_are_settled_by_the_refined_search(monkeypatch: pytest.MonkeyPatch) -> None:
    # A one-day bullet of 100.00 at 0 % with a 5.00 fee: (100 / 95) ** 365 - 1, about 1.3e8,
    # beyond a float's digits at the 4th decimal: the Decimal refinement and the proof give
    # the closed form; a 50.00 fee (2 ** 365 - 1) is proven beyond the quotable range.
    monkeypatch.setattr(engine, "_bracketed_rates", _forbidden)
    one_day = build_schedule(
        ScheduleTerms(
            principal=Money.parse("100.00", CNY),
            annual_rate=Decimal(0),
            periods=1,
            method=RepaymentMethod.BULLET,
            start_date=START,
            period_unit=PeriodUnit.DAY,
            period_days=1,
        )
    )
    with localcontext() as ctx:
        ctx.prec = 50
        expected = ((Decimal(100) / 95) ** 365 - 1).quantize(Decimal("0.0001"))
    assert quote_cost(one_day, Money.parse("5.00", CNY)).apr == expected
    with pytest.raises(ScheduleError, match="quotable"):
        quote_cost(one_day, Money.parse("50.00", CNY))


@pytest.mark.parametrize("fee", ["90.00", "91.67"])
def test_absurd_rate_over_months_and_days(fee: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # 100.00 lent for 35 days (2026-01-15 -> 2026-02-19: one month and 4 days, t = 1/12 + 4/365
    # of a year) at 0 % with a fee: 100.00 repaid on what was received, so 1 + i =
    # (100 / received) ** (1/t): about 2.7e10 a year for a 90.00 fee, 2.8e11 for 91.67 (close
    # to the last quotable bracket, 2**39, where a float's digits are far from enough). The
    # Decimal refinement settles both, months and days alike, without the bracketed solver.
    monkeypatch.setattr(engine, "_bracketed_rates", _forbidden)
    schedule = build_schedule(
        ScheduleTerms(
            principal=Money.parse("100.00", CNY),
            annual_rate=Decimal(0),
            periods=1,
            method=RepaymentMethod.BULLET,
            start_date=START,
            period_unit=PeriodUnit.DAY,
            period_days=35,
        )
    )
    assert _flows(schedule) == [(1, 4, 10000)]
    with localcontext() as ctx:
        ctx.prec = 50
        growth = (Decimal(100) / (100 - Decimal(fee))).ln() / (Decimal(1) / 12 + Decimal(4) / 365)
        effective = growth.exp() - 1
        nominal = 12 * ((growth / 12).exp() - 1)
    assert Decimal("1e10") < effective < 2**39
    quoted = quote_costs(schedule, Money.parse(fee, CNY), compounding=(None, 12))
    assert [q.apr for q in quoted] == [
        effective.quantize(Decimal("0.0001")),
        nominal.quantize(Decimal("0.0001")),
    ]


def test_one_solve_gives_both_aprs() -> None:
    # The worked example (tests/unit/test_schedule_examples): 0.1268 effective, 0.1200 x 12.
    schedule = _monthly(12)
    effective, nominal = quote_costs(schedule, Money.zero(CNY), compounding=(None, 12))
    assert (effective.apr, nominal.apr) == (Decimal("0.1268"), Decimal("0.1200"))
    assert effective == quote_cost(schedule, Money.zero(CNY))
    assert nominal == quote_cost(schedule, Money.zero(CNY), compounding_per_year=12)
    with pytest.raises(ScheduleError):
        quote_costs(schedule, Money.zero(CNY), compounding=(None, 0))


def _monthly(periods: int) -> Schedule:
    return build_schedule(
        ScheduleTerms(
            principal=Money.parse("100000.00", CNY),
            annual_rate=Decimal("0.12"),
            periods=periods,
            method=RepaymentMethod.EQUAL_INSTALLMENT,
            start_date=START,
        )
    )


SAMPLE = [json.loads(line) for line in FIXTURE.read_text().splitlines()[::97]]


@pytest.mark.parametrize("record", SAMPLE, ids=lambda r: r["case"]["terms"]["method"])
def test_bracketed_solver_alone_gives_the_reference(
    record: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the fast path switched off, every APR comes from the fallback: it must still give
    # the recorded answers (the fallback is rarely taken, so it is exercised here).
    monkeypatch.setattr(engine, "_rounded_rates", lambda *args: None)
    assert outcome(record["case"]) == record["outcome"]
