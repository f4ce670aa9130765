"""Envelope recovery on PostgreSQL with the sandbox e-signature service over loopback HTTP:
the creation's attempts are counted on the contract row and bounded (the last failure leaves
the contract FAILED with the alert); the sweeper finds a creation that never got an answer;
a completion whose callbacks were lost is read back and applied through the callbacks' own
handler, once (a late callback is a duplicate); a declined contract is sent again in a new
envelope (an event of the earlier one is refused); a SIGNING deal past its signing deadline
expires exactly once while a completion waits on its lock, and its envelope is voided.

The callbacks of these envelopes go to a closed port (``LOST``): nothing reaches the app
unless the test delivers it."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.contracts import policy, signing
from domain.contracts.esign_ports import EnvelopeEvent, EnvelopeStatus, EventType, SignedDocument
from domain.kernel.errors import DomainError, ErrorCode
from domain.persistence.after_commit import NoJobQueue
from domain.persistence.scope import PLATFORM_SCOPE, DbScope
from domain.persistence.unit_of_work import unit_of_work
from domain.webhooks import service as inbox
from integrations.esign.callbacks import event_payload
from integrations.esign.client import esignature_from_settings
from integrations.sandboxes import SandboxServer
from tests.integration.test_contracts import World, _prepare, approved_consumer, make_world
from tests.integration.test_signing import (
    _contract,
    _deal_status,
    _funder,
    _rows,
    _send_for_signing,
)
from tests.integrations.conftest import sandbox_settings
from tests.jobs_support import RecordingQueue
from tests.support import wait_until_blocked

#: A closed port: the sandbox's callbacks are lost.
LOST = "http://127.0.0.1:9/webhooks/esign"


@pytest.fixture
async def world(app_state: Any, owner_engine: AsyncEngine) -> World:
    w = await make_world(app_state)
    await _funder(owner_engine, w, "Bank A")
    signing.signed_documents.store = app_state.storage
    return w


def _tenant(state: Any, w: Any, jobs: Any = None) -> Any:
    return unit_of_work(state.sessions, DbScope(tenant_id=w.m.world.a.id), jobs or NoJobQueue())


def _uow(state: Any, w: Any) -> Any:
    return lambda: unit_of_work(state.sessions, DbScope(tenant_id=w.m.world.a.id), NoJobQueue())


def _no_backoff(attempt: int) -> int:
    return 1_000 * attempt


async def _send(state: Any, w: Any, client: Any, contract_id: uuid.UUID, suffix: str = "") -> Any:
    return await signing.send_envelope(
        _uow(state, w),
        client,
        state.storage,
        tenant_id=w.m.world.a.id,
        contract_id=contract_id,
        callback_url=LOST,
        backoff_ms=_no_backoff,
        reference_suffix=suffix,
    )


async def _sent(state: Any, w: Any) -> tuple[uuid.UUID, uuid.UUID]:
    deal_id = await approved_consumer(state, w)
    contract = (await _prepare(state, w.admin, deal_id)).contract
    await _send_for_signing(state, w.admin, deal_id)
    return deal_id, contract.id


async def _until_final(client: Any, envelope_id: str) -> Any:
    for _ in range(300):
        envelope = await client.envelope(envelope_id)
        if envelope.status is not EnvelopeStatus.SENT:
            return envelope
        await asyncio.sleep(0.05)
    raise AssertionError(f"envelope {envelope_id} still SENT")


def _sandbox(latency: float = 0.0) -> SandboxServer:
    return SandboxServer(latency=latency, callback_backoff=0.05, callback_attempts=1)


# -- attempts -----------------------------------------------------------------------------------


async def test_attempts_are_counted_on_the_row_and_the_last_fails_the_contract(
    app_state, owner_engine, world
):
    deal_id, contract_id = await _sent(app_state, world)
    with _sandbox() as sandbox:
        client = esignature_from_settings(sandbox_settings(sandbox))
        try:
            first = await _send(app_state, world, client, contract_id, "UNAVAILABLE")
            assert (first.outcome, first.attempt, first.retry_in_ms) == ("RETRY", 1, 1_000)
            # Delivered again at once: its backoff runs, nothing is asked.
            again = await _send(app_state, world, client, contract_id, "UNAVAILABLE")
            assert again.outcome == "NOT_DUE"
            assert await _rows(
                owner_engine,
                "select status, envelope_attempts, envelope_last_error like"
                " 'ESignatureUnavailable%' from contracts where id = :c",
                c=contract_id,
            ) == [("SENT", 1, True)]
            # Seven attempts spent, the eighth due now: it is the last.
            async with owner_engine.begin() as conn:
                await conn.execute(
                    text(
                        "update contracts set envelope_attempts = 7,"
                        " envelope_next_attempt_at = now() - interval '1 second' where id = :c"
                    ),
                    {"c": contract_id},
                )
            last = await _send(app_state, world, client, contract_id, "UNAVAILABLE")
        finally:
            await client.aclose()
    assert (last.outcome, last.attempt) == ("FAILED", signing.MAX_ATTEMPTS)
    [(status, attempts, reason, due)] = await _rows(
        owner_engine,
        "select status, envelope_attempts, failure_reason, envelope_next_attempt_at"
        " from contracts where id = :c",
        c=contract_id,
    )
    assert (status, attempts, due) == ("FAILED", 8, None)
    assert reason == "no envelope after 8 attempts: ESignatureUnavailable"
    assert await _rows(
        owner_engine,
        "select (payload->>'attempts')::int from events where type = 'deal.envelope_failed'"
        " and aggregate_id = :d",
        d=str(deal_id),
    ) == [(8,)]
    # Not disbursable, visibly: the deal waits SIGNING on a FAILED contract.
    assert await _deal_status(owner_engine, deal_id) == "SIGNING"


async def test_the_sweeper_finds_a_creation_that_never_got_an_answer(
    app_state, owner_engine, world
):
    _, overdue = await _sent(app_state, world)
    _, fresh = await _sent(app_state, world)
    # The first one's worker took the lease and died: the lease ran out 5 minutes ago.
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "update contracts set envelope_attempts = 1,"
                " envelope_next_attempt_at = now() - interval '5 minutes' where id = :c"
            ),
            {"c": overdue},
        )
    jobs = RecordingQueue()
    async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, jobs) as s:
        found = await signing.unsent_envelopes(s, grace=timedelta(seconds=30))
        signing.resend(s, found)
    assert [c for _, c in found] == [overdue]
    assert [(j.actor, j.args[1]) for j in jobs.sent if j.actor == "send_envelope"] == [
        ("send_envelope", str(overdue))
    ]
    assert fresh not in [c for _, c in found]


# -- reconciliation -----------------------------------------------------------------------------


async def test_a_lost_completion_is_read_back_once_and_a_late_callback_converges(
    app_state, owner_engine, world
):
    deal_id, contract_id = await _sent(app_state, world)
    with _sandbox() as sandbox:
        client = esignature_from_settings(sandbox_settings(sandbox))
        try:
            sent = await _send(app_state, world, client, contract_id)
            assert sent.outcome == "SENT"
            envelope = await _until_final(client, sent.envelope_id)
            assert envelope.status is EnvelopeStatus.COMPLETED
            # Its callbacks never came: the contract is still SENT.
            assert (await _contract(owner_engine, contract_id))[0] == "SENT"
            # Unheard of for longer than the delay: listed for reconciliation.
            async with owner_engine.begin() as conn:
                await conn.execute(
                    text(
                        "update contracts set envelope_seen_at = now() - interval '1 hour'"
                        " where id = :c"
                    ),
                    {"c": contract_id},
                )
            async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, NoJobQueue()) as s:
                unheard = await signing.unheard_envelopes(s, after=timedelta(minutes=15))
            assert [c for _, c in unheard] == [contract_id]
            said = await signing.reconcile_envelope(
                _uow(app_state, world),
                client,
                tenant_id=world.m.world.a.id,
                contract_id=contract_id,
            )
            again = await signing.reconcile_envelope(
                _uow(app_state, world),
                client,
                tenant_id=world.m.world.a.id,
                contract_id=contract_id,
            )
            document = await client.signed_document(sent.envelope_id)
        finally:
            await client.aclose()
    assert (said, again) == ("applied", "SKIPPED")
    status, _, signers, sha, key, signed = await _contract(owner_engine, contract_id)
    assert (status, signed, sha) == ("SIGNED", True, document.sha256)
    assert [(s["role"], s["status"], bool(s["signed_at"])) for s in signers] == [
        ("BORROWER", "SIGNED", True),
        ("FUNDER", "SIGNED", True),
    ]
    stored = b"".join([c async for c in app_state.storage.open(key)])
    assert stored == document.content
    assert await _deal_status(owner_engine, deal_id) == "SIGNED"

    # The service's own completion callback comes at last, through the inbox.
    late = EnvelopeEvent(
        event_id="EVT-LATE-1",
        type=EventType.ENVELOPE_COMPLETED,
        envelope_id=sent.envelope_id,
        reference=str(contract_id),
        occurred_at=datetime.now(UTC),
        signed_document=SignedDocument(sha256=document.sha256, content=document.content),
    )
    payload = event_payload(late)
    async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, NoJobQueue()) as s:
        receipt = await inbox.receive(
            s,
            inbox.Delivery(
                provider="esign",
                event_id=late.event_id,
                event_type=late.type.value,
                body_sha256="0" * 64,
                payload={k: v for k, v in payload.items() if k != "signed_document"},
                event=late,
            ),
        )
    assert receipt.outcome == "duplicate"
    assert await _rows(
        owner_engine,
        "select count(*) from deal_events where deal_id = :d and action = 'deal.sign'",
        d=deal_id,
    ) == [(1,)]


# -- resending ----------------------------------------------------------------------------------


async def test_a_declined_contract_is_sent_again_in_a_new_envelope(app_state, owner_engine, world):
    await _funder(owner_engine, world, "Bank A DECLINE")
    deal_id, contract_id = await _sent(app_state, world)
    with _sandbox() as sandbox:
        client = esignature_from_settings(sandbox_settings(sandbox))
        try:
            first = await _send(app_state, world, client, contract_id)
            await _until_final(client, first.envelope_id)
            said = await signing.reconcile_envelope(
                _uow(app_state, world),
                client,
                tenant_id=world.m.world.a.id,
                contract_id=contract_id,
            )
            assert said == "applied"
            assert (await _contract(owner_engine, contract_id))[0] == "DECLINED"
            assert await _deal_status(owner_engine, deal_id) == "SIGNING"

            # The same version (its terms name the same signatory) in a new envelope.
            jobs = RecordingQueue()
            again = await _send_for_signing(app_state, world.admin, deal_id, jobs)
            assert again.resent and again.contract.id == contract_id
            assert [j.args[1] for j in jobs.sent if j.actor == "send_envelope"] == [
                str(contract_id)
            ]
            assert await _rows(
                owner_engine,
                "select status, resends, envelope_id, envelope_attempts from contracts"
                " where id = :c",
                c=contract_id,
            ) == [("SENT", 1, None, 0)]
            # Sending it again while it is out is refused.
            with pytest.raises(DomainError) as caught:
                await _send_for_signing(app_state, world.admin, deal_id)
            assert caught.value.code is ErrorCode.INVALID_TRANSITION

            second = await _send(app_state, world, client, contract_id)
            assert second.outcome == "SENT" and second.envelope_id != first.envelope_id
            await _until_final(client, second.envelope_id)
            said = await signing.reconcile_envelope(
                _uow(app_state, world),
                client,
                tenant_id=world.m.world.a.id,
                contract_id=contract_id,
            )
        finally:
            await client.aclose()
    # The new envelope's own outcome is applied to the contract (declined again here: the
    # same signatory).
    assert said == "applied"
    assert await _rows(
        owner_engine,
        "select status, resends, envelope_id from contracts where id = :c",
        c=contract_id,
    ) == [("DECLINED", 1, second.envelope_id)]
    assert await _deal_status(owner_engine, deal_id) == "SIGNING"
    # The two creations had their own keys (the second carries the resend number).
    keys = [e for e in sandbox.log.entries() if e.path.endswith("/v1/envelopes")]
    assert len(keys) == 2 and all(e.outcome == "200" for e in keys)
    # A late event of the first envelope is not taken for the second's.
    stale = EnvelopeEvent(
        event_id="EVT-STALE",
        type=EventType.ENVELOPE_DECLINED,
        envelope_id=first.envelope_id,
        reference=str(contract_id),
        occurred_at=datetime.now(UTC),
    )
    async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, NoJobQueue()) as s:
        with pytest.raises(DomainError) as caught:
            await signing.apply_declined(s, stale)
    assert caught.value.code is ErrorCode.INVALID


async def test_resending_is_bounded(app_state, owner_engine, world):
    deal_id, contract_id = await _sent(app_state, world)
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("update contracts set status = 'DECLINED', resends = :n where id = :c"),
            {"c": contract_id, "n": policy.MAX_RESENDS},
        )
    with pytest.raises(DomainError) as caught:
        await _send_for_signing(app_state, world.admin, deal_id)
    assert caught.value.code is ErrorCode.RESEND_LIMIT_REACHED


# -- the signing deadline -----------------------------------------------------------------------


async def _lapse(owner: AsyncEngine, deal_id: uuid.UUID) -> None:
    """The approval expired a minute ago (below the triggers, as the owner: a decided review
    never changes through the application)."""
    async with owner.begin() as conn:
        await conn.execute(text("set local session_replication_role = replica"))
        await conn.execute(
            text(
                "update deal_reviews set expires_at = now() - interval '1 minute'"
                " where deal_id = :d and expires_at is not null"
            ),
            {"d": deal_id},
        )


async def test_the_signing_deadline_expires_the_deal_once_against_a_waiting_completion(
    app_state, owner_engine, world
):
    deal_id, contract_id = await _sent(app_state, world)
    # Signers take their time (1 s each, about): the envelope is still out when it lapses.
    with _sandbox(latency=1.0) as sandbox:
        client = esignature_from_settings(sandbox_settings(sandbox))
        try:
            sent = await _send(app_state, world, client, contract_id)
            assert sent.outcome == "SENT"
            await _lapse(owner_engine, deal_id)
            async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, NoJobQueue()) as s:
                listed = await signing.signing_past_deadline(s, now=datetime.now(UTC), limit=10)
            assert (world.m.world.a.id, deal_id) in listed

            completion = EnvelopeEvent(
                event_id="EVT-RACE",
                type=EventType.ENVELOPE_COMPLETED,
                envelope_id=sent.envelope_id,
                reference=str(contract_id),
                occurred_at=datetime.now(UTC),
                signed_document=SignedDocument(
                    sha256="6d6f5a8f4c8e7b1a2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293",
                    content=b"never stored",
                ),
            )
            jobs = RecordingQueue()
            async with _tenant(app_state, world, jobs) as s:
                outcome = await signing.expire_signing(s, deal_id)
                assert (outcome.expired, outcome.void) == (True, True)

                async def complete() -> str | None:
                    async with unit_of_work(
                        app_state.sessions, PLATFORM_SCOPE, NoJobQueue()
                    ) as other:
                        return await signing.apply_completed(other, completion)

                racing = asyncio.create_task(complete())
                # The completion waits on the contract's lock the expiry holds.
                await wait_until_blocked(owner_engine)
            said = await racing
            assert said == "superseded"
            assert [(j.actor, j.args[1]) for j in jobs.sent if j.actor == "void_envelope"] == [
                ("void_envelope", str(contract_id))
            ]
            voided = await signing.void_envelope(
                _uow(app_state, world),
                client,
                tenant_id=world.m.world.a.id,
                contract_id=contract_id,
            )
            envelope = await client.envelope(sent.envelope_id)
        finally:
            await client.aclose()
    assert voided == "VOIDED" and envelope.status is EnvelopeStatus.VOIDED
    assert (await _contract(owner_engine, contract_id))[0] == "EXPIRED"
    assert await _deal_status(owner_engine, deal_id) == "EXPIRED"
    assert await _rows(
        owner_engine,
        "select from_status, to_status, details->>'reason' from deal_events"
        " where deal_id = :d and action = 'deal.expire'",
        d=deal_id,
    ) == [("SIGNING", "EXPIRED", "signing_deadline")]
    # A second run finds nothing to do.
    async with _tenant(app_state, world) as s:
        assert (await signing.expire_signing(s, deal_id)).expired is False


async def test_a_completion_applied_first_leaves_nothing_to_expire(app_state, owner_engine, world):
    deal_id, contract_id = await _sent(app_state, world)
    await _lapse(owner_engine, deal_id)
    document = b"%PDF signed"
    import hashlib

    completion = EnvelopeEvent(
        event_id="EVT-FIRST",
        type=EventType.ENVELOPE_COMPLETED,
        envelope_id="EV-FIRST",
        reference=str(contract_id),
        occurred_at=datetime.now(UTC),
        signed_document=SignedDocument(
            sha256=hashlib.sha256(document).hexdigest(), content=document
        ),
    )
    async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, NoJobQueue()) as s:
        assert await signing.apply_completed(s, completion) is None
    async with _tenant(app_state, world) as s:
        assert (await signing.expire_signing(s, deal_id)).expired is False
    assert await _deal_status(owner_engine, deal_id) == "SIGNED"
    assert base64 is not None
