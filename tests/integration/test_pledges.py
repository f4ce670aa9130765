"""Pledges on PostgreSQL, filed at the sandbox registry over loopback HTTP: a SIGNED pledge
deal of bank A (one receipt, 25.5 t of copper) is not disbursable until its pledge is
registered and the warehouse confirmed custody; the receipt is locked meanwhile (not
cancelled, transferred, released from the deal's claim or pledged again), by the service and
by the database; the funder releases the pledge only once the loan is settled."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from domain.collateral import service as collateral
from domain.kernel.errors import DomainError, ErrorCode
from domain.persistence.constraints import violation_of
from domain.pledges.models import PledgeStatus
from tests.collateral_support import session_of, tenant_session
from tests.disbursement_support import World, build_world, disburse, rows
from tests.pledges_support import (
    confirm_custody,
    file_pledges,
    pledged_deal,
    pledges_of,
    release,
    request_pledges,
    sandbox_registry,
    signed_pledge_deal,
)

CANCEL = (
    "update warehouse_receipts set status = 'CANCELLED', cancelled_at = now(),"
    " cancellation_reason = 'x', cancelled_by_user_id = issued_by_user_id where id = :r"
)


@pytest.fixture
async def world(app_state) -> World:  # type: ignore[no-untyped-def]
    return await build_world(app_state)


def _codes(errors: list[Any]) -> list[str]:
    return [str(e.code.value if hasattr(e.code, "value") else e.code) for e in errors]


async def _refused_by(owner_engine, sql: str, **params: Any) -> str | None:  # type: ignore[no-untyped-def]
    """The constraint the database names when it refuses ``sql`` as the owner, in the
    platform scope (the deals' guard lets only the funder or the platform move a deal)."""
    try:
        async with owner_engine.begin() as conn:
            await conn.execute(text("select set_config('app.platform', 'on', true)"))
            await conn.execute(text(sql), params)
    except DBAPIError as exc:
        return violation_of(exc).constraint
    return None


async def test_disbursed_only_once_registered_and_confirmed(app_state, owner_engine, world):  # type: ignore[no-untyped-def]
    w = world
    deal_id = await signed_pledge_deal(app_state, owner_engine, w)
    # SIGNED, no pledge yet: refused before anything is paid.
    with pytest.raises(DomainError) as caught:
        await disburse(app_state, w.staff.finance, deal_id, "pledge-1")
    assert caught.value.code is ErrorCode.PLEDGE_NOT_REGISTERED

    requested = await request_pledges(app_state, deal_id)
    assert len(requested) == 1
    # Requested again (a duplicated SIGNED callback): still the one pledge.
    assert await request_pledges(app_state, deal_id) == []
    with pytest.raises(DomainError) as caught:
        await disburse(app_state, w.staff.finance, deal_id, "pledge-1")
    assert caught.value.code is ErrorCode.PLEDGE_NOT_REGISTERED

    warehouse = w.market.chain.warehouse_user.actor()
    # Custody comes after the filing.
    pledge, errors = await confirm_custody(app_state, warehouse, w.market.receipt)
    assert pledge is None and _codes(errors) == ["PLEDGE_NOT_REGISTERED"]

    async with sandbox_registry() as (sandbox, registry):
        (result,) = await file_pledges(app_state, registry, w.a, requested)
        assert result.outcome == "REGISTERED"
        (filing,) = sandbox.registry.filings(str(requested[0]))
    (pledge,) = await pledges_of(app_state, w.a, deal_id)
    assert pledge.pledge_status is PledgeStatus.REGISTERED
    assert pledge.filing_number == filing["filing_number"]
    assert pledge.registration_id == filing["registration_id"]
    with pytest.raises(DomainError) as caught:
        await disburse(app_state, w.staff.finance, deal_id, "pledge-1")
    assert caught.value.code is ErrorCode.PLEDGE_NOT_CONFIRMED

    # Only a user of the receipt's warehouse confirms: not the funder, not the owner.
    for other in (w.staff.finance, w.market.chain.owner_user.actor()):
        pledge_or_none, errors = await confirm_custody(app_state, other, w.market.receipt)
        assert pledge_or_none is None and _codes(errors) in (["NOT_FOUND"], ["FORBIDDEN"])
    confirmed, errors = await confirm_custody(app_state, warehouse, w.market.receipt)
    assert confirmed is not None, errors
    assert confirmed.pledge_status is PledgeStatus.CUSTODY_CONFIRMED
    assert confirmed.confirmed_by_user_id == warehouse.user_id
    again, errors = await confirm_custody(app_state, warehouse, w.market.receipt)
    assert again is None and _codes(errors) == ["INVALID_TRANSITION"]

    outcome = await disburse(app_state, w.staff.finance, deal_id, "pledge-1")
    assert outcome.deal.status.value == "DISBURSING"


async def test_the_receipt_is_locked_while_pledged(app_state, owner_engine, world):  # type: ignore[no-untyped-def]
    w = world
    async with sandbox_registry() as (_, registry):
        deal_id = await pledged_deal(app_state, owner_engine, w, registry)
    receipt = w.market.receipt
    warehouse = w.market.chain.warehouse_user.actor()

    # Cancelled by the warehouse: refused by the service...
    async with session_of(app_state, warehouse) as s:
        with pytest.raises(DomainError) as caught:
            await collateral.cancel_warehouse_receipt(
                s, warehouse, receipt_id=receipt, reason="goods gone"
            )
    assert caught.value.code is ErrorCode.RECEIPT_PLEDGE_LOCKED
    # ... and by the database, whoever writes (the live claim refuses it too; the pledge's
    # own lock alone is shown in the test below).
    assert await _refused_by(owner_engine, CANCEL, r=receipt) in (
        "ck_warehouse_receipts_pledge_locked",
        "ck_warehouse_receipts_not_pledged",
    )
    # Transferred to another owner, or to another warehouse: refused.
    other_org = w.market.chain.other_core_id
    for column in ("owner_organization_id", "warehouse_organization_id"):
        assert (
            await _refused_by(
                owner_engine,
                f"update warehouse_receipts set {column} = :o where id = :r",
                o=other_org,
                r=receipt,
            )
            == "ck_warehouse_receipts_pledge_locked"
        )
    # The deal's claim released: refused by the service and by the database.
    async with tenant_session(app_state, w.a) as s:
        with pytest.raises(DomainError) as caught:
            await collateral.release_receipt(s, receipt_id=receipt, tenant_id=w.a, deal_id=deal_id)
    assert caught.value.code is ErrorCode.RECEIPT_PLEDGE_LOCKED
    # (The deal's own rule refuses it too while the deal runs; the pledge's lock alone is
    # shown at the loan's settlement, below.)
    assert await _refused_by(
        owner_engine,
        "update receipt_claims set released_at = now() where receipt_id = :r",
        r=receipt,
    ) in ("ck_receipt_claims_pledge_locked", "ck_receipt_claims_release_with_deal")
    # Pledged again, to another deal of any funder: refused (one active pledge per receipt).
    (pledge,) = await pledges_of(app_state, w.a, deal_id)
    assert (
        await _refused_by(
            owner_engine,
            "insert into pledges (tenant_id, id, deal_id, receipt_id, warehouse_organization_id,"
            " max_attempts) select tenant_id, gen_random_uuid(), deal_id, receipt_id,"
            " warehouse_organization_id, 8 from pledges where id = :p",
            p=pledge.id,
        )
        == "uq_pledges_deal_receipt"
    )
    # The pledge's lifecycle cannot be skipped back or jumped (the database's own guard).
    assert (
        await _refused_by(
            owner_engine, "update pledges set status = 'REQUESTED' where id = :p", p=pledge.id
        )
        == "ck_pledges_transition"
    )


async def test_a_pledge_alone_locks_the_receipt(app_state, owner_engine, world):  # type: ignore[no-untyped-def]
    """Set-up in SQL: bank A's withdrawn deal no longer claims the receipt but an active
    pledge of it remains (as if a release were lost); the warehouse cannot cancel the receipt,
    bank B's deal cannot claim it, and a second active pledge of it is refused by the
    cross-tenant unique index."""
    from tests.deals_support import apply, pledge_deal, submit, withdraw

    w = world
    m = w.market
    owner = m.chain.owner_user.actor()
    a_deal = (await apply(app_state, owner, **pledge_deal(m, "a"))).deal.id
    assert (await submit(app_state, owner, a_deal))[0] is not None
    assert (await withdraw(app_state, owner, a_deal))[0] is not None
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "insert into pledges (tenant_id, id, deal_id, receipt_id,"
                " warehouse_organization_id, max_attempts)"
                " values (:t, gen_random_uuid(), :d, :r, :wh, 8)"
            ),
            {"t": w.a, "d": a_deal, "r": m.receipt, "wh": m.chain.warehouse_id},
        )
    # No deal claims the receipt now: only the pledge's lock refuses its cancellation.
    assert await _refused_by(owner_engine, CANCEL, r=m.receipt) == (
        "ck_warehouse_receipts_pledge_locked"
    )
    b_deal = (await apply(app_state, owner, **pledge_deal(m, "b"))).deal.id
    outcome, errors = await submit(app_state, owner, b_deal)
    assert outcome is None
    assert _codes(errors) == ["RECEIPT_ALREADY_PLEDGED"]
    assert (
        await _refused_by(
            owner_engine,
            "insert into pledges (tenant_id, id, deal_id, receipt_id,"
            " warehouse_organization_id, max_attempts)"
            " values (:t, gen_random_uuid(), :d, :r, :wh, 8)",
            t=w.market.world.b.id,
            d=b_deal,
            r=m.receipt,
            wh=m.chain.warehouse_id,
        )
        == "uq_pledges_active_receipt"
    )


async def _settle_loan(owner_engine, w: World, deal_id: uuid.UUID) -> None:  # type: ignore[no-untyped-def]
    """Set-up in SQL: the deal's payout settled and its loan repaid (SETTLED), as loan
    servicing will leave it; the deal itself is left ACTIVE."""
    async with owner_engine.begin() as conn:
        await conn.execute(text("select set_config('app.platform', 'on', true)"))
        await conn.execute(
            text("update payouts set state = 'SETTLED', settled_at = now() where deal_id = :d"),
            {"d": deal_id},
        )
        await conn.execute(
            text(
                "insert into loans (tenant_id, id, deal_id, payout_id, status, currency,"
                " principal_minor, fee_minor, annual_rate, value_date, maturity_date, schedule)"
                " select tenant_id, gen_random_uuid(), deal_id, id, 'SETTLED', currency,"
                " amount_minor, fee_minor, 0.1, current_date, current_date + 90, '[]'::jsonb"
                " from payouts where deal_id = :d"
            ),
            {"d": deal_id},
        )
        for status in ("ACTIVE",):
            await conn.execute(
                text("update deals set status = :s where id = :d"), {"s": status, "d": deal_id}
            )


async def test_released_by_the_funder_once_the_loan_is_settled(app_state, owner_engine, world):  # type: ignore[no-untyped-def]
    w = world
    async with sandbox_registry() as (_, registry):
        deal_id = await pledged_deal(app_state, owner_engine, w, registry)
    receipt = w.market.receipt
    await disburse(app_state, w.staff.finance, deal_id, "pledge-2")
    # DISBURSING, the loan not even open: not released.
    pledge, errors = await release(app_state, w.staff.finance, deal_id, receipt)
    assert pledge is None and _codes(errors) == ["PLEDGE_NOT_RELEASABLE"]
    # The warehouse cannot release it, nor another funder's finance officer.
    for other in (w.market.chain.warehouse_user.actor(), w.staff.b_finance):
        pledge, errors = await release(app_state, other, deal_id, receipt)
        assert pledge is None and _codes(errors) in (["FORBIDDEN"], ["NOT_FOUND"])
    await _settle_loan(owner_engine, w, deal_id)
    # The deal cannot end (its claim released) while the pledge is active: the funder
    # releases the pledge first.
    assert (
        await _refused_by(
            owner_engine,
            "with ended as (update deals set status = 'SETTLED' where id = :d returning id)"
            " update receipt_claims set released_at = now()"
            " where receipt_id = :r and deal_id in (select id from ended)",
            d=deal_id,
            r=receipt,
        )
        == "ck_receipt_claims_pledge_locked"
    )
    released, errors = await release(app_state, w.staff.finance, deal_id, receipt)
    assert released is not None, errors
    assert released.pledge_status is PledgeStatus.RELEASED
    assert released.released_by_user_id == w.staff.finance.user_id
    # Unlocked: the claim may now be released with the deal's end, and the receipt moved.
    assert (
        await _refused_by(
            owner_engine,
            "update warehouse_receipts set quantity = quantity where id = :r",
            r=receipt,
        )
        is None
    )
    assert await rows(
        owner_engine, "select status from pledges where receipt_id = :r", r=receipt
    ) == [("RELEASED",)]


async def test_a_refused_filing_and_a_retried_one(app_state, owner_engine, world):  # type: ignore[no-untyped-def]
    """Receipt numbers choose the sandbox's answer: REFUSE is final (REFUSED, an event);
    UNAVAILABLE is retried with backoff under the same key and, its attempts spent, alerts."""
    from tests.collateral_support import issue_receipt

    w = world
    chain = w.market.chain
    refused_receipt = await issue_receipt(app_state, chain, number="WR-REFUSE-1")
    down_receipt = await issue_receipt(app_state, chain, number="WR-UNAVAILABLE-1")
    refused_deal = await signed_pledge_deal(
        app_state, owner_engine, w, warehouse_receipt_ids=[refused_receipt]
    )
    down_deal = await signed_pledge_deal(
        app_state, owner_engine, w, warehouse_receipt_ids=[down_receipt]
    )
    (refused_id,) = await request_pledges(app_state, refused_deal)
    (down_id,) = await request_pledges(app_state, down_deal)
    async with sandbox_registry() as (sandbox, registry):
        (result,) = await file_pledges(app_state, registry, w.a, [refused_id])
        assert result.outcome == "REFUSED"
        outcomes = []
        for _ in range(8):
            async with owner_engine.begin() as conn:
                # The backoff run out (a test does not wait for it).
                await conn.execute(
                    text("update pledges set next_attempt_at = now() where id = :p"),
                    {"p": down_id},
                )
            (result,) = await file_pledges(app_state, registry, w.a, [down_id])
            outcomes.append(result.outcome)
        assert sandbox.registry.filings() == []
    assert outcomes == ["RETRY"] * 7 + ["EXHAUSTED"]
    assert await rows(
        owner_engine,
        "select status, refusal_code, attempts from pledges where id in (:a, :b) order by status",
        a=refused_id,
        b=down_id,
    ) == [("REFUSED", "REGISTRATION_REFUSED", 1), ("REQUESTED", None, 8)]
    alerts = await rows(
        owner_engine,
        "select type from events where type in ('deal.pledge_refused', 'deal.pledge_unknown')"
        " order by type",
    )
    assert alerts == [("deal.pledge_refused",), ("deal.pledge_unknown",)]
    with pytest.raises(DomainError) as caught:
        await disburse(app_state, w.staff.finance, refused_deal, "pledge-3")
    assert caught.value.code is ErrorCode.PLEDGE_NOT_REGISTERED


async def test_the_filing_job_is_sent_after_commit_and_swept_when_lost(
    app_state, owner_engine, world
):  # type: ignore[no-untyped-def]
    """The SIGNED transition's request enqueues one filing job per pledge after commit (none
    for a rolled-back transaction); a pledge whose message was lost is found by the sweeper
    once overdue by the grace."""
    from datetime import timedelta

    from domain.deals import repository as deals_repository
    from domain.persistence.scope import PLATFORM_SCOPE
    from domain.persistence.unit_of_work import unit_of_work
    from domain.pledges import service as pledges
    from tests.jobs_support import RecordingQueue

    w = world
    deal_id = await signed_pledge_deal(app_state, owner_engine, w)
    dropped = RecordingQueue()
    with pytest.raises(RuntimeError):
        async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, dropped) as s:
            deal = await deals_repository.deal(s, deal_id)
            assert deal is not None
            await pledges.request_pledges(s, deal)
            raise RuntimeError("rolled back")
    assert [j for j in dropped.sent if j.actor == "register_pledge"] == []
    sent = RecordingQueue()
    async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, sent) as s:
        deal = await deals_repository.deal(s, deal_id)
        assert deal is not None
        (pledge_id,) = await pledges.request_pledges(s, deal)
    # (The outbox relay's doorbell rings too: the event of the request.)
    assert [(j.actor, j.args) for j in sent.sent if j.actor != "relay_events"] == [
        ("register_pledge", (str(w.a), str(pledge_id)))
    ]
    # Lost: nothing files it. Not yet overdue by the grace, then overdue.
    swept = RecordingQueue()
    async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, swept) as s:
        assert await pledges.overdue_pledges(s, grace=timedelta(hours=1)) == []
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("update pledges set next_attempt_at = now() - interval '2 minutes'")
        )
    async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, swept) as s:
        overdue = await pledges.overdue_pledges(s)
        pledges.resend(s, overdue)
    assert overdue == [(w.a, pledge_id)]
    assert [j.args for j in swept.sent if j.actor == "register_pledge"] == [
        (str(w.a), str(pledge_id))
    ]


class _FailingOnce:
    """The sandbox registry's client whose first ``failures`` cancellations fail as an
    unreachable registry would (nothing sent); every other call goes over HTTP."""

    def __init__(self, registry: Any, failures: int = 1) -> None:
        self.registry = registry
        self.failures = failures

    async def register(self, request: Any) -> Any:
        return await self.registry.register(request)

    async def registration(self, registration_id: str) -> Any:
        return await self.registry.registration(registration_id)

    async def cancel(self, registration_id: str, *, idempotency_key: str) -> Any:
        from domain.pledges.ports import RegistryUnavailable

        if self.failures > 0:
            self.failures -= 1
            raise RegistryUnavailable("connection refused")
        return await self.registry.cancel(registration_id, idempotency_key=idempotency_key)


async def _released(app_state, owner_engine, w: World, registry: Any) -> uuid.UUID:  # type: ignore[no-untyped-def]
    """The market's receipt pledged, disbursed, the loan settled and the pledge released by
    the funder, the release's jobs recorded: the pledge's ID."""
    from api.context import db_scope
    from domain.persistence.unit_of_work import unit_of_work
    from domain.pledges import service as pledges
    from tests.jobs_support import RecordingQueue

    deal_id = await pledged_deal(app_state, owner_engine, w, registry)
    await disburse(app_state, w.staff.finance, deal_id, "pledge-2")
    await _settle_loan(owner_engine, w, deal_id)
    sent = RecordingQueue()
    actor = w.staff.finance
    async with unit_of_work(app_state.sessions, db_scope(actor), sent) as s:
        pledge = await pledges.release_pledge(
            s, actor, deal_id=deal_id, receipt_id=w.market.receipt
        )
        pledge_id = pledge.id
    # The cancellation's job, sent after commit.
    assert [(j.actor, j.args) for j in sent.sent if j.actor == "deregister_pledge"] == [
        ("deregister_pledge", (str(w.a), str(pledge_id)))
    ]
    return deal_id


async def _deregister(
    app_state, registry: Any, tenant_id: uuid.UUID, pledge_id: uuid.UUID, **kw: Any
) -> Any:  # type: ignore[no-untyped-def]
    from domain.pledges import service as pledges
    from tests.pledges_support import platform_units

    return await pledges.deregister_pledge(
        platform_units(app_state),
        registry,
        tenant_id=tenant_id,
        pledge_id=pledge_id,
        backoff_ms=kw.pop("backoff_ms", lambda attempt: 1),
        **kw,
    )


async def test_a_release_cancels_the_filing_and_frees_the_goods(app_state, owner_engine, world):  # type: ignore[no-untyped-def]
    """Released: the job cancels the filing at the sandbox registry once (run twice, one
    cancellation), ``deregistered_at`` is recorded, and the same receipt pledged by another
    deal of the funder is filed (the registry refused it while the first filing stood)."""
    w = world
    receipt = w.market.receipt
    async with sandbox_registry() as (sandbox, registry):
        deal_id = await _released(app_state, owner_engine, w, registry)
        (pledge,) = await pledges_of(app_state, w.a, deal_id)
        assert pledge.pledge_status is PledgeStatus.RELEASED
        assert pledge.deregistered_at is None
        # Released in lendgraph, still REGISTERED at the registry until the job runs.
        assert [f["status"] for f in sandbox.registry.filings(str(pledge.id))] == ["REGISTERED"]
        first = await _deregister(app_state, registry, w.a, pledge.id)
        second = await _deregister(app_state, registry, w.a, pledge.id)
        assert (first.outcome, second.outcome) == ("DEREGISTERED", "DONE")
        assert [f["status"] for f in sandbox.registry.filings(str(pledge.id))] == ["CANCELLED"]
        # One cancellation call reached the registry.
        cancels = [e for e in sandbox.log.entries() if e.path.endswith("/cancellation")]
        assert len(cancels) == 1
        assert await rows(
            owner_engine,
            "select deregistered_at is not null, deregister_attempts,"
            " deregister_next_attempt_at from pledges where id = :p",
            p=pledge.id,
        ) == [(True, 1, None)]
        assert await rows(
            owner_engine,
            "select count(*) from events where type = 'deal.pledge_deregistered'",
        ) == [(1,)]
        # A RELEASED pledge whose filing is cancelled is final, new columns included.
        assert (
            await _refused_by(
                owner_engine,
                "update pledges set deregister_attempts = 5 where id = :p",
                p=pledge.id,
            )
            == "ck_pledges_transition"
        )
        # The deal ends, its claim released; another deal claims and pledges the receipt.
        async with owner_engine.begin() as conn:
            await conn.execute(text("select set_config('app.platform', 'on', true)"))
            await conn.execute(
                text(
                    "with ended as (update deals set status = 'SETTLED' where id = :d"
                    " returning id) update receipt_claims set released_at = now()"
                    " where receipt_id = :r and deal_id in (select id from ended)"
                ),
                {"d": deal_id, "r": receipt},
            )
        again = await signed_pledge_deal(app_state, owner_engine, w)
        requested = await request_pledges(app_state, again)
        (filed,) = await file_pledges(app_state, registry, w.a, requested)
        assert filed.outcome == "REGISTERED"
        assert [f["status"] for f in sandbox.registry.filings(str(requested[0]))] == ["REGISTERED"]


async def test_a_failed_cancellation_is_retried_and_swept(app_state, owner_engine, world):  # type: ignore[no-untyped-def]
    """An unreachable registry: the cancellation is retried after the backoff (not before),
    found by the sweeper once overdue, and then made."""
    from datetime import timedelta

    from domain.persistence.scope import PLATFORM_SCOPE
    from domain.persistence.unit_of_work import unit_of_work
    from domain.pledges import service as pledges
    from tests.jobs_support import Clock, RecordingQueue

    w = world
    clock = Clock()
    async with sandbox_registry() as (sandbox, client):
        registry = _FailingOnce(client)
        deal_id = await _released(app_state, owner_engine, w, registry)
        (pledge,) = await pledges_of(app_state, w.a, deal_id)
        failed = await _deregister(
            app_state, registry, w.a, pledge.id, backoff_ms=lambda a: 5_000 * a, clock=clock
        )
        # Attempt 1 failed: the next after 1 x 5,000 ms.
        assert (failed.outcome, failed.retry_in_ms, failed.attempt) == ("RETRY", 5_000, 1)
        early = await _deregister(app_state, registry, w.a, pledge.id, clock=clock)
        assert early.outcome == "NOT_DUE"
        (waited,) = await rows(
            owner_engine,
            "select deregister_attempts, deregister_last_error,"
            " deregister_next_attempt_at - updated_at from pledges where id = :p",
            p=pledge.id,
        )
        assert waited == (1, "RegistryUnavailable: connection refused", timedelta(seconds=5))
        assert [f["status"] for f in sandbox.registry.filings(str(pledge.id))] == ["REGISTERED"]
        # Its message lost: not overdue by the grace yet, then overdue.
        swept = RecordingQueue()
        async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, swept) as s:
            assert await pledges.overdue_cancellations(s) == []
        async with owner_engine.begin() as conn:
            await conn.execute(
                text(
                    "update pledges set deregister_next_attempt_at = now() - interval '2 minutes'"
                    " where id = :p"
                ),
                {"p": pledge.id},
            )
        async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, swept) as s:
            overdue = await pledges.overdue_cancellations(s)
            pledges.resend_cancellations(s, overdue)
        assert overdue == [(w.a, pledge.id)]
        assert [j.args for j in swept.sent if j.actor == "deregister_pledge"] == [
            (str(w.a), str(pledge.id))
        ]
        done = await _deregister(app_state, registry, w.a, pledge.id)
        assert (done.outcome, done.attempt) == ("DEREGISTERED", 2)
        assert [f["status"] for f in sandbox.registry.filings(str(pledge.id))] == ["CANCELLED"]
    async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, RecordingQueue()) as s:
        assert await pledges.overdue_cancellations(s) == []


async def test_a_cancellation_that_never_succeeds_alerts(app_state, owner_engine, world):  # type: ignore[no-untyped-def]
    """Every one of the 8 attempts failing: 7 retries, then EXHAUSTED with the alert
    ``deal.pledge_deregistration_unknown``; the sweeper no longer re-sends it."""
    from domain.persistence.scope import PLATFORM_SCOPE
    from domain.persistence.unit_of_work import unit_of_work
    from domain.pledges import service as pledges
    from tests.jobs_support import RecordingQueue

    w = world
    async with sandbox_registry() as (sandbox, client):
        registry = _FailingOnce(client, failures=100)
        deal_id = await _released(app_state, owner_engine, w, registry)
        (pledge,) = await pledges_of(app_state, w.a, deal_id)
        outcomes = []
        for _ in range(9):
            async with owner_engine.begin() as conn:
                # The backoff run out (a test does not wait for it).
                await conn.execute(
                    text(
                        "update pledges set deregister_next_attempt_at = now() where id = :p"
                        " and deregister_next_attempt_at is not null"
                    ),
                    {"p": pledge.id},
                )
            outcomes.append((await _deregister(app_state, registry, w.a, pledge.id)).outcome)
        assert [f["status"] for f in sandbox.registry.filings(str(pledge.id))] == ["REGISTERED"]
    # max_attempts 8: attempts 1..7 retried, the 8th exhausted; a 9th delivery finds it so.
    assert outcomes == ["RETRY"] * 7 + ["EXHAUSTED", "EXHAUSTED"]
    assert await rows(
        owner_engine,
        "select deregistered_at, deregister_attempts, deregister_next_attempt_at"
        " from pledges where id = :p",
        p=pledge.id,
    ) == [(None, 8, None)]
    assert await rows(
        owner_engine,
        "select payload->>'attempts' from events where type = 'deal.pledge_deregistration_unknown'",
    ) == [("8",)]
    async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, RecordingQueue()) as s:
        assert await pledges.overdue_cancellations(s) == []
