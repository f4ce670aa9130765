"""GraphQL over WebSocket (``graphql-transport-ws``) against a real uvicorn server: the
socket authenticates on ``connection_init``, every operation runs in its own unit of work like
an HTTP request, the principal is re-checked while the socket is open, and no database
connection is held by an open or closed socket.

The server runs in a thread of its own (its own event loop, engine and pool of 5 + 5
connections, as in every test); tokens and the world are made in the test process through the
in-process app. The schema served adds a test-only subscription and two test-only mutations;
production has neither."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import httpx
import pytest
import strawberry
import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import WebSocketRoute
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import Info
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from api.app import build_state, create_app
from api.limits import extensions
from api.scalars import SCALAR_MAP
from api.schema import NODE_TYPES, Mutation, Query
from api.state import AppState
from lendgraph.settings import Settings
from tenants import service as tenant_service
from tenants.keys import SigningKeys
from tenants.models import TenantKind
from tests.api.test_tokens import mint, signing_key
from tests.conftest import APP_ROLE
from tests.support import access_token, client_token, global_id, gql, seed_world, without_cost

T = TypeVar("T")
PROTOCOL = "graphql-transport-ws"
#: Generous bound on waiting for something the server must do; never a measured time.
PATIENCE = 30.0
VIEWER = "{ viewer { subject } }"
CREATE_TENANT = """
mutation($slug: String!) {
  createTenant(input: {name: "Socket Bank", slug: $slug, kind: BANK}) {
    tenant { id slug } userErrors { code }
  }
}
"""
DISABLE_USER = (
    "mutation($id: UserOrClientID!) { disableUser(input: {id: $id}) { userErrors { code } } }"
)
DISABLE_CLIENT = """
mutation($id: UserOrClientID!) { disableOAuthClient(input: {id: $id}) { userErrors { code } } }
"""


# --- a schema with test-only operations ----------------------------------------------------


@strawberry.type(description="Test-only subscriptions.")
class ProbeSubscription:
    @strawberry.subscription(
        description="Per event, the tenant bound to, and the transaction ID of, the unit of "
        "work the event was read in; then waits for ever when asked to."
    )
    async def probe(
        self, info: Info, count: int = 3, then_wait: bool = False
    ) -> AsyncGenerator[str, None]:
        for _ in range(count):
            async with info.context.db() as session:
                row = (
                    await session.execute(
                        text("select current_setting('app.tenant_id', true), txid_current()")
                    )
                ).one()
            yield f"{row[0]}|{row[1]}"
        if then_wait:
            await asyncio.Event().wait()  # a subscription waiting for events that never come


@strawberry.type(description="Test-only mutations.")
class ProbeMutations:
    @strawberry.mutation(description="Creates a tenant, then waits for ever (until cancelled).")
    async def create_tenant_then_wait(self, info: Info, slug: str) -> bool:
        async with info.context.db() as session:
            await tenant_service.create_tenant(
                session,
                info.context.actor,
                name="Doomed",
                slug=slug,
                kind=TenantKind.BANK,
                time_zone="Asia/Shanghai",
                currency="CNY",
            )
            await asyncio.Event().wait()
        return True


def probe_schema(settings: Settings) -> strawberry.Schema:
    """The production schema plus the test-only operations above."""
    return strawberry.Schema(
        query=Query,
        mutation=merge_types("Mutation", (Mutation, ProbeMutations)),
        subscription=ProbeSubscription,
        types=list(NODE_TYPES.values()),
        extensions=extensions(settings),
        config=StrawberryConfig(batching_config=None, scalar_map=SCALAR_MAP),
    )


# --- a live server -------------------------------------------------------------------------


@dataclass
class LiveServer:
    """A uvicorn server on a loopback port, with the state it serves from."""

    port: int
    state: AppState

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def live_server(settings: Settings, keys: SigningKeys) -> Iterator[LiveServer]:
    state = build_state(settings, keys=keys)
    app = create_app(settings, state=state, schema=probe_schema(settings))
    # The connection_init timeout is fixed at 10 s in the view; a shorter one keeps the 4408
    # test quick and changes nothing else.
    for route in app.routes:
        if isinstance(route, WebSocketRoute):
            route.endpoint.connection_init_wait_timeout = timedelta(seconds=1)
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
    """A server with the default re-check interval."""
    with live_server(settings, signing_keys) as live:
        yield live


@pytest.fixture(scope="module")
def quiet_server(settings: Settings, signing_keys: SigningKeys) -> Iterator[LiveServer]:
    """A server whose periodic principal re-check is out of the way: what it holds is only
    what sockets and their operations hold."""
    quiet = settings.model_copy(update={"ws_principal_recheck_seconds": 3600.0})
    with live_server(quiet, signing_keys) as live:
        yield live


# --- protocol helpers ----------------------------------------------------------------------


@asynccontextmanager
async def socket_to(
    live: LiveServer, headers: dict[str, str] | None = None
) -> AsyncIterator[ClientConnection]:
    async with connect(
        live.ws_url, subprotocols=[PROTOCOL], additional_headers=headers, ping_interval=None
    ) as ws:  # type: ignore[list-item]
        yield ws


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.recv(), PATIENCE)
    return dict(json.loads(message))


async def init(ws: ClientConnection, payload: dict[str, Any] | None) -> None:
    message: dict[str, Any] = {"type": "connection_init"}
    if payload is not None:
        message["payload"] = payload
    await ws.send(json.dumps(message))


async def authenticated(ws: ClientConnection, token: str) -> None:
    await init(ws, {"Authorization": f"Bearer {token}"})
    assert await receive(ws) == {"type": "connection_ack"}


async def subscribe(
    ws: ClientConnection, op_id: str, query: str, variables: dict[str, Any] | None = None
) -> None:
    payload = {"query": query, "variables": variables or {}}
    await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))


async def run(
    ws: ClientConnection, query: str, variables: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every message of one operation up to its ``complete`` or ``error``."""
    op_id = uuid.uuid4().hex
    await subscribe(ws, op_id, query, variables)
    messages = []
    while True:
        message = await receive(ws)
        assert message.get("id") == op_id, message
        messages.append(message)
        if message["type"] in ("complete", "error"):
            return messages


async def close_code(ws: ClientConnection) -> int | None:
    """Reads until the server closes the socket (within PATIENCE); the close code."""

    async def drain() -> None:
        try:
            while True:
                await ws.recv()
        except ConnectionClosed:
            return

    await asyncio.wait_for(drain(), PATIENCE)
    return ws.close_code


async def eventually(observe: Callable[[], Awaitable[T]], holds: Callable[[T], bool]) -> T:
    """Observe until ``holds`` (within PATIENCE): for states another process reaches."""
    deadline = time.monotonic() + PATIENCE
    while True:
        seen = await observe()
        if holds(seen):
            return seen
        assert time.monotonic() < deadline, f"never held; last seen {seen!r}"
        await asyncio.sleep(0.05)


async def app_role_connections(owner_engine: AsyncEngine) -> dict[str, int]:
    """The application role's connections to this test database, by state."""
    async with owner_engine.connect() as conn:
        rows = await conn.execute(
            text(
                "select coalesce(state, ''), count(*) from pg_stat_activity"
                " where datname = current_database() and usename = :role group by 1"
            ),
            {"role": APP_ROLE},
        )
        return {state: count for state, count in rows.all()}


# --- operations run in a unit of work ------------------------------------------------------


async def test_query_over_socket_runs_as_the_token_principal(server, client, app_state) -> None:
    world = await seed_world(app_state)
    token = await access_token(client, world.a.admin_email)
    async with socket_to(server) as ws:
        await authenticated(ws, token)
        messages = await run(ws, VIEWER)
    assert [m["type"] for m in messages] == ["next", "complete"]
    expected = {"data": {"viewer": {"subject": str(world.a.admin_user_id)}}}
    assert without_cost(messages[0]["payload"]) == expected


async def test_mutation_over_socket_is_committed(server, client, app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    admin = await access_token(client, world.admin_email)
    async with socket_to(server) as ws:
        await authenticated(ws, admin)
        messages = await run(ws, CREATE_TENANT, {"slug": "socket-bank"})
        assert [m["type"] for m in messages] == ["next", "complete"]
        payload = messages[0]["payload"]["data"]["createTenant"]
        assert payload["userErrors"] == []
        # Visible to others while the socket is still open: the operation committed.
        async with owner_engine.connect() as conn:
            slugs = (await conn.execute(text("select slug from tenants"))).scalars().all()
        assert "socket-bank" in slugs
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        found = await gql(
            http, admin, "query($id: ID!) { node(id: $id) { id } }", {"id": payload["tenant"]["id"]}
        )
    assert found.json()["data"]["node"] == {"id": payload["tenant"]["id"]}


async def test_cancelled_mutation_over_socket_is_rolled_back(
    quiet_server, client, app_state, owner_engine
) -> None:
    world = await seed_world(app_state)
    admin = await access_token(client, world.admin_email)
    await app_state.engine.dispose()  # the rest are the live servers' connections
    async with socket_to(quiet_server) as ws:
        await authenticated(ws, admin)
        await subscribe(ws, "m", 'mutation { createTenantThenWait(slug: "doomed-bank") }')
        # The mutation has written, in a transaction still open.
        await eventually(
            lambda: app_role_connections(owner_engine),
            lambda counts: counts.get("idle in transaction", 0) == 1,
        )
        await ws.send(json.dumps({"id": "m", "type": "complete"}))
        await eventually(
            lambda: app_role_connections(owner_engine),
            lambda counts: counts.get("idle in transaction", 0) == 0,
        )
        # The socket goes on serving.
        again = await run(ws, VIEWER)
        assert again[0]["payload"]["data"]["viewer"]["subject"] == str(world.admin_user_id)
    async with owner_engine.connect() as conn:
        doomed = await conn.execute(text("select 1 from tenants where slug = 'doomed-bank'"))
        assert doomed.first() is None
    assert quiet_server.state.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_query_after_the_user_is_disabled_closes_the_socket(
    quiet_server, client, app_state
) -> None:
    # The periodic re-check is an hour away: the operation's own unit of work refuses.
    world = await seed_world(app_state)
    funder = await access_token(client, world.a.admin_email)
    admin = await access_token(client, world.admin_email)
    async with socket_to(quiet_server) as ws:
        await authenticated(ws, funder)
        assert (await run(ws, VIEWER))[0]["type"] == "next"
        disabled = await gql(
            client, admin, DISABLE_USER, {"id": global_id("User", world.a.admin_user_id)}
        )
        assert disabled.json()["data"]["disableUser"]["userErrors"] == []
        await subscribe(ws, "after", VIEWER)
        assert await close_code(ws) == 4403


# --- authentication on connection_init -----------------------------------------------------


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda t: {"Authorization": f"Bearer {t}"}, id="Authorization"),
        pytest.param(lambda t: {"authorization": f"bearer {t}"}, id="authorization"),
        pytest.param(lambda t: {"token": t}, id="token"),
    ],
)
async def test_token_forms_in_connection_init_are_accepted(server, client, app_state, form) -> None:
    world = await seed_world(app_state)
    token = await access_token(client, world.a.admin_email)
    async with socket_to(server) as ws:
        await init(ws, form(token))
        assert await receive(ws) == {"type": "connection_ack"}
        viewer = await run(ws, VIEWER)
    assert viewer[0]["payload"]["data"]["viewer"]["subject"] == str(world.a.admin_user_id)


async def test_socket_without_connection_init_is_closed_4408(server) -> None:
    async with socket_to(server) as ws:
        assert await close_code(ws) == 4408


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(None, id="no-payload"),
        pytest.param({}, id="empty-payload"),
        pytest.param({"Authorization": "Bearer not-a-jwt"}, id="garbage-bearer"),
        pytest.param({"token": "not-a-jwt"}, id="garbage-token"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="not-bearer"),
        pytest.param({"Authorization": "Bearer "}, id="empty-bearer"),
        pytest.param({"token": 42}, id="token-not-a-string"),
    ],
)
async def test_missing_or_garbage_token_is_closed_4401(server, app_state, payload) -> None:
    await seed_world(app_state)
    async with socket_to(server) as ws:
        await init(ws, payload)
        assert await close_code(ws) == 4401


async def test_expired_token_is_closed_4401(server, app_state, signing_keys) -> None:
    await seed_world(app_state)
    now = int(time.time())
    expired = mint(signing_key(signing_keys), iat=now - 600, exp=now - 10)
    async with socket_to(server) as ws:
        await init(ws, {"token": expired})
        assert await close_code(ws) == 4401


async def test_control_minted_token_is_accepted(server, app_state, signing_keys) -> None:
    # The control for the expired token above: the same mint, not expired, is acked.
    await seed_world(app_state)
    async with socket_to(server) as ws:
        await init(ws, {"token": mint(signing_key(signing_keys))})
        assert await receive(ws) == {"type": "connection_ack"}


async def test_token_of_a_disabled_user_is_closed_4403(server, client, app_state) -> None:
    world = await seed_world(app_state)
    funder = await access_token(client, world.a.admin_email)
    admin = await access_token(client, world.admin_email)
    disabled = await gql(
        client, admin, DISABLE_USER, {"id": global_id("User", world.a.admin_user_id)}
    )
    assert disabled.json()["data"]["disableUser"]["userErrors"] == []
    async with socket_to(server) as ws:
        await init(ws, {"Authorization": f"Bearer {funder}"})
        assert await close_code(ws) == 4403


async def test_valid_upgrade_header_authenticates_the_socket(server, client, app_state) -> None:
    world = await seed_world(app_state)
    token = await access_token(client, world.a.admin_email)
    async with socket_to(server, {"Authorization": f"Bearer {token}"}) as ws:
        await init(ws, None)
        assert await receive(ws) == {"type": "connection_ack"}
        viewer = await run(ws, VIEWER)
    assert viewer[0]["payload"]["data"]["viewer"]["subject"] == str(world.a.admin_user_id)


async def test_bad_upgrade_header_is_refused_before_the_handshake(server) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with socket_to(server, {"Authorization": "Bearer not-a-jwt"}):
            pass
    assert refused.value.response.status_code == 403


async def test_subscribe_before_connection_init_is_closed_4401(server) -> None:
    async with socket_to(server) as ws:
        await subscribe(ws, "early", VIEWER)
        assert await close_code(ws) == 4401


async def test_second_connection_init_is_closed_4429(server, client, app_state) -> None:
    world = await seed_world(app_state)
    token = await access_token(client, world.a.admin_email)
    async with socket_to(server) as ws:
        await authenticated(ws, token)
        await init(ws, {"token": token})
        assert await close_code(ws) == 4429


async def test_only_graphql_transport_ws_is_served(server) -> None:
    async with connect(
        server.ws_url,
        subprotocols=["graphql-ws"],  # type: ignore[list-item]
        ping_interval=None,
    ) as ws:
        assert await close_code(ws) == 4406


# --- re-checked while open -----------------------------------------------------------------


@pytest.mark.parametrize("what", ["user", "client", "tenant"])
async def test_socket_closes_4403_when_its_principal_is_disabled(
    server, client, app_state, owner_engine, what
) -> None:
    world = await seed_world(app_state)
    admin = await access_token(client, world.admin_email)
    if what == "client":
        token = (await client_token(client, world.partner_client)).json()["access_token"]
    else:
        token = await access_token(client, world.a.admin_email)
    async with socket_to(server) as ws:
        await authenticated(ws, token)
        assert (await run(ws, VIEWER))[0]["type"] == "next"
        if what == "user":
            result = await gql(
                client, admin, DISABLE_USER, {"id": global_id("User", world.a.admin_user_id)}
            )
            assert result.json()["data"]["disableUser"]["userErrors"] == []
        elif what == "client":
            result = await gql(
                client,
                admin,
                DISABLE_CLIENT,
                {"id": global_id("OAuthClient", world.partner_client_pk)},
            )
            assert result.json()["data"]["disableOAuthClient"]["userErrors"] == []
        else:
            async with owner_engine.begin() as conn:
                await conn.execute(
                    text("update tenants set status = 'DISABLED' where id = :id"),
                    {"id": world.a.id},
                )
        # Nothing more is sent: the server notices on its own and closes.
        assert await close_code(ws) == 4403


async def test_socket_of_another_user_stays_open(server, client, app_state) -> None:
    # The control for the test above: disabling tenant A's admin closes A's socket only.
    world = await seed_world(app_state)
    admin = await access_token(client, world.admin_email)
    a_token = await access_token(client, world.a.admin_email)
    b_token = await access_token(client, world.b.admin_email)
    async with socket_to(server) as a_socket, socket_to(server) as b_socket:
        await authenticated(a_socket, a_token)
        await authenticated(b_socket, b_token)
        result = await gql(
            client, admin, DISABLE_USER, {"id": global_id("User", world.a.admin_user_id)}
        )
        assert result.json()["data"]["disableUser"]["userErrors"] == []
        assert await close_code(a_socket) == 4403
        # B's socket is open, and its operations (each checking B afresh) are served.
        messages = await run(b_socket, "subscription { probe(count: 2) }")
        assert [m["type"] for m in messages] == ["next", "next", "complete"]
        viewer = await run(b_socket, VIEWER)
        assert viewer[0]["payload"]["data"]["viewer"]["subject"] == str(world.b.admin_user_id)


async def test_socket_closes_4401_when_its_token_expires(server, app_state, signing_keys) -> None:
    await seed_world(app_state)
    expires = int(time.time()) + 3
    token = mint(signing_key(signing_keys), exp=expires)
    async with socket_to(server) as ws:
        await authenticated(ws, token)
        assert await close_code(ws) == 4401
    # Closed because of the expiry, not before it.
    assert time.time() >= expires


# --- subscriptions and connections ---------------------------------------------------------


async def test_subscription_reads_each_event_in_its_own_unit_of_work(
    quiet_server, client, app_state
) -> None:
    world = await seed_world(app_state)
    token = await access_token(client, world.a.admin_email)
    async with socket_to(quiet_server) as ws:
        await authenticated(ws, token)
        await subscribe(ws, "probe", "subscription { probe(count: 3, thenWait: true) }")
        events = [(await receive(ws))["payload"]["data"]["probe"] for _ in range(3)]
        # Each read bound the principal's tenant, in a transaction of its own.
        tenants = {e.split("|")[0] for e in events}
        transactions = {e.split("|")[1] for e in events}
        assert tenants == {str(world.a.id)}
        assert len(transactions) == 3
        # Waiting for the next event, the subscription holds no connection.
        assert quiet_server.state.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_hundred_sockets_hold_no_database_connection(
    quiet_server, client, app_state, owner_engine
) -> None:
    world = await seed_world(app_state)
    token = await access_token(client, world.a.admin_email)
    admin = await access_token(client, world.admin_email)
    # The in-process app lets its pooled connections go: the rest are the live servers'.
    await app_state.engine.dispose()

    async def open_one(stack: list[ClientConnection]) -> None:
        ws = await connect(
            quiet_server.ws_url,
            subprotocols=[PROTOCOL],  # type: ignore[list-item]
            ping_interval=None,
        )
        stack.append(ws)
        await authenticated(ws, token)
        viewer = await run(ws, VIEWER)
        assert viewer[0]["payload"]["data"]["viewer"]["subject"] == str(world.a.admin_user_id)
        await subscribe(ws, "wait", "subscription { probe(count: 1, thenWait: true) }")
        assert (await receive(ws))["type"] == "next"

    sockets: list[ClientConnection] = []
    try:
        await asyncio.gather(*(open_one(sockets) for _ in range(100)))
        assert len(sockets) == 100
        # All 100 are open, one subscription each waiting for events.
        open_counts = await app_role_connections(owner_engine)
        assert open_counts.get("idle in transaction", 0) == 0, open_counts
        assert open_counts.get("active", 0) == 0, open_counts
        assert quiet_server.state.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        # HTTP is served meanwhile, writes included.
        async with httpx.AsyncClient(base_url=quiet_server.http_url, timeout=PATIENCE) as http:
            for _ in range(5):
                response = await gql(http, token, VIEWER)
                assert response.status_code == 200, response.text
                assert response.json()["data"]["viewer"]["subject"] == str(world.a.admin_user_id)
            created = await gql(http, admin, CREATE_TENANT, {"slug": "while-open"})
            assert created.json()["data"]["createTenant"]["userErrors"] == []
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))
    closed_counts = await app_role_connections(owner_engine)
    assert closed_counts.get("idle in transaction", 0) == 0, closed_counts
    assert closed_counts.get("active", 0) == 0, closed_counts
    assert quiet_server.state.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
