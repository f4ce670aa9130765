"""Integration calls on PostgreSQL, without a broker: the rows a submission writes and the
jobs it enqueues after commit (and only then), and every path of one attempt (success,
backoff, permanent failure, exhausted attempts, a worker lost mid-call, a locked row, a
repeated delivery), each observed in the row itself."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from domain.events.repository import RELAY_JOB
from domain.integration_calls import service as calls
from domain.integration_calls.models import IntegrationKind
from domain.integration_calls.ports import PermanentFailure, PortRegistry
from domain.integration_calls.service import Outcome
from domain.persistence.after_commit import Job
from domain.persistence.scope import PLATFORM_SCOPE, DbScope
from domain.persistence.unit_of_work import unit_of_work
from tests.deals_support import apply, consumer_deal, market, pledge_deal
from tests.jobs_support import (
    Clock,
    RecordingQueue,
    ScriptedPort,
    calls_of,
    submit_with,
    tenant_uow,
)
from workers.actors.integrations import backoff_ms


def _jobs_for(tenant: uuid.UUID, rows: list[dict]) -> set[Job]:
    return {Job("run_integration_call", "integrations", (str(tenant), str(r["id"]))) for r in rows}


async def test_submission_requests_the_lines_calls_and_enqueues_them_after_commit(
    app_state, owner_engine
) -> None:
    m = await market(app_state)
    a = m.world.a.id
    consumer = (await apply(app_state, m.young.actor(), **consumer_deal(m))).deal.id
    owner = m.chain.owner_user.actor()
    pledge = (await apply(app_state, owner, **pledge_deal(m))).deal.id
    queue = RecordingQueue()

    assert await submit_with(app_state, m.young.actor(), consumer, queue) == []
    assert await submit_with(app_state, owner, pledge, queue) == []

    consumer_calls = await calls_of(owner_engine, consumer)
    pledge_calls = await calls_of(owner_engine, pledge)
    assert [c["kind"] for c in consumer_calls] == ["BUREAU", "IDENTITY"]
    assert [c["kind"] for c in pledge_calls] == ["BUREAU", "VALUATION"]
    for c in consumer_calls + pledge_calls:
        assert (c["tenant_id"], c["state"], c["attempts"], c["max_attempts"]) == (
            a,
            "PENDING",
            0,
            5,
        )
        assert c["result"] is None and c["last_error"] is None
    assert len({c["idempotency_reference"] for c in consumer_calls + pledge_calls}) == 4
    # One job per call, IDs only, each sent once; and the relay's doorbell per submission.
    runs = [j for j in queue.sent if j.actor == "run_integration_call"]
    assert len(runs) == 4
    assert set(runs) == _jobs_for(a, consumer_calls) | _jobs_for(a, pledge_calls)
    assert queue.sent.count(RELAY_JOB) == 2 and len(queue.sent) == 6


async def test_nothing_is_enqueued_before_commit_or_for_a_rollback(app_state, owner_engine) -> None:
    m = await market(app_state)
    actor = m.young.actor()
    deal = (await apply(app_state, actor, **consumer_deal(m))).deal.id
    queue = RecordingQueue()

    from api.context import db_scope
    from api.errors import run_use_case
    from domain.deals import service

    with pytest.raises(RuntimeError, match="after the submission"):
        async with unit_of_work(app_state.sessions, db_scope(actor), queue) as s:
            _, errors = await run_use_case(
                s, actor, lambda s, a: service.submit_deal(s, a, app_state.cipher, deal_id=deal)
            )
            assert errors == []
            await s.flush()
            assert queue.sent == []  # not before the commit
            raise RuntimeError("after the submission")
    assert queue.sent == []
    assert await calls_of(owner_engine, deal) == []

    # Submitted for real, then again: the refusal (already SUBMITTED) enqueues nothing more.
    assert await submit_with(app_state, actor, deal, queue) == []
    assert len(queue.sent) == 3  # two calls and the relay
    refused = await submit_with(app_state, actor, deal, queue)
    assert [e.code.value for e in refused] == ["INVALID_TRANSITION"]
    assert len(queue.sent) == 3
    assert len(await calls_of(owner_engine, deal)) == 2


async def test_a_rolled_back_savepoint_drops_its_jobs_and_keeps_the_others(app_state) -> None:
    queue = RecordingQueue()
    kept, dropped, inner = (Job("a", "q", (str(n),)) for n in range(3))
    from domain.persistence.after_commit import enqueue_after_commit

    async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, queue) as s:
        await s.execute(text("select 1"))
        enqueue_after_commit(s, kept)
        enqueue_after_commit(s, kept)  # the same job twice is sent once
        with pytest.raises(RuntimeError):
            async with s.begin_nested():
                enqueue_after_commit(s, dropped)
                raise RuntimeError("refused")
        async with s.begin_nested():
            enqueue_after_commit(s, inner)
        assert queue.sent == []
    assert queue.sent == [kept, inner]


_markets: dict = {}


async def _one_call(app_state, owner_engine, kind: str = "BUREAU"):  # type: ignore[no-untyped-def]
    m = await market(app_state)
    deal = (await apply(app_state, m.young.actor(), **consumer_deal(m))).deal.id
    assert await submit_with(app_state, m.young.actor(), deal, RecordingQueue()) == []
    row = next(c for c in await calls_of(owner_engine, deal) if c["kind"] == kind)
    _markets[deal] = m
    return m.world.a.id, row["id"], deal


def _registry(port: ScriptedPort, kind: IntegrationKind = IntegrationKind.BUREAU) -> PortRegistry:
    ports = PortRegistry()
    ports.register(kind, port)
    return ports


async def _row(owner_engine, call_id):  # type: ignore[no-untyped-def]
    async with owner_engine.connect() as conn:
        r = await conn.execute(
            text("select * from integration_calls where id = :i"), {"i": call_id}
        )
        return dict(r.one()._mapping)


def test_backoff_doubles_from_two_seconds_up_to_ten_minutes() -> None:
    assert [backoff_ms(n) for n in (1, 2, 3, 4)] == [2_000, 4_000, 8_000, 16_000]
    assert backoff_ms(30) == 600_000


async def test_a_call_succeeds_once_and_a_repeated_delivery_does_nothing(
    app_state, owner_engine
) -> None:
    tenant, call_id, _ = await _one_call(app_state, owner_engine)
    port = ScriptedPort({"score": 712})
    uow = tenant_uow(app_state, tenant, RecordingQueue())
    run = lambda: calls.run_call(  # noqa: E731
        uow, _registry(port), tenant_id=tenant, call_id=call_id, backoff_ms=backoff_ms
    )

    assert (await run()).outcome is Outcome.SUCCEEDED
    row = await _row(owner_engine, call_id)
    assert (row["state"], row["attempts"]) == ("SUCCEEDED", 1)
    assert row["result"] == {
        "score": 712,
        "line": "CONSUMER_CREDIT",  # read by prepare() under the tenant's scope
        "reference": str(row["idempotency_reference"]),
    }
    assert row["finished_at"] is not None
    for _ in range(2):
        assert (await run()).outcome is Outcome.FINISHED
    assert len(port.requests) == 1
    assert (await _row(owner_engine, call_id))["updated_at"] == row["updated_at"]


async def test_failures_back_off_and_the_attempts_are_bounded(app_state, owner_engine) -> None:
    tenant, call_id, _ = await _one_call(app_state, owner_engine)
    port = ScriptedPort(RuntimeError("provider answered 503"))
    clock = Clock()
    uow = tenant_uow(app_state, tenant, RecordingQueue())

    async def run() -> calls.RunResult:
        return await calls.run_call(
            uow,
            _registry(port),
            tenant_id=tenant,
            call_id=call_id,
            backoff_ms=backoff_ms,
            clock=clock,
        )

    waits = []
    for attempt in range(1, 5):
        result = await run()
        assert (result.outcome, result.attempt) == (Outcome.RETRY, attempt)
        waits.append(result.retry_in_ms)
        row = await _row(owner_engine, call_id)
        assert (row["state"], row["attempts"]) == ("PENDING", attempt)
        assert row["last_error"] == "RuntimeError: provider answered 503"
        # Not due before its backoff has passed: nothing is attempted.
        early = await run()
        assert early.outcome is Outcome.NOT_DUE and 0 < early.retry_in_ms <= waits[-1]
        clock.advance(waits[-1] / 1000 + 0.01)
    assert waits == [2_000, 4_000, 8_000, 16_000]
    last = await run()
    assert (last.outcome, last.attempt, last.retry_in_ms) == (Outcome.FAILED, 5, None)
    row = await _row(owner_engine, call_id)
    assert (row["state"], row["attempts"]) == ("FAILED", 5)
    assert len(port.requests) == 5
    assert [r.attempt for r in port.requests] == [1, 2, 3, 4, 5]
    assert len({r.idempotency_reference for r in port.requests}) == 1
    assert (await run()).outcome is Outcome.FINISHED


async def test_a_permanent_failure_fails_at_once(app_state, owner_engine) -> None:
    tenant, call_id, _ = await _one_call(app_state, owner_engine)
    port = ScriptedPort(PermanentFailure("no consent on file"))
    uow = tenant_uow(app_state, tenant, RecordingQueue())
    result = await calls.run_call(
        uow, _registry(port), tenant_id=tenant, call_id=call_id, backoff_ms=backoff_ms
    )
    assert result.outcome is Outcome.FAILED
    row = await _row(owner_engine, call_id)
    assert (row["state"], row["attempts"], row["last_error"]) == (
        "FAILED",
        1,
        "PermanentFailure: no consent on file",
    )


async def test_a_lost_attempt_is_taken_again_after_its_lease_and_its_late_answer_dropped(
    app_state, owner_engine
) -> None:
    tenant, call_id, _ = await _one_call(app_state, owner_engine)
    port = ScriptedPort("hang", {"score": 640}, timeout_seconds=30)
    clock = Clock()
    uow = tenant_uow(app_state, tenant, RecordingQueue())

    def run() -> asyncio.Future:
        return asyncio.ensure_future(
            calls.run_call(
                uow,
                _registry(port),
                tenant_id=tenant,
                call_id=call_id,
                backoff_ms=backoff_ms,
                clock=clock,
            )
        )

    lost = run()
    await port.entered.wait()
    lost.cancel()  # the worker dies in the middle of the call
    with pytest.raises(asyncio.CancelledError):
        await lost
    row = await _row(owner_engine, call_id)
    assert (row["state"], row["attempts"]) == ("RUNNING", 1)

    # Another delivery while the lease holds does nothing but say when to come back.
    early = await run()
    assert early.outcome is Outcome.NOT_DUE and 29_000 < early.retry_in_ms <= 30_001
    clock.advance(31)
    done = await run()
    assert (done.outcome, done.attempt) == (Outcome.SUCCEEDED, 2)
    assert [r.attempt for r in port.requests] == [1, 2]
    assert port.requests[0].idempotency_reference == port.requests[1].idempotency_reference

    # Had the first attempt answered after all, its answer would be dropped.
    async with uow() as s:
        from domain.integration_calls import repository

        assert not await repository.finish_attempt(
            s,
            tenant_id=tenant,
            call_id=call_id,
            attempt=1,
            now=clock(),
            state=calls.CallState.SUCCEEDED,
            result={"late": True},
        )
    assert (await _row(owner_engine, call_id))["result"]["score"] == 640


async def test_a_lost_last_attempt_fails_the_call(app_state, owner_engine) -> None:
    tenant, call_id, _ = await _one_call(app_state, owner_engine)
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "update integration_calls set state = 'RUNNING', attempts = 5,"
                " next_attempt_at = now() - interval '1 minute' where id = :i"
            ),
            {"i": call_id},
        )
    port = ScriptedPort()
    result = await calls.run_call(
        tenant_uow(app_state, tenant, RecordingQueue()),
        _registry(port),
        tenant_id=tenant,
        call_id=call_id,
        backoff_ms=backoff_ms,
    )
    assert result.outcome is Outcome.FAILED and port.requests == []
    row = await _row(owner_engine, call_id)
    assert (row["state"], row["last_error"]) == ("FAILED", "attempt 5 of 5 never reported")


async def test_a_row_being_claimed_is_skipped_without_waiting(app_state, owner_engine) -> None:
    tenant, call_id, _ = await _one_call(app_state, owner_engine)
    port = ScriptedPort()
    uow = tenant_uow(app_state, tenant, RecordingQueue())
    async with uow() as holder:
        await holder.execute(
            text("select 1 from integration_calls where id = :i for update"), {"i": call_id}
        )
        result = await calls.run_call(
            uow, _registry(port), tenant_id=tenant, call_id=call_id, backoff_ms=backoff_ms
        )
    assert result.outcome is Outcome.SKIPPED and port.requests == []


async def test_another_tenant_cannot_run_the_call(app_state, owner_engine) -> None:
    m_tenant, call_id, _ = await _one_call(app_state, owner_engine)
    other = (await _row(owner_engine, call_id))["tenant_id"]
    assert other == m_tenant
    port = ScriptedPort()
    stranger = uuid.uuid4()
    result = await calls.run_call(
        tenant_uow(app_state, stranger, RecordingQueue()),
        _registry(port),
        tenant_id=m_tenant,
        call_id=call_id,
        backoff_ms=backoff_ms,
    )
    assert result.outcome is Outcome.SKIPPED and port.requests == []
    assert (await _row(owner_engine, call_id))["attempts"] == 0


async def test_without_a_port_the_call_waits(app_state, owner_engine) -> None:
    tenant, call_id, _ = await _one_call(app_state, owner_engine)
    result = await calls.run_call(
        tenant_uow(app_state, tenant, RecordingQueue()),
        PortRegistry(),
        tenant_id=tenant,
        call_id=call_id,
        backoff_ms=backoff_ms,
    )
    assert result.outcome is Outcome.NO_PORT
    row = await _row(owner_engine, call_id)
    assert (row["state"], row["attempts"]) == ("PENDING", 0)
    # Looked at again in five minutes, not at every sweep.
    assert timedelta(minutes=4) < row["next_attempt_at"] - row["created_at"] < timedelta(minutes=6)


async def test_the_sweeper_resends_overdue_calls_only(app_state, owner_engine) -> None:
    tenant, call_id, deal = await _one_call(app_state, owner_engine)
    rows = await calls_of(owner_engine, deal)
    other = next(r["id"] for r in rows if r["id"] != call_id)
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "update integration_calls set next_attempt_at = now() - interval '10 minutes'"
                " where id = :i"
            ),
            {"i": call_id},
        )
    queue = RecordingQueue()
    async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, queue) as s:
        overdue = await calls.overdue_calls(s, grace=timedelta(minutes=1))
        calls.resend(s, overdue)
    assert overdue == [(tenant, call_id)]
    assert queue.sent == [calls.run_job(tenant, call_id)]
    # The other call is due (just now) but not overdue; with no grace, both are.
    async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, queue) as s:
        assert set(await calls.overdue_calls(s, grace=timedelta(0))) == {
            (tenant, call_id),
            (tenant, other),
        }
    # A tenant's scope is not the sweeper's: it sees its own rows only.
    async with unit_of_work(app_state.sessions, DbScope(tenant_id=uuid.uuid4()), queue) as s:
        assert await calls.overdue_calls(s, grace=timedelta(0)) == []


async def test_the_applicant_requests_calls_but_reads_and_forges_none(
    app_state, owner_engine
) -> None:
    from sqlalchemy.exc import DBAPIError

    from api.context import db_scope

    tenant, call_id, deal = await _one_call(app_state, owner_engine)
    scope = db_scope(_markets.pop(deal).young.actor())
    async with unit_of_work(app_state.sessions, scope, RecordingQueue()) as s:
        # Its own deal's calls exist (it wrote them), but their results are the funder's.
        assert await s.scalar(text("select count(*) from integration_calls")) == 0
        assert await s.scalar(text("select count(*) from deals where id = :d"), {"d": deal}) == 1
    forged = (
        "insert into integration_calls (tenant_id, id, deal_id, kind, state, attempts,"
        " max_attempts, idempotency_reference, result, finished_at) values (:t, :id, :d,"
        " 'VALUATION', 'SUCCEEDED', 1, 5, :ref, '{\"score\": 999}', now())"
    )
    with pytest.raises(DBAPIError) as caught:
        async with unit_of_work(app_state.sessions, scope, RecordingQueue()) as s:
            await s.execute(
                text(forged), {"t": tenant, "id": uuid.uuid4(), "d": deal, "ref": uuid.uuid4()}
            )
    assert "row-level security" in str(caught.value)
    # Nor may it move its calls along.
    async with unit_of_work(app_state.sessions, scope, RecordingQueue()) as s:
        done = await s.execute(
            text("update integration_calls set attempts = 5 where id = :i"), {"i": call_id}
        )
        assert done.rowcount == 0
