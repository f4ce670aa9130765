"""E-signature on PostgreSQL with the sandbox e-signature service calling back the served app
over loopback: an APPROVED consumer deal's prepared contract is sent for signing (deal
SIGNING, contract SENT, one job), the envelope created with its signers in order (the
borrower, then the funder; the core enterprise between for order financing), and on the
callbacks the deal is SIGNED with the signed document stored under its hash. A funder who
declines leaves the contract DECLINED and the deal SIGNING (not disbursable); an envelope that
expires leaves the contract EXPIRED and the deal EXPIRED. Duplicated and reordered callbacks
converge. Another funder's staff find no deal; a deal not APPROVED is refused.

Set-up outside the use cases: the funder's name is set (by the owner) to end in the sandbox's
word for the outcome wanted."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import build_state, create_app
from api.context import db_scope
from domain.contracts import service, signing
from domain.kernel.errors import DomainError, ErrorCode
from domain.persistence.after_commit import NoJobQueue
from domain.persistence.scope import DbScope
from domain.persistence.unit_of_work import unit_of_work
from integrations.esign.client import esignature_from_settings
from integrations.sandboxes import LoopbackServer, SandboxServer
from lendgraph.settings import Settings
from tests.deals_support import order_deal
from tests.disbursement_support import beneficiary
from tests.integration.test_contracts import (
    World,
    _prepare,
    approve,
    approved_consumer,
    in_first_review,
    make_world,
)
from tests.integrations.conftest import sandbox_settings
from tests.jobs_support import RecordingQueue

ESIGN = "/webhooks/esign"


@pytest.fixture
async def world(app_state: Any, owner_engine: AsyncEngine) -> World:
    w = await make_world(app_state)
    await _funder(owner_engine, w, "Bank A")
    signing.signed_documents.store = app_state.storage
    return w


async def _funder(owner: AsyncEngine, w: World, name: str) -> None:
    async with owner.begin() as conn:
        await conn.execute(
            text("update tenants set name = :n where id = :t"),
            {"n": name, "t": w.m.world.a.id},
        )


async def _rows(owner: AsyncEngine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async with owner.connect() as conn:
        return [tuple(r) for r in (await conn.execute(text(sql), params)).all()]


async def _send_for_signing(
    state: Any, actor: Any, deal_id: uuid.UUID, jobs: Any = None
) -> service.SigningOutcome:
    async with unit_of_work(state.sessions, db_scope(actor), jobs or NoJobQueue()) as s:
        return await service.send_for_signing(s, actor, deal_id=deal_id)


@contextmanager
def served_esign(settings: Settings) -> Iterator[tuple[SandboxServer, str]]:
    """The sandbox service and the app (its own engine, on the server thread's loop), the app
    verifying the service's callbacks with the service's secret."""
    with SandboxServer(latency=0.0, callback_backoff=0.2, callback_attempts=8) as sandbox:
        app_settings = settings.model_copy(
            update={"esign_callback_secret": SecretStr(sandbox.callback_secret.decode())}
        )
        state = build_state(app_settings)
        try:
            with LoopbackServer(create_app(app_settings, state=state)) as served:
                yield sandbox, served.base_url + ESIGN
        finally:
            state.engine.sync_engine.dispose(close=False)


async def _contract(owner: AsyncEngine, contract_id: uuid.UUID) -> tuple[Any, ...]:
    [row] = await _rows(
        owner,
        "select status, envelope_id, signers, signed_sha256, signed_document_key,"
        " signed_at is not null from contracts where id = :c",
        c=contract_id,
    )
    return row


async def _wait_final(
    owner: AsyncEngine, contract_id: uuid.UUID, *, signed_times: int = 0
) -> tuple[Any, ...]:
    """The contract once final (and ``signed_times`` signers have their time), within 15 s."""
    for _ in range(300):
        row = await _contract(owner, contract_id)
        times = sum(1 for s in row[2] if s.get("signed_at"))
        if row[0] != "SENT" and times >= signed_times:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"contract {contract_id} not final: {row}")


async def _deal_status(owner: AsyncEngine, deal_id: uuid.UUID) -> str:
    [(status,)] = await _rows(owner, "select status from deals where id = :d", d=deal_id)
    return str(status)


async def _sign(
    app_state: Any,
    owner: AsyncEngine,
    settings: Settings,
    w: World,
    deal_id: uuid.UUID,
    *,
    suffix: str = "",
    signed_times: int = 0,
) -> tuple[Any, ...]:
    """Prepare and send the deal's contract, run the job against the sandbox, wait for the
    outcome: the contract row (status, envelope, signers, signed hash, key, signed)."""
    contract = (await _prepare(app_state, w.admin, deal_id)).contract
    await _send_for_signing(app_state, w.admin, deal_id)
    with served_esign(settings) as (sandbox, callback_url):
        client = esignature_from_settings(sandbox_settings(sandbox))
        try:
            result = await signing.send_envelope(
                lambda: unit_of_work(
                    app_state.sessions, DbScope(tenant_id=w.m.world.a.id), NoJobQueue()
                ),
                client,
                app_state.storage,
                tenant_id=w.m.world.a.id,
                contract_id=contract.id,
                callback_url=callback_url,
                reference_suffix=suffix,
                backoff_ms=lambda n: 2_000 * n,
            )
            assert result.outcome == "SENT"
            return await _wait_final(owner, contract.id, signed_times=signed_times)
        finally:
            await client.aclose()


# -- sending ------------------------------------------------------------------------------------


async def test_sending_moves_the_deal_to_signing_with_one_job(app_state, owner_engine, world):
    deal_id = await approved_consumer(app_state, world)
    contract = (await _prepare(app_state, world.admin, deal_id)).contract
    jobs = RecordingQueue()
    done = await _send_for_signing(app_state, world.admin, deal_id, jobs)
    assert done.contract.id == contract.id
    assert await _deal_status(owner_engine, deal_id) == "SIGNING"
    status, envelope, signers, *_ = await _contract(owner_engine, contract.id)
    assert (status, envelope) == ("SENT", None)
    assert [(s["role"], s["order"], s["status"]) for s in signers] == [
        ("BORROWER", 1, "PENDING"),
        ("FUNDER", 2, "PENDING"),
    ]
    assert [(j.actor, j.args) for j in jobs.sent if j.actor != "relay_events"] == [
        ("send_envelope", (str(world.m.world.a.id), str(contract.id)))
    ]
    # Sending again is refused: the deal is SIGNING now.
    with pytest.raises(DomainError) as caught:
        await _send_for_signing(app_state, world.admin, deal_id)
    assert caught.value.code is ErrorCode.INVALID_TRANSITION


async def test_another_funders_staff_find_no_deal(app_state, owner_engine, world):
    deal_id = await approved_consumer(app_state, world)
    await _prepare(app_state, world.admin, deal_id)
    with pytest.raises(DomainError) as caught:
        await _send_for_signing(app_state, world.b_admin, deal_id)
    assert caught.value.code is ErrorCode.NOT_FOUND
    assert await _deal_status(owner_engine, deal_id) == "APPROVED"


async def test_a_deal_not_approved_is_not_sent(app_state, owner_engine, world):
    from domain.kernel.money import Money
    from tests.deals_support import consumer_deal

    kw = consumer_deal(world.m, amount=Money.parse("100000.00", "CNY"))
    deal_id = await in_first_review(app_state, world, world.m.young.actor(), kw)
    with pytest.raises(DomainError) as caught:
        await _send_for_signing(app_state, world.admin, deal_id)
    assert caught.value.code is ErrorCode.INVALID_TRANSITION
    assert await _deal_status(owner_engine, deal_id) == "FIRST_REVIEW"


async def test_an_approved_deal_without_a_contract_is_not_sent(app_state, owner_engine, world):
    deal_id = await approved_consumer(app_state, world)
    with pytest.raises(DomainError) as caught:
        await _send_for_signing(app_state, world.admin, deal_id)
    assert caught.value.code is ErrorCode.NOT_FOUND
    assert await _deal_status(owner_engine, deal_id) == "APPROVED"


# -- the outcomes -------------------------------------------------------------------------------


async def test_every_signature_in_signs_the_deal_and_keeps_the_signed_document(
    app_state, owner_engine, settings, world
):
    deal_id = await approved_consumer(app_state, world)
    status, envelope, signers, sha, key, signed = await _sign(
        app_state, owner_engine, settings, world, deal_id, signed_times=2
    )
    assert status == "SIGNED" and signed and envelope.startswith("EV-")
    assert [(s["role"], s["order"], s["status"]) for s in signers] == [
        ("BORROWER", 1, "SIGNED"),
        ("FUNDER", 2, "SIGNED"),
    ]
    assert all(s["signer_id"].startswith("SG-") and s["signed_at"] for s in signers)
    stored = b"".join([c async for c in app_state.storage.open(key)])
    assert hashlib.sha256(stored).hexdigest() == sha
    assert await _deal_status(owner_engine, deal_id) == "SIGNED"
    timeline = await _rows(
        owner_engine,
        "select action, from_status, to_status, actor_kind from deal_events where deal_id = :d"
        " and action in ('deal.send_for_signing', 'deal.sign') order by id",
        d=deal_id,
    )
    assert timeline == [
        ("deal.send_for_signing", "APPROVED", "SIGNING", "FUNDER"),
        ("deal.sign", "SIGNING", "SIGNED", "SYSTEM"),
    ]


async def test_order_financing_signers_are_borrower_core_enterprise_funder(
    app_state, owner_engine, settings, world
):
    seller = world.m.chain.seller_user.actor()
    deal_id = await in_first_review(app_state, world, seller, order_deal(world.m))
    await approve(app_state, world, deal_id)
    status, _, signers, *_ = await _sign(
        app_state, owner_engine, settings, world, deal_id, signed_times=3
    )
    assert status == "SIGNED"
    assert [(s["role"], s["order"], s["name"]) for s in signers] == [
        ("BORROWER", 1, "Trader Co"),
        ("CORE_ENTERPRISE", 2, "Core Co"),
        ("FUNDER", 3, "Bank A"),
    ]
    assert await _deal_status(owner_engine, deal_id) == "SIGNED"


async def test_a_declining_signer_leaves_the_deal_undisbursable(
    app_state, owner_engine, settings, world
):
    from domain.payouts import service as payouts
    from tests.disbursement_support import disburse

    await _funder(owner_engine, world, "Bank A DECLINE")
    deal_id = await approved_consumer(app_state, world)
    status, _, signers, sha, key, signed = await _sign(
        app_state, owner_engine, settings, world, deal_id, signed_times=1
    )
    assert (status, sha, key, signed) == ("DECLINED", None, None, False)
    assert [(s["role"], s["status"]) for s in signers] == [
        ("BORROWER", "SIGNED"),
        ("FUNDER", "DECLINED"),
    ]
    assert await _deal_status(owner_engine, deal_id) == "SIGNING"
    events = await _rows(
        owner_engine,
        "select type from events where aggregate_id = :d and type = 'deal.signature_declined'",
        d=str(deal_id),
    )
    assert events == [("deal.signature_declined",)]
    # The finance officer cannot disburse it: disbursement needs a SIGNED deal.
    from domain.kernel.scopes import Role
    from tests.integration.test_contracts import _actor

    finance = _actor(world.m.world.a.admin_user_id, world.m.world.a.id, Role.FINANCE_OFFICER)
    with pytest.raises(DomainError) as caught:
        await disburse(app_state, finance, deal_id, "after-decline", beneficiary=beneficiary())
    assert caught.value.code is ErrorCode.INVALID_TRANSITION
    assert payouts is not None


async def test_an_expired_envelope_expires_the_deal(app_state, owner_engine, settings, world):
    await _funder(owner_engine, world, "Bank A EXPIRE")
    deal_id = await approved_consumer(app_state, world)
    status, _, signers, sha, *_ = await _sign(
        app_state, owner_engine, settings, world, deal_id, signed_times=1
    )
    assert (status, sha) == ("EXPIRED", None)
    assert [(s["role"], s["status"]) for s in signers] == [
        ("BORROWER", "SIGNED"),
        ("FUNDER", "PENDING"),
    ]
    assert await _deal_status(owner_engine, deal_id) == "EXPIRED"


@pytest.mark.parametrize("word", ["DUPLICATE", "REORDERED"])
async def test_duplicated_or_reordered_callbacks_converge(
    app_state, owner_engine, settings, world, word
):
    deal_id = await approved_consumer(app_state, world)
    status, _, signers, _sha, _key, signed = await _sign(
        app_state, owner_engine, settings, world, deal_id, suffix=word, signed_times=2
    )
    assert (status, signed) == ("SIGNED", True)
    assert [(s["role"], s["status"]) for s in signers] == [
        ("BORROWER", "SIGNED"),
        ("FUNDER", "SIGNED"),
    ]
    assert await _deal_status(owner_engine, deal_id) == "SIGNED"
    transitions = await _rows(
        owner_engine,
        "select count(*) from deal_events where deal_id = :d and action = 'deal.sign'",
        d=deal_id,
    )
    assert transitions == [(1,)]


# -- the job's failures -------------------------------------------------------------------------


async def _send_once(
    app_state: Any,
    settings: Settings,
    w: World,
    *,
    suffix: str,
    attempt: int,
    owner: AsyncEngine | None = None,
) -> tuple[signing.SendEnvelopeResult, uuid.UUID]:
    deal_id = await approved_consumer(app_state, w)
    contract = (await _prepare(app_state, w.admin, deal_id)).contract
    await _send_for_signing(app_state, w.admin, deal_id)
    if attempt > 1:
        assert owner is not None
        # The attempts before this one spent (the row counts them).
        async with owner.begin() as conn:
            await conn.execute(
                text("update contracts set envelope_attempts = :n where id = :c"),
                {"n": attempt - 1, "c": contract.id},
            )
    with served_esign(settings) as (sandbox, callback_url):
        client = esignature_from_settings(sandbox_settings(sandbox))
        try:
            result = await signing.send_envelope(
                lambda: unit_of_work(
                    app_state.sessions, DbScope(tenant_id=w.m.world.a.id), NoJobQueue()
                ),
                client,
                app_state.storage,
                tenant_id=w.m.world.a.id,
                contract_id=contract.id,
                callback_url=callback_url,
                reference_suffix=suffix,
                backoff_ms=lambda n: 2_000 * n,
            )
        finally:
            await client.aclose()
    return result, contract.id


async def test_an_unavailable_service_is_retried_then_given_up_with_an_alert(
    app_state, owner_engine, settings, world
):
    first, contract_id = await _send_once(
        app_state, settings, world, suffix="UNAVAILABLE", attempt=1
    )
    assert first.outcome == "RETRY"
    status, envelope, *_ = await _contract(owner_engine, contract_id)
    assert (status, envelope) == ("SENT", None)
    alerts = await _rows(
        owner_engine, "select count(*) from events where type = 'deal.envelope_failed'"
    )
    assert alerts == [(0,)]

    last, contract_id = await _send_once(
        app_state,
        settings,
        world,
        suffix="UNAVAILABLE",
        attempt=signing.MAX_ATTEMPTS,
        owner=owner_engine,
    )
    assert last.outcome == "FAILED"
    alerts = await _rows(
        owner_engine,
        "select payload->>'contract_id', (payload->>'attempts')::int from events"
        " where type = 'deal.envelope_failed'",
    )
    assert alerts == [(str(contract_id), 8)]


async def test_a_recorded_envelope_is_not_created_twice(app_state, owner_engine, settings, world):
    deal_id = await approved_consumer(app_state, world)
    _, envelope, *_ = await _sign(app_state, owner_engine, settings, world, deal_id, signed_times=2)
    [(contract_id,)] = await _rows(
        owner_engine, "select id from contracts where deal_id = :d", d=deal_id
    )
    # A redelivered message finds the contract signed and asks nothing.
    again = await signing.send_envelope(
        lambda: unit_of_work(
            app_state.sessions, DbScope(tenant_id=world.m.world.a.id), NoJobQueue()
        ),
        _NoService(),
        app_state.storage,
        tenant_id=world.m.world.a.id,
        contract_id=contract_id,
        callback_url="http://127.0.0.1:9/webhooks/esign",
        backoff_ms=lambda n: 2_000 * n,
    )
    assert (again.outcome, again.envelope_id) == ("DONE", envelope)


class _NoService:
    async def create_envelope(self, request: Any) -> Any:  # pragma: no cover - not asked
        raise AssertionError("asked")

    async def envelope(self, envelope_id: str) -> Any:  # pragma: no cover - not asked
        raise AssertionError("asked")

    async def signed_document(self, envelope_id: str) -> Any:  # pragma: no cover - not asked
        raise AssertionError("asked")

    async def void_envelope(self, envelope_id: str, reason: str) -> Any:  # pragma: no cover
        raise AssertionError("asked")
