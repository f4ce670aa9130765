"""Integration calls delivered by Dramatiq on RabbitMQ to real worker processes: a submission
enqueues its calls after commit and the workers complete them; a worker SIGKILLed in the middle
of a call and started again completes it exactly once; failed attempts are retried with
backoff; a call whose message was lost is completed after the sweeper re-sends it; and
repeated deliveries of a finished call do nothing. Counts come from the ports' own records
(``calls.log``), states from the rows."""

from __future__ import annotations

import uuid
from collections import Counter

from sqlalchemy import text

from domain.integration_calls.service import run_job
from domain.persistence.after_commit import Job, NoJobQueue
from tests.deals_support import apply, consumer_deal, market, pledge_deal
from tests.jobs_support import calls_of, submit_with
from tests.workers.conftest import Worker, until


def _all_finished(owner_engine, deal_id: uuid.UUID):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        rows = await calls_of(owner_engine, deal_id)
        return bool(rows) and all(r["state"] in ("SUCCEEDED", "FAILED") for r in rows)

    return check


def _records(worker: Worker, what: str, kind: str) -> list[list[str]]:
    return [r for r in worker.calls() if r[0] == what and r[1] == kind]


async def test_a_submission_is_completed_by_the_workers(
    app_state, owner_engine, worker, rabbit_jobs
) -> None:
    m = await market(app_state)
    owner = m.chain.owner_user.actor()
    deal = (await apply(app_state, owner, **pledge_deal(m))).deal.id
    worker.start()
    assert await submit_with(app_state, owner, deal, rabbit_jobs) == []

    await until("the pledge's two calls finished", _all_finished(owner_engine, deal), worker)
    rows = await calls_of(owner_engine, deal)
    assert [(r["kind"], r["state"], r["attempts"]) for r in rows] == [
        ("BUREAU", "SUCCEEDED", 1),
        ("VALUATION", "SUCCEEDED", 1),
    ]
    for r in rows:
        assert r["result"] == {
            "kind": r["kind"],
            "line": "WAREHOUSE_RECEIPT_PLEDGE",
            "reference": str(r["idempotency_reference"]),
        }
    assert Counter((r[0], r[1]) for r in worker.calls()) == {
        (what, kind): 1 for what in ("start", "done") for kind in ("BUREAU", "VALUATION")
    }


async def test_a_worker_killed_during_a_call_completes_it_exactly_once(
    app_state, owner_engine, worker, rabbit_jobs
) -> None:
    m = await market(app_state)
    actor = m.young.actor()
    deal = (await apply(app_state, actor, **consumer_deal(m))).deal.id
    (worker.folder / "hang-BUREAU").touch()
    worker.start()
    assert await submit_with(app_state, actor, deal, rabbit_jobs) == []

    async def bureau_started() -> bool:
        return bool(_records(worker, "start", "BUREAU"))

    await until("the bureau call started", bureau_started, worker)
    worker.kill()
    bureau = next(r for r in await calls_of(owner_engine, deal) if r["kind"] == "BUREAU")
    assert (bureau["state"], bureau["attempts"]) == ("RUNNING", 1)
    assert _records(worker, "done", "BUREAU") == []

    worker.start()
    await until("both calls finished", _all_finished(owner_engine, deal), worker)
    rows = {r["kind"]: r for r in await calls_of(owner_engine, deal)}
    assert (rows["BUREAU"]["state"], rows["BUREAU"]["attempts"]) == ("SUCCEEDED", 2)
    assert (rows["IDENTITY"]["state"], rows["IDENTITY"]["attempts"]) == ("SUCCEEDED", 1)
    reference = str(rows["BUREAU"]["idempotency_reference"])
    starts = _records(worker, "start", "BUREAU")
    done = _records(worker, "done", "BUREAU")
    # Started twice with the same reference (the provider dedups by it), completed once,
    # by the second worker; the result kept is that one's.
    assert [(s[2], s[3]) for s in starts] == [(reference, "1"), (reference, "2")]
    assert [(d[2], d[3]) for d in done] == [(reference, "2")]
    assert starts[0][4] != done[0][4]
    assert rows["BUREAU"]["result"]["reference"] == reference
    assert len(_records(worker, "start", "IDENTITY")) == 1

    # More deliveries of the finished call: each does nothing.
    bureau_id = str(rows["BUREAU"]["id"])
    rabbit_jobs.send([run_job(m.world.a.id, rows["BUREAU"]["id"])] * 2)

    async def two_finished() -> bool:
        seen = [
            e
            for e in worker.events()
            if e.get("event") == "integration_call"
            and e.get("call_id") == bureau_id
            and e.get("outcome") == "FINISHED"
        ]
        return len(seen) >= 2

    await until("two deliveries of the finished call", two_finished, worker)
    assert len(_records(worker, "start", "BUREAU")) == 2
    assert len(_records(worker, "done", "BUREAU")) == 1


async def test_failed_attempts_are_retried_with_backoff(
    app_state, owner_engine, worker, rabbit_jobs
) -> None:
    m = await market(app_state)
    actor = m.young.actor()
    deal = (await apply(app_state, actor, **consumer_deal(m))).deal.id
    (worker.folder / "fail-IDENTITY").write_text("2")
    worker.start()
    assert await submit_with(app_state, actor, deal, rabbit_jobs) == []

    await until("both calls finished", _all_finished(owner_engine, deal), worker)
    rows = {r["kind"]: r for r in await calls_of(owner_engine, deal)}
    assert (rows["IDENTITY"]["state"], rows["IDENTITY"]["attempts"]) == ("SUCCEEDED", 3)
    assert rows["IDENTITY"]["last_error"] is None
    assert [s[3] for s in _records(worker, "start", "IDENTITY")] == ["1", "2", "3"]
    assert [d[3] for d in _records(worker, "done", "IDENTITY")] == ["3"]
    # The waits the worker scheduled: Dramatiq's backoff, 2 s then 4 s.
    retries = [
        e["retry_in_ms"]
        for e in worker.events()
        if e.get("event") == "integration_call"
        and e.get("call_id") == str(rows["IDENTITY"]["id"])
        and e.get("outcome") == "RETRY"
    ]
    assert retries == [2000, 4000]


async def test_a_lost_message_only_delays_the_call(
    app_state, owner_engine, worker, rabbit_jobs
) -> None:
    m = await market(app_state)
    actor = m.young.actor()
    deal = (await apply(app_state, actor, **consumer_deal(m))).deal.id
    # Submitted by a process whose messages never reach the broker.
    assert await submit_with(app_state, actor, deal, NoJobQueue()) == []
    worker.start()
    # Overdue by more than the sweeper's grace, then one sweep.
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "update integration_calls set next_attempt_at = now() - interval '5 minutes'"
                " where deal_id = :d"
            ),
            {"d": deal},
        )
    rabbit_jobs.send([Job("sweep_integration_calls", "maintenance")])

    await until("both calls finished", _all_finished(owner_engine, deal), worker)
    rows = await calls_of(owner_engine, deal)
    assert [(r["kind"], r["state"], r["attempts"]) for r in rows] == [
        ("BUREAU", "SUCCEEDED", 1),
        ("IDENTITY", "SUCCEEDED", 1),
    ]
    assert Counter(r[1] for r in worker.calls() if r[0] == "done") == {"BUREAU": 1, "IDENTITY": 1}


async def test_the_relay_publishes_committed_events_on_the_broker(
    app_state, owner_engine, worker, rabbit_jobs
) -> None:
    m = await market(app_state)
    actor = m.young.actor()
    deal = (await apply(app_state, actor, **consumer_deal(m))).deal.id
    worker.start()
    # The submission's commit rings the relay: the worker publishes every pending event.
    assert await submit_with(app_state, actor, deal, rabbit_jobs) == []

    async def all_published() -> bool:
        async with owner_engine.connect() as conn:
            left = await conn.scalar(text("select count(*) from events where published_at is null"))
            total = await conn.scalar(text("select count(*) from events"))
        return bool(total) and left == 0

    await until("every event published", all_published, worker)
    published = [e for e in worker.events() if e.get("event") == "events_published"]
    assert published
