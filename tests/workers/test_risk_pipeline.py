"""The risk checks with the production ports in a real worker on RabbitMQ, against the sandbox
providers over loopback HTTP: a worker killed (SIGKILL) while the bureau is answering leaves
the pull to the next worker, which repeats it under the same idempotency key, so the bureau
makes one inquiry; and once the calls are final the worker's assessment moves the deal to its
first review."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from integrations.sandboxes import SandboxServer
from tests.deals_support import apply, consumer_deal, market
from tests.jobs_support import calls_of, submit_with
from tests.workers.conftest import Worker, until

#: Every answer takes 0.5-1.5 s: long enough to kill a worker while the bureau is answering.
LATENCY = 1.0
#: The client's timeout in the worker: an attempt's lease on its row is this plus 10 s.
CLIENT_TIMEOUT = "3"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(latency=LATENCY, hang_seconds=10.0) as server:
        yield server


@pytest.fixture
def real_worker(worker: Worker, sandbox: SandboxServer, settings: Any) -> Worker:
    """The worker, configured for the production ports on the sandboxes (and the test
    database's data key, to read the applicant's resident ID)."""
    worker.use_sandboxes(sandbox, settings)
    worker.env["LENDGRAPH_PROVIDER_TIMEOUT_SECONDS"] = CLIENT_TIMEOUT
    return worker


def _pulls(sandbox: SandboxServer) -> list[Any]:
    return [e for e in sandbox.log.entries() if e.path.endswith("/v1/credit-reports")]


async def test_a_worker_killed_during_a_bureau_pull_completes_it_with_one_inquiry(
    app_state, owner_engine, real_worker, rabbit_jobs, sandbox
) -> None:
    worker = real_worker
    m = await market(app_state)
    actor = m.young.actor()
    deal = (await apply(app_state, actor, **consumer_deal(m, liveness_session="LS-7f3a9c"))).deal.id
    worker.start(recording=False)
    assert await submit_with(app_state, actor, deal, rabbit_jobs) == []

    async def bureau_answering() -> bool:
        # Signed and verified, still in the sandbox's latency: the answer is not out yet.
        return any(e.key_id is not None and e.outcome is None for e in _pulls(sandbox))

    await until("the bureau received the pull", bureau_answering, worker)
    worker.kill()
    bureau = next(r for r in await calls_of(owner_engine, deal) if r["kind"] == "BUREAU")
    assert (bureau["state"], bureau["attempts"], bureau["result"]) == ("RUNNING", 1, None)

    worker.start(recording=False)

    async def in_first_review() -> bool:
        async with owner_engine.connect() as conn:
            status = await conn.scalar(text("select status from deals where id = :d"), {"d": deal})
        return bool(status == "FIRST_REVIEW")

    await until("the deal reached its first review", in_first_review, worker, within=120)
    rows = {r["kind"]: r for r in await calls_of(owner_engine, deal)}
    assert (rows["BUREAU"]["state"], rows["BUREAU"]["attempts"]) == ("SUCCEEDED", 2)
    assert (rows["IDENTITY"]["state"], rows["IDENTITY"]["attempts"]) == ("SUCCEEDED", 1)
    assert rows["BUREAU"]["result"]["score"] == 742
    # The killed worker's request was answered to no one; the second was the same request
    # (same idempotency key), answered from the first: one inquiry at the bureau.
    assert [e.outcome for e in _pulls(sandbox)] == ["200", "replayed"]
    async with owner_engine.connect() as conn:
        assessed = (
            await conn.execute(
                text(
                    "select recommendation, auto_approved from risk_assessments where deal_id = :d"
                ),
                {"d": deal},
            )
        ).all()
        timeline = (
            await conn.scalars(
                text("select action from deal_events where deal_id = :d order by id"),
                {"d": deal},
            )
        ).all()
    # The default consumer product configures only its credit-score minimum (600): 742 passes.
    assert [tuple(r) for r in assessed] == [("APPROVE", False)]
    assert list(timeline) == ["deal.create", "deal.submit", "deal.start_first_review"]
