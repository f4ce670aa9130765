"""Live deal status over ``graphql-transport-ws``: ``dealStatusChanged`` sends each committed
status change of a deal the subscriber may see (through the deal's read rule), nothing for
another funder's or another channel's deals, nothing for a rolled-back transaction, refuses a
``dealId`` that is not the subscriber's to see as it refuses one that does not exist, and a
socket runs at most ``ws_max_subscriptions`` subscriptions at once.

The production schema is served by a uvicorn server in a thread (its lifespan starts the event
listener); the world is made and deals are moved in the test process through the use cases.
Absence is asserted by order: a change the subscriber must not get is followed by one it must
get, and the first message to arrive is the second one."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from api.app import build_state, create_app
from api.deals.subscriptions import announces_status, may_be_visible
from api.state import AppState
from domain.events.listener import Notification
from domain.kernel.actor import Actor
from domain.kernel.scopes import Scope
from lendgraph.settings import Settings
from tenants.keys import SigningKeys
from tests.deals_support import Market, apply, consumer_deal, market, order_deal, submit, withdraw
from tests.support import access_token, client_token, global_id, gql

PROTOCOL = "graphql-transport-ws"
#: Generous bound on waiting for something the server must do; never a measured time.
PATIENCE = 30.0
CAP = 3
DISABLE_USER = (
    "mutation($id: UserOrClientID!) { disableUser(input: {id: $id}) { userErrors { code } } }"
)
SUBSCRIPTION = """
subscription($dealId: DealID, $line: ProductLine) {
  dealStatusChanged(dealId: $dealId, productLine: $line) {
    eventType status occurredAt deal { id status productLine }
  }
}"""


# --- a live server with the production schema ----------------------------------------------


@dataclass
class LiveServer:
    port: int
    state: AppState

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"


@contextmanager
def live_server(settings: Settings, keys: SigningKeys) -> Iterator[LiveServer]:
    state = build_state(settings, keys=keys)
    app = create_app(settings, state=state)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="on", log_level="warning", ws_ping_interval=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + PATIENCE
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield LiveServer(port=sock.getsockname()[1], state=state)
    finally:
        server.should_exit = True
        thread.join(PATIENCE)
        sock.close()


@pytest.fixture(scope="module")
def server(settings: Settings, signing_keys: SigningKeys) -> Iterator[LiveServer]:
    # The periodic principal re-check out of the way: a socket closed for a disabled
    # principal is closed by the subscription's own read.
    capped = settings.model_copy(
        update={"ws_max_subscriptions": CAP, "ws_principal_recheck_seconds": 3600.0}
    )
    with live_server(capped, signing_keys) as live:
        yield live


@pytest.fixture(autouse=True)
async def _quiet(server: LiveServer) -> None:
    """The previous test's subscriptions have stopped listening (their sockets closed)."""
    await until_listening_at_most(server, 0)


# --- protocol helpers ----------------------------------------------------------------------


@asynccontextmanager
async def socket_as(live: LiveServer, token: str) -> AsyncIterator[ClientConnection]:
    async with connect(
        live.ws_url,
        subprotocols=[PROTOCOL],  # type: ignore[list-item]
        ping_interval=None,
    ) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert await receive(ws) == {"type": "connection_ack"}
        yield ws


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.recv(), PATIENCE)
    return dict(json.loads(message))


async def send_subscribe(ws: ClientConnection, op_id: str, **variables: Any) -> None:
    payload = {"query": SUBSCRIPTION, "variables": variables}
    await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))


def listening(live: LiveServer) -> int:
    """How many subscriptions the server's event listener feeds (the server runs in this
    process): a subscribe message is not answered until something happens, so a test waits
    for this count before it makes the change the subscription is to hear."""
    events = live.state.events
    assert events is not None
    return len(events._subscribers)


async def until_listening(live: LiveServer, count: int) -> None:
    deadline = time.monotonic() + PATIENCE
    while listening(live) < count:
        assert time.monotonic() < deadline, f"{listening(live)} listening, not {count}"
        await asyncio.sleep(0.02)  # polling the server's state, not asserting a time


async def subscribed(live: LiveServer, ws: ClientConnection, op_id: str, **variables: Any) -> None:
    before = listening(live)
    await send_subscribe(ws, op_id, **variables)
    await until_listening(live, before + 1)


async def change(ws: ClientConnection, op_id: str) -> dict[str, Any]:
    """The next message, which must be a change sent to ``op_id``."""
    message = await receive(ws)
    assert message["type"] == "next" and message["id"] == op_id, message
    assert "errors" not in message["payload"], message
    return dict(message["payload"]["data"]["dealStatusChanged"])


def deal_gid(deal_id: uuid.UUID) -> str:
    return global_id("Deal", deal_id)


async def submitted(state: AppState, actor: Any, deal_id: uuid.UUID) -> None:
    outcome, errors = await submit(state, actor, deal_id)
    assert errors == [] and outcome is not None, errors


async def funder_tokens(client: httpx.AsyncClient, m: Market) -> tuple[str, str]:
    a = await access_token(client, m.world.a.admin_email, tenant=m.world.a.slug)
    b = await access_token(client, m.world.b.admin_email, tenant=m.world.b.slug)
    return a, b


async def app_token(client: httpx.AsyncClient, credentials: tuple[str, str]) -> str:
    response = await client_token(client, credentials)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


# --- who hears what ------------------------------------------------------------------------


async def test_funder_staff_hear_their_own_funders_transitions_only(
    server, client, app_state
) -> None:
    m = await market(app_state)
    token_a, token_b = await funder_tokens(client, m)
    seller = m.chain.seller_user.actor()
    deal_a = (await apply(app_state, seller, **order_deal(m, "a"))).deal.id
    deal_b = (await apply(app_state, m.young.actor(), **consumer_deal(m, "b"))).deal.id
    async with socket_as(server, token_a) as ws_a, socket_as(server, token_b) as ws_b:
        await subscribed(server, ws_a, "a")
        await subscribed(server, ws_b, "b")
        await submitted(app_state, seller, deal_a)
        # A hears its deal's submission: the event's type, the status it moved to, the deal.
        heard = await change(ws_a, "a")
        assert heard["eventType"] == "deal.submitted"
        assert heard["status"] == "SUBMITTED"
        assert heard["deal"] == {
            "id": deal_gid(deal_a),
            "status": "SUBMITTED",
            "productLine": "ORDER_FINANCING",
        }
        assert heard["occurredAt"]
        # B's first message is its own deal's submission, made after A's.
        await submitted(app_state, m.young.actor(), deal_b)
        heard_b = await change(ws_b, "b")
        assert heard_b["deal"]["id"] == deal_gid(deal_b)
        assert heard_b["status"] == "SUBMITTED"


async def test_a_partner_app_hears_its_channels_deals_not_another_channels(
    server, client, app_state
) -> None:
    m = await market(app_state)
    young = m.young.person_id
    theirs = (
        await apply(app_state, m.partner.actor(), **consumer_deal(m, applicant_person_id=young))
    ).deal.id
    own = (
        await apply(
            app_state, m.other_partner.actor(), **consumer_deal(m, "b", applicant_person_id=young)
        )
    ).deal.id
    partner = await app_token(client, m.partner.credentials)
    other = await app_token(client, m.other_partner.credentials)
    async with socket_as(server, other) as ws_other, socket_as(server, partner) as ws_partner:
        await subscribed(server, ws_other, "other")
        await subscribed(server, ws_partner, "partner")
        await submitted(app_state, m.partner.actor(), theirs)
        assert (await change(ws_partner, "partner"))["deal"]["id"] == deal_gid(theirs)
        await submitted(app_state, m.other_partner.actor(), own)
        first = await change(ws_other, "other")
        assert first["deal"]["id"] == deal_gid(own)


async def test_a_borrower_and_the_operator_hear_as_the_read_rule_lets_them(
    server, client, app_state
) -> None:
    m = await market(app_state)
    seller = m.chain.seller_user.actor()
    not_hers = (await apply(app_state, seller, **order_deal(m, "b"))).deal.id
    hers = (await apply(app_state, m.young.actor(), **consumer_deal(m, "a"))).deal.id
    borrower = await access_token(client, m.young.email)
    operator = await access_token(client, m.world.admin_email)
    async with socket_as(server, borrower) as ws_young, socket_as(server, operator) as ws_op:
        await subscribed(server, ws_young, "young")
        await subscribed(server, ws_op, "op")
        await submitted(app_state, seller, not_hers)
        await submitted(app_state, m.young.actor(), hers)
        # The operator hears both funders' deals, in commit order; the borrower only hers.
        assert (await change(ws_op, "op"))["deal"]["id"] == deal_gid(not_hers)
        assert (await change(ws_op, "op"))["deal"]["id"] == deal_gid(hers)
        assert (await change(ws_young, "young"))["deal"]["id"] == deal_gid(hers)


async def test_filters_by_deal_and_product_line_and_only_status_changes_are_sent(
    server, client, app_state
) -> None:
    m = await market(app_state)
    token_a, _ = await funder_tokens(client, m)
    seller = m.chain.seller_user.actor()
    order = (await apply(app_state, seller, **order_deal(m, "a"))).deal.id
    consumer = (await apply(app_state, m.young.actor(), **consumer_deal(m, "a"))).deal.id
    async with socket_as(server, token_a) as ws:
        await subscribed(server, ws, "line", line="CONSUMER_CREDIT")
        await subscribed(server, ws, "deal", dealId=deal_gid(order))
        await subscribed(server, ws, "all")
        # A creation is no status change: nobody hears this one.
        later = (await apply(app_state, m.young.actor(), **consumer_deal(m, "a"))).deal.id
        await submitted(app_state, seller, order)
        await submitted(app_state, m.young.actor(), consumer)
        outcome, errors = await withdraw(app_state, m.young.actor(), later)
        assert errors == [] and outcome is not None, errors
        received: dict[str, list[tuple[str, str]]] = {"line": [], "deal": [], "all": []}
        # 'all' gets three changes, 'line' two, 'deal' one: six messages in all.
        for _ in range(6):
            message = await receive(ws)
            assert message["type"] == "next", message
            found = message["payload"]["data"]["dealStatusChanged"]
            received[message["id"]].append((found["deal"]["id"], found["status"]))
    assert received == {
        "all": [
            (deal_gid(order), "SUBMITTED"),
            (deal_gid(consumer), "SUBMITTED"),
            (deal_gid(later), "WITHDRAWN"),
        ],
        "line": [(deal_gid(consumer), "SUBMITTED"), (deal_gid(later), "WITHDRAWN")],
        "deal": [(deal_gid(order), "SUBMITTED")],
    }


async def test_a_rolled_back_transition_sends_nothing(
    server, client, app_state, owner_engine
) -> None:
    m = await market(app_state)
    token_a, _ = await funder_tokens(client, m)
    seller = m.chain.seller_user.actor()
    deal = (await apply(app_state, seller, **order_deal(m, "a"))).deal.id
    async with socket_as(server, token_a) as ws:
        await subscribed(server, ws, "a")
        # A withdrawal's event written and rolled back: PostgreSQL tells no listener.
        async with owner_engine.connect() as conn:
            transaction = await conn.begin()
            await conn.execute(
                text(
                    "insert into events (tenant_id, type, aggregate_type, aggregate_id, payload)"
                    " values (:t, 'deal.withdrawn', 'Deal', :d, '{\"status\": \"WITHDRAWN\"}')"
                ),
                {"t": m.world.a.id, "d": str(deal)},
            )
            await transaction.rollback()
        await submitted(app_state, seller, deal)
        first = await change(ws, "a")
        assert (first["eventType"], first["status"]) == ("deal.submitted", "SUBMITTED")


async def test_a_deal_id_not_yours_is_refused_like_one_that_does_not_exist(
    server, client, app_state
) -> None:
    m = await market(app_state)
    _, token_b = await funder_tokens(client, m)
    deal_a = (await apply(app_state, m.chain.seller_user.actor(), **order_deal(m, "a"))).deal.id
    answers = []
    async with socket_as(server, token_b) as ws:
        for op_id, gid in (("theirs", deal_gid(deal_a)), ("none", deal_gid(uuid.uuid4()))):
            await send_subscribe(ws, op_id, dealId=gid)
            message = await receive(ws)
            assert message["type"] == "error" and message["id"] == op_id, message
            answers.append(
                [(e["message"], e.get("extensions", {}).get("code")) for e in message["payload"]]
            )
    assert answers == [[("no such deal", "NOT_FOUND")], [("no such deal", "NOT_FOUND")]]
    # Refused subscriptions listen no more.
    assert listening(server) == 0


# --- the cap -------------------------------------------------------------------------------


async def test_subscriptions_past_the_cap_are_refused_and_the_socket_stays_usable(
    server, client, app_state
) -> None:
    m = await market(app_state)
    token_a, _ = await funder_tokens(client, m)
    seller = m.chain.seller_user.actor()
    deal = (await apply(app_state, seller, **order_deal(m, "a"))).deal.id
    async with socket_as(server, token_a) as ws:
        for n in range(CAP):
            await subscribed(server, ws, f"s{n}")
        await send_subscribe(ws, "over")
        refused = await receive(ws)
        assert refused["type"] == "error" and refused["id"] == "over", refused
        assert [e["extensions"]["code"] for e in refused["payload"]] == ["TOO_MANY_SUBSCRIPTIONS"]
        # A query still runs on the socket.
        await ws.send(
            json.dumps(
                {"id": "q", "type": "subscribe", "payload": {"query": "{ viewer { subject } }"}}
            )
        )
        answer = await receive(ws)
        assert answer["type"] == "next" and answer["id"] == "q", answer
        assert answer["payload"]["data"]["viewer"]["subject"] == str(m.world.a.admin_user_id)
        assert await receive(ws) == {"id": "q", "type": "complete"}
        # Completing one subscription frees its place.
        await ws.send(json.dumps({"id": "s0", "type": "complete"}))
        await until_listening_at_most(server, CAP - 1)
        await subscribed(server, ws, "again")
        await submitted(app_state, seller, deal)
        heard = {(await receive(ws))["id"] for _ in range(CAP)}
        assert heard == {*(f"s{n}" for n in range(1, CAP)), "again"}


async def until_listening_at_most(live: LiveServer, count: int) -> None:
    deadline = time.monotonic() + PATIENCE
    while listening(live) > count:
        assert time.monotonic() < deadline, f"{listening(live)} listening, not {count}"
        await asyncio.sleep(0.02)  # polling the server's state, not asserting a time


async def test_a_token_without_deals_read_is_refused_at_subscribe(
    server, client, app_state
) -> None:
    m = await market(app_state)
    viewer_only = await app_token(client, m.world.partner_client)  # viewer:read only
    async with socket_as(server, viewer_only) as ws:
        await send_subscribe(ws, "no")
        message = await receive(ws)
    assert message["type"] == "error" and message["id"] == "no", message
    assert [e["extensions"]["code"] for e in message["payload"]] == ["FORBIDDEN"]


async def test_a_change_read_after_the_principal_is_disabled_closes_the_socket_4403(
    server, client, app_state
) -> None:
    m = await market(app_state)
    token_a, _ = await funder_tokens(client, m)
    operator = await access_token(client, m.world.admin_email)
    seller = m.chain.seller_user.actor()
    deal = (await apply(app_state, seller, **order_deal(m, "a"))).deal.id
    async with socket_as(server, token_a) as ws:
        await subscribed(server, ws, "a")
        disabled = await gql(
            client,
            operator,
            DISABLE_USER,
            {"id": global_id("User", m.world.a.admin_user_id)},
        )
        assert disabled.json()["data"]["disableUser"]["userErrors"] == [], disabled.text
        await submitted(app_state, seller, deal)
        with pytest.raises(ConnectionClosed):
            message = await receive(ws)
            raise AssertionError(f"sent after the principal was disabled: {message}")
        assert ws.close_code == 4403


# --- the cheap rules, without a database ---------------------------------------------------

FUNDER_A = uuid.UUID(int=1)
FUNDER_B = uuid.UUID(int=2)


def _note(
    tenant: uuid.UUID | None, type: str = "deal.submitted", kind: str = "Deal"
) -> Notification:
    return Notification(
        id=1, tenant_id=tenant, type=type, aggregate_type=kind, aggregate_id=str(uuid.UUID(int=9))
    )


def test_only_status_changes_of_deals_are_announced() -> None:
    assert announces_status(_note(FUNDER_A, "deal.submitted"))
    assert announces_status(_note(FUNDER_A, "deal.withdrawn"))
    assert not announces_status(_note(FUNDER_A, "deal.created"))
    assert not announces_status(_note(FUNDER_A, "deal.updated"))
    assert not announces_status(_note(FUNDER_A, "deal.submitted", kind="Product"))


def test_another_funders_notification_is_dropped_only_for_a_principal_bound_to_one_funder() -> None:
    staff = Actor(user_id=uuid.uuid4(), client_id="c", tenant_id=FUNDER_A)
    assert may_be_visible(staff, _note(FUNDER_A))
    assert not may_be_visible(staff, _note(FUNDER_B))
    assert not may_be_visible(staff, _note(None))
    # Who else may see another funder's deal is told by the read alone.
    operator = Actor(
        user_id=uuid.uuid4(),
        client_id="c",
        tenant_id=None,
        scopes=frozenset({Scope.PLATFORM_ADMIN.value}),
    )
    partner = Actor(user_id=None, client_id="p", tenant_id=None, organization_id=uuid.uuid4())
    borrower = Actor(user_id=uuid.uuid4(), client_id="c", tenant_id=None, person_id=uuid.uuid4())
    staff_who_applies = Actor(
        user_id=uuid.uuid4(), client_id="c", tenant_id=FUNDER_A, person_id=uuid.uuid4()
    )
    for actor in (operator, partner, borrower, staff_who_applies):
        assert may_be_visible(actor, _note(FUNDER_B))
