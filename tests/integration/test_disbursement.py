"""Disbursement on PostgreSQL with the sandbox payment rail calling back the served app over
loopback: a 100,000.00 CNY consumer deal approved as requested, its product withholding a 2 %
origination fee, is paid out as 98,000.00; on settlement its loan is ACTIVE with 12 monthly
lines and the ledger holds Dr principal receivable 100,000.00 / Cr settlement cash 98,000.00 /
Cr fee income 2,000.00. Duplicate and early callbacks, a failed payout, a worker killed
between asking the rail and hearing back, 200 concurrent requests under one key, a key reused
for another request, four eyes and another funder's finance officer.

Expected figures by hand: 2 % of 100,000.00 is 2,000.00; the annuity of 100,000.00 at 1 % a
month over 12 months is 100,000 x 0.01 / (1 - 1.01^-12) = 8,884.88 (rounded half-up), its
first month's interest 1,000.00 and principal 7,884.88."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.deals.models import DealStatus
from domain.deals.policy import can_transition
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.money import Money
from domain.ledger import service as ledger
from domain.payments.ports import (
    PaymentEventType,
    PayoutEvent,
    ProviderKind,
    ProviderUnavailable,
)
from domain.payouts import service as payouts
from tests.disbursement_support import (
    World,
    beneficiary,
    build_world,
    disburse,
    immediate_backoff,
    ledger_lines,
    platform,
    rows,
    served_rail,
    signed_deal,
    tenant_units,
)
from tests.jobs_support import RecordingQueue

VALUE_DATE = date(2026, 12, 7)
DISBURSEMENT = [
    ("PRINCIPAL_RECEIVABLE", 10_000_000),
    ("SETTLEMENT_CASH", -9_800_000),
    ("FEE_INCOME", -200_000),
]


@pytest.fixture
async def world(app_state) -> World:  # type: ignore[no-untyped-def]
    return await build_world(app_state)


async def _send(app_state, w: World, rail: Any, payout_id: uuid.UUID, url: str, **kw: Any) -> Any:
    client = rail.client() if hasattr(rail, "client") else rail
    try:
        return await payouts.send_payout(
            tenant_units(app_state, w.a),
            client,
            app_state.cipher,
            tenant_id=w.a,
            payout_id=payout_id,
            callback_url=url,
            backoff_ms=immediate_backoff,
            **kw,
        )
    finally:
        if hasattr(rail, "client"):
            await client.aclose()


async def _state(owner, deal_id: uuid.UUID) -> tuple[str, list[tuple[Any, ...]]]:
    [(status,)] = await rows(owner, "select status from deals where id = :d", d=deal_id)
    found = await rows(
        owner,
        "select state, amount_minor, fee_minor, net_minor, provider_payout_id is not null"
        " from payouts where deal_id = :d order by created_at",
        d=deal_id,
    )
    return status, found


async def _timeline(owner, deal_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return await rows(
        owner,
        "select action, from_status, to_status, actor_kind from deal_events where deal_id = :d"
        " and action not in ('deal.create', 'deal.submit') order by id",
        d=deal_id,
    )


async def _events(owner, deal_id: uuid.UUID) -> list[str]:
    found = await rows(
        owner,
        "select type from events where aggregate_id = :d and type in"
        " ('deal.disbursing', 'deal.activated', 'deal.payout_failed') order by id",
        d=str(deal_id),
    )
    return [r[0] for r in found]


# -- the whole path ---------------------------------------------------------------------------


async def test_a_settled_payout_opens_the_loan_and_posts_the_disbursement(
    app_state, owner_engine, settings, world
):
    w = world
    deal_id = await signed_deal(app_state, owner_engine, w)
    jobs = RecordingQueue()
    done = await disburse(
        app_state, w.staff.finance, deal_id, "disburse-1", jobs=jobs, value_date=VALUE_DATE
    )
    payout_id = done.payout.id
    assert not done.replayed
    assert await _state(owner_engine, deal_id) == (
        "DISBURSING",
        [("REQUESTED", 10_000_000, 200_000, 9_800_000, False)],
    )
    # The outbox's doorbell aside, one job: send the payout.
    assert [(j.actor, j.args) for j in jobs.sent if j.actor != "relay_events"] == [
        ("send_payout", (str(w.a), str(payout_id)))
    ]
    # The account number is kept encrypted.
    [(stored,)] = await rows(
        owner_engine, "select beneficiary_account from payouts where id = :p", p=payout_id
    )
    assert b"6222020200112233445" not in bytes(stored)

    with served_rail(settings) as rail:
        sent = await _send(app_state, w, rail, payout_id, rail.callback_url)
        assert sent.outcome == "SENT"
        record = await rail.wait(payout_id)
    # The rail paid the net amount, once, under the payout's ID.
    assert (record.amount, record.idempotency_key, record.status) == (
        Money(9_800_000, "CNY"),
        str(payout_id),
        "SETTLED",
    )
    assert [a.status for a in record.attempts] == [200]

    assert await _state(owner_engine, deal_id) == (
        "ACTIVE",
        [("SETTLED", 10_000_000, 200_000, 9_800_000, True)],
    )
    [(loan_id, status, principal, value_date, maturity, schedule)] = await rows(
        owner_engine,
        "select id, status, principal_minor, value_date, maturity_date, schedule from loans"
        " where deal_id = :d",
        d=deal_id,
    )
    assert (status, principal, value_date, maturity) == (
        "ACTIVE",
        10_000_000,
        VALUE_DATE,
        date(2027, 12, 7),
    )
    assert len(schedule) == 12
    assert schedule[0] == {
        "number": 1,
        "due_date": "2027-01-07",
        "period_start": "2026-12-07",
        "period_end": "2027-01-07",
        "principal_minor": 788_488,
        "interest_minor": 100_000,
        "total_minor": 888_488,
        "opening_balance_minor": 10_000_000,
        "closing_balance_minor": 9_211_512,
    }
    assert sum(line["principal_minor"] for line in schedule) == 10_000_000
    assert schedule[-1]["closing_balance_minor"] == 0
    assert await ledger_lines(owner_engine, w.a) == [
        (f"payout:{payout_id}", "DISBURSEMENT", kind, amount) for kind, amount in DISBURSEMENT
    ]
    accounts = await rows(
        owner_engine,
        "select count(*) from ledger_accounts where loan_id = :l",
        l=loan_id,
    )
    assert accounts == [(10,)]
    async with platform(app_state) as s:
        [books] = await ledger.trial_balance(s, tenant_id=w.a)
        assert books.balanced and books.total_debits == Money(10_000_000, "CNY")
    assert await _timeline(owner_engine, deal_id) == [
        ("deal.pass_first_review", "FIRST_REVIEW", "SECOND_REVIEW", "FUNDER"),
        ("deal.approve", "SECOND_REVIEW", "APPROVED", "FUNDER"),
        ("deal.disburse", "SIGNED", "DISBURSING", "FUNDER"),
        ("deal.activate", "DISBURSING", "ACTIVE", "SYSTEM"),
    ]
    assert await _events(owner_engine, deal_id) == ["deal.disbursing", "deal.activated"]
    # A repeated delivery of the job finds the payout settled and leaves it.
    assert (await _send(app_state, w, _NoRail(), payout_id, "http://unused/")).outcome == "DONE"


class _NoRail:
    """A rail that must not be asked."""

    async def disburse(self, request: Any) -> Any:
        raise AssertionError("asked the rail again")

    async def payout(self, payout_id: str) -> Any:
        raise AssertionError("asked the rail again")


async def test_without_a_value_date_the_loan_starts_on_the_settlement_day_in_the_funders_zone(
    app_state, owner_engine, settings, world
):
    w = world
    deal_id = await signed_deal(app_state, owner_engine, w)
    done = await disburse(app_state, w.staff.finance, deal_id, "disburse-today")
    with served_rail(settings) as rail:
        await _send(app_state, w, rail, done.payout.id, rail.callback_url)
        record = await rail.wait(done.payout.id)
    [(zone,)] = await rows(owner_engine, "select time_zone from tenants where id = :t", t=w.a)
    expected = record.settled_at.astimezone(ZoneInfo(zone)).date()
    assert await rows(
        owner_engine, "select value_date from loans where deal_id = :d", d=deal_id
    ) == [(expected,)]


# -- callbacks out of the ordinary ------------------------------------------------------------


async def test_a_duplicated_settlement_posts_once(app_state, owner_engine, settings, world):
    w = world
    deal_id = await signed_deal(app_state, owner_engine, w)
    done = await disburse(
        app_state,
        w.staff.finance,
        deal_id,
        "disburse-dup",
        beneficiary=beneficiary("DUPLICATE"),
        value_date=VALUE_DATE,
    )
    with served_rail(settings) as rail:
        await _send(app_state, w, rail, done.payout.id, rail.callback_url)
        record = await rail.wait(done.payout.id)
    # The same event delivered twice, both answered 200: the inbox applied it once.
    assert [(a.delivery, a.status) for a in record.attempts] == [(1, 200), (2, 200)]
    assert await rows(
        owner_engine,
        "select outcome from webhook_events where event_id = :e",
        e=record.event["event_id"],
    ) == [("applied",)]
    # Another event ID for the same settlement (a rail re-issuing it) is a duplicate too.
    event = PayoutEvent(
        event_id="EV-REISSUED",
        type=PaymentEventType.PAYOUT_SETTLED,
        payout_id=record.payout_id,
        reference=str(done.payout.id),
        amount=Money(9_800_000, "CNY"),
        occurred_at=datetime.now(UTC),
    )
    async with platform(app_state) as s:
        assert await payouts.apply_settlement(s, event) == "duplicate"
    assert await ledger_lines(owner_engine, w.a) == [
        (f"payout:{done.payout.id}", "DISBURSEMENT", kind, amount) for kind, amount in DISBURSEMENT
    ]
    assert await rows(owner_engine, "select count(*) from loans where deal_id = :d", d=deal_id) == [
        (1,)
    ]
    assert (await _state(owner_engine, deal_id))[0] == "ACTIVE"


async def test_a_settlement_before_the_acceptance_is_recorded_applies(
    app_state, owner_engine, settings, world
):
    """EARLY: the rail settles and calls back before it answers the request, so the callback
    finds the payout still REQUESTED; the acceptance recorded afterwards only adds the rail's
    ID."""
    w = world
    deal_id = await signed_deal(app_state, owner_engine, w)
    done = await disburse(
        app_state,
        w.staff.finance,
        deal_id,
        "disburse-early",
        beneficiary=beneficiary("EARLY"),
        value_date=VALUE_DATE,
    )
    with served_rail(settings) as rail:
        sent = await _send(app_state, w, rail, done.payout.id, rail.callback_url)
        record = await rail.wait(done.payout.id)
    assert sent.outcome == "SENT"
    assert await _state(owner_engine, deal_id) == (
        "ACTIVE",
        [("SETTLED", 10_000_000, 200_000, 9_800_000, True)],
    )
    assert await rows(
        owner_engine, "select provider_payout_id from payouts where id = :p", p=done.payout.id
    ) == [(record.payout_id,)]
    assert len(await ledger_lines(owner_engine, w.a)) == 3


async def test_a_failed_payout_returns_the_deal_to_signed_with_an_alert(
    app_state, owner_engine, settings, world
):
    w = world
    deal_id = await signed_deal(app_state, owner_engine, w)
    done = await disburse(
        app_state,
        w.staff.finance,
        deal_id,
        "disburse-fail",
        beneficiary=beneficiary("FAIL"),
        value_date=VALUE_DATE,
    )
    with served_rail(settings) as rail:
        await _send(app_state, w, rail, done.payout.id, rail.callback_url)
        record = await rail.wait(done.payout.id)
    assert record.status == "FAILED"
    assert await _state(owner_engine, deal_id) == (
        "SIGNED",
        [("FAILED", 10_000_000, 200_000, 9_800_000, True)],
    )
    assert await rows(
        owner_engine, "select failure_reason from payouts where id = :p", p=done.payout.id
    ) == [("ACCOUNT_CLOSED",)]
    assert await ledger_lines(owner_engine, w.a) == []
    assert await rows(owner_engine, "select count(*) from loans") == [(0,)]
    assert (await _timeline(owner_engine, deal_id))[-2:] == [
        ("deal.disburse", "SIGNED", "DISBURSING", "FUNDER"),
        ("deal.payout_failed", "DISBURSING", "SIGNED", "SYSTEM"),
    ]
    assert await _events(owner_engine, deal_id) == ["deal.disbursing", "deal.payout_failed"]
    # The same key answers the failed payout; a new key disburses again.
    again = await disburse(
        app_state,
        w.staff.finance,
        deal_id,
        "disburse-fail",
        beneficiary=beneficiary("FAIL"),
        value_date=VALUE_DATE,
    )
    assert again.replayed and again.payout.id == done.payout.id
    retry = await disburse(
        app_state, w.staff.finance, deal_id, "disburse-fail-2", value_date=VALUE_DATE
    )
    assert not retry.replayed
    assert (await _state(owner_engine, deal_id))[0] == "DISBURSING"


class _Killed(BaseException):
    """The worker dying after the rail accepted the payout, before it recorded anything."""


class _DiesAfterAsking:
    def __init__(self, rail: Any) -> None:
        self.rail = rail

    async def disburse(self, request: Any) -> Any:
        await self.rail.disburse(request)
        raise _Killed

    async def payout(self, payout_id: str) -> Any:  # pragma: no cover - not asked
        return await self.rail.payout(payout_id)


async def test_a_worker_killed_between_request_and_callback_loses_nothing(
    app_state, owner_engine, settings, world
):
    w = world
    deal_id = await signed_deal(app_state, owner_engine, w)
    done = await disburse(
        app_state, w.staff.finance, deal_id, "disburse-kill", value_date=VALUE_DATE
    )
    with served_rail(settings) as rail:
        client = rail.client()
        try:
            with pytest.raises(_Killed):
                await _send(
                    app_state, w, _DiesAfterAsking(client), done.payout.id, rail.callback_url
                )
        finally:
            await client.aclose()
        # The claim committed before the rail was asked: REQUESTED, one attempt, leased.
        assert await rows(
            owner_engine, "select state, attempts from payouts where id = :p", p=done.payout.id
        ) == [("REQUESTED", 1)]
        # Its lease runs out: the sweeper finds it overdue and a new delivery sends it again,
        # under the same key: the rail answers with the payout it has.
        later = lambda: datetime.now(UTC) + timedelta(minutes=5)  # noqa: E731
        async with platform(app_state) as s:
            overdue = await payouts.overdue_payouts(s, grace=timedelta(0))
        record = await rail.wait(done.payout.id)
        status = (await _state(owner_engine, deal_id))[1][0][0]
        if status == "REQUESTED":  # pragma: no cover - the settlement is applied by now
            assert (w.a, done.payout.id) in overdue
        again = await _send(app_state, w, rail, done.payout.id, rail.callback_url, clock=later)
        assert again.outcome == "DONE"
        assert len(rail.sandbox.payouts.payouts(str(done.payout.id))) == 1
    assert record.status == "SETTLED"
    assert (await _state(owner_engine, deal_id))[0] == "ACTIVE"
    assert len(await ledger_lines(owner_engine, w.a)) == 3


async def test_an_unknown_outcome_is_retried_under_the_same_key(
    app_state, owner_engine, settings, world
):
    """TIMEOUT: the rail accepts the payout but its answer never arrives; the attempt is
    recorded as failed, and the retry gets the payout the rail already has (one payout)."""
    w = world
    deal_id = await signed_deal(app_state, owner_engine, w)
    done = await disburse(
        app_state,
        w.staff.finance,
        deal_id,
        "disburse-timeout",
        beneficiary=beneficiary("TIMEOUT"),
        value_date=VALUE_DATE,
    )
    with served_rail(settings) as rail:
        first = await _send(
            app_state, w, rail, done.payout.id, rail.callback_url, timeout_seconds=0.5
        )
        assert (first.outcome, first.attempt) == ("RETRY", 1)
        [(state, error)] = await rows(
            owner_engine, "select state, last_error from payouts where id = :p", p=done.payout.id
        )
        # Unless the settlement came first (then there is nothing left to retry).
        assert (state == "REQUESTED" and "Timeout" in error) or state == "SETTLED"
        record = await rail.wait(done.payout.id)
        second = await _send(app_state, w, rail, done.payout.id, rail.callback_url)
        assert second.outcome in ("SENT", "DONE")
        assert len(rail.sandbox.payouts.payouts(str(done.payout.id))) == 1
    assert record.status == "SETTLED"
    assert (await _state(owner_engine, deal_id))[0] == "ACTIVE"
    assert len(await ledger_lines(owner_engine, w.a)) == 3


async def test_a_settlement_whose_callbacks_were_lost_is_reconciled(
    app_state, owner_engine, settings, world
):
    """The rail's callbacks never reach us (it retries, then gives up): the payout stays
    SENT until the rail is asked how it stands; then it is applied as the callback would
    have been, and asking again posts nothing more."""
    w = world
    deal_id = await signed_deal(app_state, owner_engine, w)
    done = await disburse(
        app_state, w.staff.finance, deal_id, "disburse-lost", value_date=VALUE_DATE
    )
    with served_rail(settings) as rail:
        # Port 9 (discard) on loopback: nothing answers.
        sent = await _send(
            app_state, w, rail, done.payout.id, "http://127.0.0.1:9/webhooks/payments"
        )
        assert sent.outcome == "SENT"
        record = await rail.wait(done.payout.id)
        assert record.status == "SETTLED" and not any(a.delivered for a in record.attempts)
        assert (await _state(owner_engine, deal_id))[0] == "DISBURSING"
        async with platform(app_state) as s:
            assert await payouts.unsettled_payouts(s, after=timedelta(0)) == [(w.a, done.payout.id)]
        client = rail.client()
        try:
            units = tenant_units(app_state, w.a)
            kw = {"tenant_id": w.a, "payout_id": done.payout.id}
            assert await payouts.reconcile_payout(units, client, **kw) == "applied"
            assert await payouts.reconcile_payout(units, client, **kw) == "SKIPPED"
        finally:
            await client.aclose()
    assert await _state(owner_engine, deal_id) == (
        "ACTIVE",
        [("SETTLED", 10_000_000, 200_000, 9_800_000, True)],
    )
    assert await ledger_lines(owner_engine, w.a) == [
        (f"payout:{done.payout.id}", "DISBURSEMENT", kind, amount) for kind, amount in DISBURSEMENT
    ]


class _Unreachable:
    """A rail that never answers: every attempt's outcome is unknown."""

    def __init__(self) -> None:
        self.asked = 0

    async def disburse(self, request: Any) -> Any:
        self.asked += 1
        raise ProviderUnavailable("503", kind=ProviderKind.PAYMENT_RAIL)

    async def payout(self, payout_id: str) -> Any:  # pragma: no cover - not asked
        raise ProviderUnavailable("503", kind=ProviderKind.PAYMENT_RAIL)


async def test_attempts_run_out_with_an_alert_and_the_payout_kept(app_state, owner_engine, world):
    """Eight attempts whose outcome stayed unknown: the payout is kept REQUESTED (the rail may
    have paid) with no further attempt, and ``deal.payout_unknown`` alerts an operator."""
    w = world
    deal_id = await signed_deal(app_state, owner_engine, w)
    done = await disburse(app_state, w.staff.finance, deal_id, "disburse-unreachable")
    rail = _Unreachable()
    outcomes = []
    for _ in range(8):
        await asyncio.sleep(0.01)  # past the 1 ms backoff
        sent = await _send(app_state, w, rail, done.payout.id, "http://unused/")
        outcomes.append(sent.outcome)
    assert outcomes == ["RETRY"] * 7 + ["EXHAUSTED"]
    assert (await _send(app_state, w, rail, done.payout.id, "http://unused/")).outcome == (
        "EXHAUSTED"
    )
    assert rail.asked == 8
    assert await rows(
        owner_engine,
        "select state, attempts, next_attempt_at, last_error from payouts where id = :p",
        p=done.payout.id,
    ) == [("REQUESTED", 8, None, "ProviderUnavailable: 503")]
    assert (await _state(owner_engine, deal_id))[0] == "DISBURSING"
    assert await rows(
        owner_engine,
        "select payload from events where type = 'deal.payout_unknown' and aggregate_id = :d",
        d=str(deal_id),
    ) == [({"payout_id": str(done.payout.id), "attempts": 8},)]
    async with platform(app_state) as s:
        assert await payouts.overdue_payouts(s, grace=timedelta(0)) == []


# -- one key, one payout ----------------------------------------------------------------------


async def test_200_concurrent_requests_under_one_key_make_one_payout_and_one_job(
    app_state, owner_engine, world
):
    w = world
    deal_id = await signed_deal(app_state, owner_engine, w)
    jobs = RecordingQueue()
    outcomes = await asyncio.gather(
        *(
            disburse(app_state, w.staff.finance, deal_id, "disburse-burst", jobs=jobs)
            for _ in range(200)
        )
    )
    assert len({o.payout.id for o in outcomes}) == 1
    assert sorted(o.replayed for o in outcomes) == [False] + [True] * 199
    assert await rows(owner_engine, "select count(*) from payouts") == [(1,)]
    assert [j.actor for j in jobs.sent if j.actor != "relay_events"] == ["send_payout"]
    assert [r[0] for r in await _timeline(owner_engine, deal_id)].count("deal.disburse") == 1


async def test_a_key_reused_for_another_request_is_refused(app_state, owner_engine, world):
    w = world
    deal_id = await signed_deal(app_state, owner_engine, w)
    await disburse(app_state, w.staff.finance, deal_id, "disburse-key", value_date=VALUE_DATE)
    for changed in (
        {"amount": Money.parse("90000.00", "CNY")},
        {"value_date": VALUE_DATE + timedelta(days=1)},
        {"beneficiary": beneficiary("Other")},
    ):
        with pytest.raises(DomainError) as refused:
            await disburse(
                app_state,
                w.staff.finance,
                deal_id,
                "disburse-key",
                **{"value_date": VALUE_DATE, **changed},
            )
        assert refused.value.code is ErrorCode.IDEMPOTENCY_KEY_REUSED
    # The same request with the amount named is the same payout.
    same = await disburse(
        app_state,
        w.staff.finance,
        deal_id,
        "disburse-key",
        value_date=VALUE_DATE,
        amount=Money.parse("100000.00", "CNY"),
    )
    assert same.replayed
    # Another key while the first payout is under way: the deal is not SIGNED any more.
    with pytest.raises(DomainError) as refused:
        await disburse(app_state, w.staff.other_finance, deal_id, "disburse-other")
    assert refused.value.code is ErrorCode.INVALID_TRANSITION
    assert await rows(owner_engine, "select count(*) from payouts") == [(1,)]


# -- who ----------------------------------------------------------------------------------------


async def test_who_may_disburse(app_state, owner_engine, world):
    w = world
    deal_id = await signed_deal(app_state, owner_engine, w)
    cases = [
        # The second reviewer approved it: four eyes, even with the finance officer's role.
        (w.staff.second, ErrorCode.FOUR_EYES),
        # Another funder's finance officer does not see the deal.
        (w.staff.b_finance, ErrorCode.NOT_FOUND),
        # A reviewer without loans:disburse.
        (w.staff.first, ErrorCode.FORBIDDEN),
    ]
    for actor, code in cases:
        with pytest.raises(DomainError) as refused:
            await disburse(app_state, actor, deal_id, f"disburse-{code.value}")
        assert refused.value.code is code
    assert await _state(owner_engine, deal_id) == ("SIGNED", [])


async def test_the_database_allows_the_lifecycle_the_policy_allows(owner_engine):
    """``deal_transition_allowed`` (migration 0020) and ``TRANSITIONS`` agree on every pair,
    the way back from a failed payout included."""
    assert can_transition(DealStatus.DISBURSING, DealStatus.SIGNED)
    pairs = [(a, b) for a in DealStatus for b in DealStatus]
    found = await rows(
        owner_engine,
        "select a, b, deal_transition_allowed(a, b) from unnest(cast(:a as text[])) with"
        " ordinality x(a, n) join unnest(cast(:b as text[])) with ordinality y(b, m) on n = m",
        a=[a.value for a, _ in pairs],
        b=[b.value for _, b in pairs],
    )
    assert {(a, b): allowed for a, b, allowed in found} == {
        (a.value, b.value): can_transition(a, b) for a, b in pairs
    }
