"""Provider callbacks over HTTP (api/webhooks.py): each delivery verified, recorded once in the
inbox in the transaction that applies it, answered 2xx only after the commit and 4xx (never
5xx) for bad input. Handlers are registered for a test with ``monkeypatch.setitem`` on the
registry, as a later change registers its own. The end-to-end test has the sandbox payment
rail call back a uvicorn-served app over loopback.

Expected answers and rows are written out by hand from the protocol (integrations/README.md)
and the endpoint's documented answers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.app import build_state, create_app
from domain.contracts.esign_ports import EnvelopeEvent
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.money import Money
from domain.payments.ports import Beneficiary, PayoutEvent, PayoutRequest
from domain.persistence.engine import open_session
from domain.persistence.scope import NO_SCOPE, PLATFORM_SCOPE, DbScope
from domain.webhooks.handlers import HANDLERS
from integrations.esign.callbacks import sign_callback as sign_esign
from integrations.payments.callbacks import sign_callback as sign_payment
from integrations.payments.client import payout_rail
from integrations.sandboxes import LoopbackServer, SandboxServer
from tests.conftest import ESIGN_CALLBACK_SECRET, PAYMENTS_CALLBACK_SECRET
from tests.integrations.conftest import sandbox_settings

PAYMENTS = "/webhooks/payments"
ESIGN = "/webhooks/esign"
SETTLED = ("payments", "payout.settled")


# -- building deliveries --------------------------------------------------------------------


def settlement(event_id: str | None = None, **changes: Any) -> dict[str, Any]:
    """A ``payout.settled`` event of 1,234.56 CNY."""
    event: dict[str, Any] = {
        "event_id": event_id or f"EV-{uuid.uuid4().hex[:20].upper()}",
        "type": "payout.settled",
        "payout_id": "PO-0001",
        "reference": "loan:1:disbursement",
        "amount": {"amount": "1234.56", "currency": "CNY"},
        "occurred_at": "2026-12-04T10:00:00+00:00",
    }
    event.update(changes)
    return event


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def payment_headers(
    body: bytes,
    event_id: str,
    *,
    secret: str = PAYMENTS_CALLBACK_SECRET,
    at: datetime | None = None,
) -> list[tuple[str, str]]:
    return sign_payment(body, secret, event_id=event_id, timestamp=at or datetime.now(UTC))


async def post_payment(
    client: httpx.AsyncClient, event: dict[str, Any], **signing: Any
) -> httpx.Response:
    """Deliver ``event`` signed afresh, as the rail does on each attempt."""
    body = encode(event)
    return await client.post(
        PAYMENTS, content=body, headers=payment_headers(body, event["event_id"], **signing)
    )


def envelope_event(kind: str, occurred_at: str, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": f"ES-{uuid.uuid4().hex[:16]}",
        "type": kind,
        "envelope_id": "ENV-1",
        "reference": "contract:1",
        "occurred_at": occurred_at,
    }
    event.update(changes)
    return event


async def post_esign(
    client: httpx.AsyncClient, event: dict[str, Any], *, at: datetime | None = None
) -> httpx.Response:
    body = encode(event)
    headers = sign_esign(
        body, ESIGN_CALLBACK_SECRET, key_id="esign-test", created=at or datetime.now(UTC)
    )
    return await client.post(ESIGN, content=body, headers=headers)


# -- reading the inbox ----------------------------------------------------------------------


async def inbox(owner: AsyncEngine) -> list[tuple[Any, ...]]:
    """Every inbox row: provider, event ID, type, outcome, whether processed, body hash."""
    async with owner.connect() as conn:
        rows = await conn.execute(
            text(
                "select provider, event_id, event_type, outcome, processed_at is not null,"
                " body_sha256 from webhook_events order by received_at, event_id"
            )
        )
        return [tuple(r) for r in rows]


async def payload_of(owner: AsyncEngine, event_id: str) -> Any:
    async with owner.connect() as conn:
        return (
            await conn.execute(
                text("select payload from webhook_events where event_id = :e"), {"e": event_id}
            )
        ).scalar_one()


async def audit_actions(owner: AsyncEngine) -> list[str]:
    async with owner.connect() as conn:
        rows = await conn.execute(text("select action from audit_log order by id"))
        return [r[0] for r in rows]


def recording(calls: list[Any], result: str | None = None) -> Callable[..., Any]:
    """A handler that records the events it is given."""

    async def handler(session: AsyncSession, event: Any) -> str | None:
        calls.append(event)
        return result

    return handler


ACCEPTED = {"received": True, "duplicate": False}
DUPLICATE = {"received": True, "duplicate": True}


# -- the happy path and duplicates ----------------------------------------------------------


async def test_a_signed_settlement_is_applied_and_recorded(client, owner_engine, monkeypatch):
    calls: list[Any] = []
    monkeypatch.setitem(HANDLERS, SETTLED, recording(calls))
    event = settlement("EV-A1")

    response = await post_payment(client, event)

    assert response.status_code == 200, response.text
    assert response.json() == ACCEPTED
    body_hash = hashlib.sha256(encode(event)).hexdigest()
    assert await inbox(owner_engine) == [
        ("payments", "EV-A1", "payout.settled", "applied", True, body_hash)
    ]
    assert await payload_of(owner_engine, "EV-A1") == event
    # The handler got the typed, verified event.
    (given,) = calls
    assert isinstance(given, PayoutEvent)
    assert (given.event_id, given.payout_id, given.amount) == (
        "EV-A1",
        "PO-0001",
        Money(123456, "CNY"),
    )


async def test_an_event_with_no_handler_is_recorded_as_ignored(client, owner_engine, monkeypatch):
    event = settlement("EV-IGN", type="payout.failed", failure_reason="ACCOUNT_CLOSED")
    # Payouts register a handler of their own: without it, the event is only recorded.
    monkeypatch.delitem(HANDLERS, ("payments", "payout.failed"))
    assert HANDLERS.get(("payments", "payout.failed")) is None

    response = await post_payment(client, event)

    assert (response.status_code, response.json()) == (200, ACCEPTED)
    (row,) = await inbox(owner_engine)
    assert row[:5] == ("payments", "EV-IGN", "payout.failed", "ignored", True)


async def test_a_duplicate_is_answered_without_applying_again(client, owner_engine, monkeypatch):
    calls: list[Any] = []
    monkeypatch.setitem(HANDLERS, SETTLED, recording(calls))
    event = settlement("EV-DUP")

    first = await post_payment(client, event)
    # A retry: the same bytes, signed again a little later.
    second = await post_payment(client, event, at=datetime.now(UTC) + timedelta(seconds=30))
    third = await post_payment(client, event)

    assert [first.json(), second.json(), third.json()] == [ACCEPTED, DUPLICATE, DUPLICATE]
    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    assert len(calls) == 1
    assert [r[:5] for r in await inbox(owner_engine)] == [
        ("payments", "EV-DUP", "payout.settled", "applied", True)
    ]


async def test_the_same_event_reserialised_is_a_duplicate(client, owner_engine, monkeypatch):
    """Other bytes, the same JSON (keys reordered, spaces): the same event."""
    calls: list[Any] = []
    monkeypatch.setitem(HANDLERS, SETTLED, recording(calls))
    event = settlement("EV-RESER")
    assert (await post_payment(client, event)).json() == ACCEPTED

    body = json.dumps(dict(reversed(list(event.items()))), indent=2).encode()
    response = await client.post(PAYMENTS, content=body, headers=payment_headers(body, "EV-RESER"))

    assert (response.status_code, response.json()) == (200, DUPLICATE)
    assert len(calls) == 1


async def test_the_same_event_id_with_another_body_is_a_conflict(client, owner_engine, monkeypatch):
    calls: list[Any] = []
    monkeypatch.setitem(HANDLERS, SETTLED, recording(calls))
    original = settlement("EV-409")
    assert (await post_payment(client, original)).json() == ACCEPTED

    changed = settlement("EV-409", amount={"amount": "9999.99", "currency": "CNY"})
    response = await post_payment(client, changed)

    assert response.status_code == 409, response.text
    assert response.json()["error"] == "event_id_reused"
    assert len(calls) == 1
    assert await payload_of(owner_engine, "EV-409") == original
    assert len(await inbox(owner_engine)) == 1


async def test_two_identical_deliveries_at_once_apply_once(client, owner_engine, monkeypatch):
    """The first delivery's handler holds its transaction open until the second delivery is
    seen waiting on the inbox's unique key (PostgreSQL's lock wait, observed in
    pg_stat_activity): the second then finds the committed row and is a duplicate."""
    calls: list[Any] = []

    async def second_is_waiting() -> bool:
        async with owner_engine.connect() as conn:
            waiting = await conn.execute(
                text(
                    "select count(*) from pg_stat_activity where datname = current_database()"
                    " and wait_event_type = 'Lock' and query ilike 'insert into webhook_events%'"
                )
            )
            return int(waiting.scalar_one()) >= 1

    async def handler(session: AsyncSession, event: Any) -> None:
        calls.append(event)
        deadline = asyncio.get_running_loop().time() + 20
        while not await second_is_waiting():
            assert asyncio.get_running_loop().time() < deadline, "no second delivery waited"
            await asyncio.sleep(0.01)

    monkeypatch.setitem(HANDLERS, SETTLED, handler)
    event = settlement("EV-RACE")
    body = encode(event)
    headers = payment_headers(body, "EV-RACE")

    one, other = await asyncio.gather(
        client.post(PAYMENTS, content=body, headers=headers),
        client.post(PAYMENTS, content=body, headers=headers),
    )

    assert sorted([one.status_code, other.status_code]) == [200, 200]
    assert sorted([one.json()["duplicate"], other.json()["duplicate"]]) == [False, True]
    assert len(calls) == 1
    assert [r[:4] for r in await inbox(owner_engine)] == [
        ("payments", "EV-RACE", "payout.settled", "applied")
    ]


# -- refusals of the input: 4xx, nothing recorded -------------------------------------------


async def test_a_tampered_body_is_refused(client, owner_engine, monkeypatch):
    calls: list[Any] = []
    monkeypatch.setitem(HANDLERS, SETTLED, recording(calls))
    event = settlement("EV-TAMPER")
    body = encode(event)
    headers = payment_headers(body, "EV-TAMPER")
    tampered = body.replace(b"1234.56", b"9234.56")

    response = await client.post(PAYMENTS, content=tampered, headers=headers)

    assert response.status_code == 401, response.text
    assert response.json()["error"] == "bad_signature"
    assert await inbox(owner_engine) == []
    assert calls == []


async def test_a_truncated_body_is_refused(client, owner_engine):
    body = encode(settlement("EV-TRUNC"))
    headers = payment_headers(body, "EV-TRUNC")

    response = await client.post(PAYMENTS, content=body[: len(body) // 2], headers=headers)

    # The content digest no longer matches: the signature does not cover this body.
    assert response.status_code == 401, response.text
    assert await inbox(owner_engine) == []


async def test_another_secret_or_no_signature_is_refused(client, owner_engine):
    event = settlement("EV-SECRET")
    wrong = await post_payment(client, event, secret="another-secret-" + "z" * 32)
    unsigned = await client.post(
        PAYMENTS, content=encode(event), headers={"content-type": "application/json"}
    )
    # The e-signature service's secret is not the rail's.
    crossed = await post_payment(client, event, secret=ESIGN_CALLBACK_SECRET)

    assert [r.status_code for r in (wrong, unsigned, crossed)] == [401, 401, 401]
    assert await inbox(owner_engine) == []


@pytest.mark.parametrize("offset", [timedelta(minutes=-10), timedelta(minutes=10)])
async def test_a_stale_or_future_timestamp_is_refused(client, owner_engine, offset):
    event = settlement("EV-STALE")
    response = await post_payment(client, event, at=datetime.now(UTC) + offset)

    assert response.status_code == 401, response.text
    assert response.json()["error"] == "stale_timestamp"
    assert await inbox(owner_engine) == []


@pytest.mark.parametrize("offset", [timedelta(minutes=-10), timedelta(minutes=10)])
async def test_a_stale_or_future_esign_callback_is_refused(client, owner_engine, offset):
    event = envelope_event("envelope.expired", "2026-12-04T10:00:00+00:00")
    response = await post_esign(client, event, at=datetime.now(UTC) + offset)

    assert response.status_code == 401, response.text
    assert await inbox(owner_engine) == []


async def test_an_authentic_body_that_is_not_json_is_refused(client, owner_engine):
    body = b"event_id=EV-FORM&type=payout.settled"
    response = await client.post(PAYMENTS, content=body, headers=payment_headers(body, "EV-FORM"))

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "malformed"
    assert await inbox(owner_engine) == []


@pytest.mark.parametrize(
    "event",
    [
        # No payout ID.
        {k: v for k, v in settlement("EV-BAD").items() if k != "payout_id"},
        # An unknown type.
        settlement("EV-BAD", type="payout.teleported"),
        # A NUL character, which JSON allows and PostgreSQL's text does not.
        settlement("EV-BAD", reference="loan:1\u0000:disbursement"),
        # A lone surrogate, which cannot be stored as UTF-8.
        settlement("EV-BAD", reference="loan:\ud800"),
        # An event ID longer than the inbox keeps.
        settlement("EV-" + "X" * 300),
    ],
    ids=["missing-field", "unknown-type", "nul", "surrogate", "long-event-id"],
)
async def test_an_authentic_event_outside_the_protocol_is_refused(client, owner_engine, event):
    body = json.dumps(event).encode()  # ASCII escapes: \u0000 and \ud800 as JSON has them
    response = await client.post(
        PAYMENTS, content=body, headers=payment_headers(body, event["event_id"])
    )

    assert response.status_code == 400, response.text
    assert await inbox(owner_engine) == []


async def test_an_oversized_body_is_refused_unread(client, owner_engine):
    padding = "x" * (64 * 1024)
    event = settlement("EV-BIG", padding=padding)
    response = await post_payment(client, event)

    assert response.status_code == 413, response.text
    assert await inbox(owner_engine) == []


async def test_an_oversized_body_without_a_length_is_cut_off(client, owner_engine):
    """Chunked, no Content-Length: reading stops once the cap is passed."""
    event = settlement("EV-CHUNKED", padding="x" * (64 * 1024))
    body = encode(event)
    headers = payment_headers(body, "EV-CHUNKED")

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    response = await client.post(PAYMENTS, content=chunks(), headers=headers)

    assert response.status_code == 413, response.text
    assert await inbox(owner_engine) == []


async def test_an_unknown_provider_is_not_found(client, owner_engine):
    body = encode(settlement("EV-UNKNOWN"))
    response = await client.post(
        "/webhooks/bureau", content=body, headers=payment_headers(body, "EV-UNKNOWN")
    )

    assert response.status_code == 404, response.text
    assert (await client.get(PAYMENTS)).status_code == 405
    assert await inbox(owner_engine) == []


async def test_a_provider_without_a_secret_has_no_endpoint(settings, app_state, owner_engine):
    """Without a callback secret nothing could be verified: the endpoint is not mounted."""
    unconfigured = settings.model_copy(update={"payments_callback_secret": None})
    transport = httpx.ASGITransport(app=create_app(unconfigured, state=app_state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as bare:
        response = await post_payment(bare, settlement("EV-NOSECRET"))
        esign_still = await post_esign(
            bare, envelope_event("envelope.expired", "2026-12-04T10:00:00+00:00")
        )

    assert response.status_code == 404, response.text
    assert esign_still.status_code == 200, esign_still.text
    assert [r[0] for r in await inbox(owner_engine)] == ["esign"]


# -- handlers: refusal, failure, order -------------------------------------------------------


async def test_a_handlers_refusal_is_recorded_and_answered(client, owner_engine, monkeypatch):
    """A DomainError is permanent: the handler's writes are rolled back, the refusal is
    recorded, the provider is answered 200 (so it stops) and a redelivery is a duplicate."""
    calls: list[Any] = []

    async def refuse(session: AsyncSession, event: Any) -> None:
        calls.append(event)
        await session.execute(
            text(
                "insert into audit_log (tenant_id, action, object_type, object_id)"
                " values (null, 'payout.settle', 'Payout', :p)"
            ),
            {"p": event.payout_id},
        )
        raise DomainError(ErrorCode.NOT_FOUND, "no disbursement has this reference")

    monkeypatch.setitem(HANDLERS, SETTLED, refuse)
    event = settlement("EV-REFUSED")

    first = await post_payment(client, event)
    again = await post_payment(client, event)

    assert (first.status_code, first.json()) == (200, ACCEPTED)
    assert (again.status_code, again.json()) == (200, DUPLICATE)
    assert len(calls) == 1
    assert [r[:5] for r in await inbox(owner_engine)] == [
        ("payments", "EV-REFUSED", "payout.settled", "refused: NOT_FOUND", True)
    ]
    assert await audit_actions(owner_engine) == []


async def test_a_handlers_failure_is_retried_by_the_provider(client, owner_engine, monkeypatch):
    """An unexpected error is ours: 503 with Retry-After, nothing recorded, nothing applied;
    the provider's next attempt is applied."""

    async def broken(session: AsyncSession, event: Any) -> None:
        await session.execute(
            text(
                "insert into audit_log (tenant_id, action, object_type, object_id)"
                " values (null, 'payout.settle', 'Payout', :p)"
            ),
            {"p": event.payout_id},
        )
        raise RuntimeError("the ledger is not there yet")

    monkeypatch.setitem(HANDLERS, SETTLED, broken)
    event = settlement("EV-RETRY")

    failed = await post_payment(client, event)

    assert failed.status_code == 503, failed.text
    assert failed.headers["retry-after"] == "5"
    assert await inbox(owner_engine) == []
    assert await audit_actions(owner_engine) == []

    calls: list[Any] = []
    monkeypatch.setitem(HANDLERS, SETTLED, recording(calls))
    retried = await post_payment(client, event)

    assert (retried.status_code, retried.json()) == (200, ACCEPTED)
    assert len(calls) == 1
    assert [r[:4] for r in await inbox(owner_engine)] == [
        ("payments", "EV-RETRY", "payout.settled", "applied")
    ]


async def test_out_of_order_envelope_events_converge(client, owner_engine, monkeypatch):
    """The pattern a handler follows (domain/webhooks/service.py): a state that only moves
    forward, each event applied only if it moves it; an older event is ``superseded``. The
    state here is the test's own (envelopes have no table yet)."""
    rank = {"signer.signed": 1, "envelope.completed": 2}
    state: dict[str, tuple[int, datetime]] = {}

    async def forward_only(session: AsyncSession, event: EnvelopeEvent) -> str | None:
        current = state.get(event.envelope_id)
        step = (rank[event.type.value], event.occurred_at)
        if current is not None and current >= step:
            return "superseded"
        state[event.envelope_id] = step
        return None

    for kind in rank:
        monkeypatch.setitem(HANDLERS, ("esign", kind), forward_only)
    content = b"%PDF-1.7 signed contract"
    signed = envelope_event("signer.signed", "2026-12-04T10:00:00+00:00", signer_id="S-1")
    completed = envelope_event(
        "envelope.completed",
        "2026-12-04T10:05:00+00:00",
        signed_document={
            "sha256": hashlib.sha256(content).hexdigest(),
            "content_base64": base64.b64encode(content).decode(),
        },
    )

    # The completion overtakes the signature.
    assert (await post_esign(client, completed)).json() == ACCEPTED
    assert (await post_esign(client, signed)).json() == ACCEPTED

    assert state["ENV-1"] == (2, datetime(2026, 12, 4, 10, 5, tzinfo=UTC))
    outcomes = {r[1]: r[3] for r in await inbox(owner_engine)}
    assert outcomes == {completed["event_id"]: "applied", signed["event_id"]: "superseded"}
    # The inbox keeps the signed document's hash, not its content.
    kept = await payload_of(owner_engine, completed["event_id"])
    assert kept["signed_document"] == {"sha256": hashlib.sha256(content).hexdigest()}


# -- end to end: the sandbox rail calls back a served app ------------------------------------


async def test_the_sandbox_rails_duplicate_callback_is_stored_once(
    settings, owner_engine, monkeypatch
):
    """A payout whose beneficiary's name ends in DUPLICATE: the sandbox settles it and
    delivers the same signed event twice to the app, served by uvicorn on loopback."""
    calls: list[Any] = []
    monkeypatch.setitem(HANDLERS, SETTLED, recording(calls))
    with SandboxServer(latency=0.0) as sandbox:
        app_settings = settings.model_copy(
            update={"payments_callback_secret": SecretStr(sandbox.payouts.callback_secret)}
        )
        # Its own engine: the served app runs on the server thread's event loop.
        state = build_state(app_settings)
        try:
            with LoopbackServer(create_app(app_settings, state=state)) as served:
                rail = payout_rail(sandbox_settings(sandbox))
                try:
                    accepted = await rail.disburse(
                        PayoutRequest(
                            amount=Money(123456, "CNY"),
                            beneficiary=Beneficiary(
                                name="Liu Yang DUPLICATE",
                                account_number="6222020200112233445",
                                bank_code="102100099996",
                            ),
                            reference="loan:e2e:disbursement",
                            callback_url=served.base_url + PAYMENTS,
                            idempotency_key=f"disburse-{uuid.uuid4().hex}",
                        )
                    )
                finally:
                    await rail.aclose()
                assert await asyncio.to_thread(sandbox.payouts.wait_done, accepted.payout_id, 15.0)
        finally:
            # Its connections belong to the stopped server's loop: let them go unclosed.
            state.engine.sync_engine.dispose(close=False)
        (record,) = sandbox.payouts.payouts("loan:e2e:disbursement")

    assert record.event is not None
    event_id = record.event["event_id"]
    # Both deliveries answered 2xx at the first attempt.
    assert [(a.event_id, a.delivery, a.attempt, a.status) for a in record.attempts] == [
        (event_id, 1, 1, 200),
        (event_id, 2, 1, 200),
    ]
    assert [e.event_id for e in calls] == [event_id]
    assert [r[:5] for r in await inbox(owner_engine)] == [
        ("payments", event_id, "payout.settled", "applied", True)
    ]
    assert await payload_of(owner_engine, event_id) == record.event


# -- the inbox is the platform's --------------------------------------------------------------


async def test_only_the_platform_scope_reads_or_changes_the_inbox(
    client, app_state, owner_engine, monkeypatch
):
    # Recorded without an effect: the payouts' handler would refuse the made-up reference.
    monkeypatch.delitem(HANDLERS, SETTLED)
    assert (await post_payment(client, settlement("EV-PLATFORM"))).json() == ACCEPTED
    change = text("update webhook_events set outcome = 'rewritten' where event_id = 'EV-PLATFORM'")
    count = text("select count(*) from webhook_events")
    tenant = DbScope(tenant_id=uuid.uuid4())
    for scope in (tenant, NO_SCOPE):
        async with open_session(app_state.sessions, scope) as session:
            assert (await session.execute(count)).scalar_one() == 0
            assert (await session.execute(change)).rowcount == 0
            await session.commit()
    # Control: the platform scope sees the row, and may record an outcome.
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as session:
        assert (await session.execute(count)).scalar_one() == 1
        assert (await session.execute(change)).rowcount == 1
        await session.rollback()
    assert [r[3] for r in await inbox(owner_engine)] == ["ignored"]
