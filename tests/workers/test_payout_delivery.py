"""Payouts delivered by Dramatiq on RabbitMQ to a real worker process wired with the production
payment rail client, pointed at the sandbox rail, which calls back the served app over
loopback: a disbursement is paid out and settled into an ACTIVE loan; a worker SIGKILLed while
its request to the rail is still unanswered loses nothing (the rail's settlement is applied by
the API, and a later delivery of the job neither asks nor pays again); a payout whose message
was lost is sent by the sweeper. Figures: 100,000.00 lent, 2,000.00 withheld, 98,000.00 paid."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from domain.kernel.money import Money
from domain.payouts.service import send_job
from domain.persistence.after_commit import Job
from tests.disbursement_support import (
    beneficiary,
    build_world,
    disburse,
    ledger_lines,
    rows,
    served_rail,
    signed_deal,
)
from tests.workers.conftest import until


def _status(owner_engine, deal_id: uuid.UUID, wanted: str):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        found = await rows(owner_engine, "select status from deals where id = :d", d=deal_id)
        return found == [(wanted,)]

    return check


async def _one_disbursement(owner_engine, tenant_id: uuid.UUID, payout_id: uuid.UUID) -> None:
    lines = await ledger_lines(owner_engine, tenant_id)
    assert [(ref, kind, minor) for ref, _, kind, minor in lines] == [
        (f"payout:{payout_id}", "PRINCIPAL_RECEIVABLE", 10_000_000),
        (f"payout:{payout_id}", "SETTLEMENT_CASH", -9_800_000),
        (f"payout:{payout_id}", "FEE_INCOME", -200_000),
    ]


async def test_a_disbursement_is_paid_out_by_the_worker(
    app_state, owner_engine, settings, worker, rabbit_jobs
) -> None:
    w = await build_world(app_state)
    deal_id = await signed_deal(app_state, owner_engine, w)
    with served_rail(settings) as rail:
        worker.use_sandboxes(rail.sandbox, settings, app_url=rail.app_url)
        worker.start(recording=False)
        done = await disburse(app_state, w.staff.finance, deal_id, "worker-1", jobs=rabbit_jobs)
        await until("the loan is active", _status(owner_engine, deal_id, "ACTIVE"), worker)
        record = await rail.wait(done.payout.id)
    assert (record.amount, record.idempotency_key) == (Money(9_800_000, "CNY"), str(done.payout.id))
    assert await rows(
        owner_engine, "select state, attempts from payouts where id = :p", p=done.payout.id
    ) == [("SETTLED", 1)]
    await _one_disbursement(owner_engine, w.a, done.payout.id)


async def test_a_worker_killed_while_the_rail_has_not_answered_loses_nothing(
    app_state, owner_engine, settings, worker, rabbit_jobs
) -> None:
    """TIMEOUT: the rail accepts and settles the payout but holds its answer; the worker is
    killed while it waits. The settlement reaches the API all the same; the job delivered
    again finds the payout settled and asks the rail nothing."""
    w = await build_world(app_state)
    deal_id = await signed_deal(app_state, owner_engine, w)
    with served_rail(settings, hang_seconds=60.0) as rail:
        worker.use_sandboxes(rail.sandbox, settings, app_url=rail.app_url)
        worker.env["LENDGRAPH_PROVIDER_TIMEOUT_SECONDS"] = "60"
        worker.start(recording=False)
        done = await disburse(
            app_state,
            w.staff.finance,
            deal_id,
            "worker-kill",
            jobs=rabbit_jobs,
            beneficiary=beneficiary("TIMEOUT"),
        )

        async def asked() -> bool:
            return bool(rail.sandbox.payouts.payouts(str(done.payout.id)))

        await until("the rail was asked", asked, worker)
        await until("the loan is active", _status(owner_engine, deal_id, "ACTIVE"), worker)
        # The worker is still waiting for the rail's answer when it dies.
        assert worker.alive()
        worker.kill()
        assert await rows(
            owner_engine, "select state, attempts from payouts where id = :p", p=done.payout.id
        ) == [("SETTLED", 1)]

        worker.start(recording=False)
        rabbit_jobs.send([send_job(w.a, done.payout.id)] * 2)

        async def two_done() -> bool:
            seen = [
                e
                for e in worker.events()
                if e.get("event") == "payout"
                and e.get("payout_id") == str(done.payout.id)
                and e.get("outcome") == "DONE"
            ]
            return len(seen) >= 2

        await until("two deliveries found it done", two_done, worker)
        assert len(rail.sandbox.payouts.payouts(str(done.payout.id))) == 1
    await _one_disbursement(owner_engine, w.a, done.payout.id)


async def test_a_lost_message_only_delays_the_payout(
    app_state, owner_engine, settings, worker, rabbit_jobs
) -> None:
    w = await build_world(app_state)
    deal_id = await signed_deal(app_state, owner_engine, w)
    with served_rail(settings) as rail:
        worker.use_sandboxes(rail.sandbox, settings, app_url=rail.app_url)
        worker.start(recording=False)
        # Disbursed by a process whose messages never reach the broker.
        done = await disburse(app_state, w.staff.finance, deal_id, "worker-lost")
        async with owner_engine.begin() as conn:
            await conn.execute(
                text(
                    "update payouts set next_attempt_at = now() - interval '5 minutes'"
                    " where id = :p"
                ),
                {"p": done.payout.id},
            )
        rabbit_jobs.send([Job("sweep_payouts", "maintenance")])
        await until("the loan is active", _status(owner_engine, deal_id, "ACTIVE"), worker)
        await rail.wait(done.payout.id)
    await _one_disbursement(owner_engine, w.a, done.payout.id)
