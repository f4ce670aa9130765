"""Envelope recovery with a real worker on RabbitMQ, wired with the production e-signature
client pointed at the sandbox service over loopback: the worker creates the envelope and is
SIGKILLed before any callback reached the app (the callbacks go to a closed port, so none
ever does); the envelope completes at the service meanwhile. A new worker's sweeper reads the
envelope back and applies it through the completion callback's own handler: the deal SIGNED
once, the signed document stored under its hash, one envelope created at the service."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from domain.contracts import signing
from domain.contracts.esign_ports import EnvelopeStatus
from domain.persistence.after_commit import Job
from integrations.esign.client import esignature_from_settings
from integrations.sandboxes import SandboxServer
from tests.integration.test_contracts import _prepare, approved_consumer, make_world
from tests.integration.test_signing import _funder, _rows, _send_for_signing
from tests.integrations.conftest import sandbox_settings
from tests.workers.conftest import Worker, until

#: Each signer takes 0.5-1.5 s: the worker is killed while the envelope is out for signing.
LATENCY = 1.0
#: Nothing listens here: every callback is lost.
LOST = "http://127.0.0.1:9"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(latency=LATENCY, callback_backoff=0.05, callback_attempts=1) as server:
        yield server


@pytest.fixture
def real_worker(worker: Worker, sandbox: SandboxServer, settings: Any) -> Worker:
    """The worker with the production e-signature client on the sandbox, its callbacks
    lost, the tests' document store and personal-data key."""
    worker.env.update(sandbox.environment())
    worker.env["LENDGRAPH_ISSUER"] = LOST
    worker.env["LENDGRAPH_DATA_KEY"] = settings.data_key.get_secret_value()
    # The test's document store: the contract's PDF is read from it, the signed one kept.
    worker.env["LENDGRAPH_DATA_DIR"] = settings.data_dir
    # An envelope unheard of for a second is read back.
    worker.env["LENDGRAPH_ESIGN_RECONCILE_AFTER_SECONDS"] = "1"
    return worker


async def test_a_worker_killed_before_any_callback_loses_nothing(
    app_state, owner_engine, real_worker, rabbit_jobs, sandbox
) -> None:
    worker = real_worker
    w = await make_world(app_state)
    await _funder(owner_engine, w, "Bank A")
    signing.signed_documents.store = app_state.storage
    deal_id = await approved_consumer(app_state, w)
    contract_id: uuid.UUID = (await _prepare(app_state, w.admin, deal_id)).contract.id
    worker.start(recording=False)
    await _send_for_signing(app_state, w.admin, deal_id, rabbit_jobs)

    async def recorded() -> bool:
        found = await _rows(
            owner_engine, "select envelope_id from contracts where id = :c", c=contract_id
        )
        return found[0][0] is not None

    await until("the envelope is recorded", recorded, worker)
    worker.kill()
    [(envelope_id, attempts)] = await _rows(
        owner_engine,
        "select envelope_id, envelope_attempts from contracts where id = :c",
        c=contract_id,
    )
    assert attempts == 1

    client = esignature_from_settings(sandbox_settings(sandbox))
    try:

        async def completed() -> bool:
            return (await client.envelope(envelope_id)).status is EnvelopeStatus.COMPLETED

        await until("the service completed the envelope", completed, worker, within=60)
        document = await client.signed_document(envelope_id)
    finally:
        await client.aclose()
    # No callback reached the app: the contract is still out for signing.
    assert await _rows(
        owner_engine,
        "select c.status, d.status from contracts c join deals d on d.id = c.deal_id"
        " where c.id = :c",
        c=contract_id,
    ) == [("SENT", "SIGNING")]

    worker.start(recording=False)
    rabbit_jobs.send([Job("sweep_envelopes", "maintenance")])

    async def signed() -> bool:
        found = await _rows(owner_engine, "select status from deals where id = :d", d=deal_id)
        return found == [("SIGNED",)]

    await until("the deal is signed", signed, worker)
    # A second sweep finds nothing to read back.
    rabbit_jobs.send([Job("sweep_envelopes", "maintenance")])
    [(status, sha, key)] = await _rows(
        owner_engine,
        "select status, signed_sha256, signed_document_key from contracts where id = :c",
        c=contract_id,
    )
    assert (status, sha) == ("SIGNED", document.sha256)
    stored = b"".join([c async for c in app_state.storage.open(key)])
    assert stored == document.content
    assert await _rows(
        owner_engine,
        "select count(*) from deal_events where deal_id = :d and action = 'deal.sign'",
        d=deal_id,
    ) == [(1,)]
    creations = [e for e in sandbox.log.entries() if e.path.endswith("/v1/envelopes")]
    assert len(creations) == 1
    assert any(
        e.get("event") == "envelope_reconciled" and e.get("outcome") == "applied"
        for e in worker.events()
    )
    async with owner_engine.connect() as conn:
        assert (
            await conn.scalar(
                text("select count(*) from events where type = 'deal.envelope_failed'")
            )
        ) == 0
