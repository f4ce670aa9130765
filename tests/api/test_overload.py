"""Overload is answered, not queued: past the bound on requests in flight, or when no database
connection comes within the pool's timeout (before execution, or in a resolver), a request is
answered 503 with Retry-After and a GraphQL error body, and nothing it did is kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest
import strawberry
from prometheus_client import REGISTRY
from sqlalchemy import text
from strawberry.types import Info
from structlog.testing import capture_logs

from api.app import build_state, create_app
from api.error_logging import LoggedSchema
from api.overload import InFlightLimit
from api.schema import build_schema
from tests.conftest import ISSUER
from tests.support import access_token, gql, seed_world, without_cost

OVERLOADED_BODY_CODE = "OVERLOADED"


def _assert_overloaded(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"].startswith("application/json")
    errors = response.json()["errors"]
    assert len(errors) == 1
    assert errors[0]["extensions"] == {"code": OVERLOADED_BODY_CODE}
    assert errors[0]["message"]


async def test_past_the_bound_in_flight_a_request_is_answered_503_at_once() -> None:
    release, both_in = asyncio.Event(), asyncio.Event()
    entered: list[str] = []

    async def slow_app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        entered.append(scope["path"])
        if scope["path"] == "/graphql":
            if len(entered) == 2:
                both_in.set()
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    limited = InFlightLimit(slow_app, limit=2)
    transport = httpx.ASGITransport(app=limited)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as c:
        held = [asyncio.create_task(c.post("/graphql")) for _ in range(2)]
        await both_in.wait()
        refused = await c.post("/graphql")
        _assert_overloaded(refused)
        assert entered == ["/graphql", "/graphql"]  # the third never reached the app
        # Probes and scrapes are outside the bound.
        for path in ("/healthz", "/readyz", "/metrics"):
            assert (await c.get(path)).status_code == 200
        release.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]
        # The count went back down: the next request is served.
        assert (await c.post("/graphql")).status_code == 200


@pytest.fixture
async def tight(settings, signing_keys) -> AsyncIterator:  # type: ignore[no-untyped-def]
    """The app on a pool of one connection (plus one overflow) with a short wait."""
    tight_settings = settings.model_copy(
        update={"db_pool_size": 1, "db_pool_timeout_seconds": 0.2, "max_requests_in_flight": 50}
    )
    state = build_state(tight_settings, keys=signing_keys)
    yield tight_settings, state
    await state.engine.dispose()


async def _hold_pool(stack: AsyncExitStack, state) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2):  # pool size 1 + overflow 1
        conn = await stack.enter_async_context(state.engine.connect())
        await conn.execute(text("select 1"))


async def test_no_connection_in_time_before_execution_is_503(tight, app_state) -> None:
    tight_settings, state = tight
    world = await seed_world(app_state)
    app = create_app(tight_settings, state=state)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as c:
        token = await access_token(c, world.a.admin_email)
        async with AsyncExitStack() as stack:
            await _hold_pool(stack, state)
            _assert_overloaded(await gql(c, token, "{ viewer { kind } }"))
            # The token endpoint, which reads users and clients, too.
            refused = await c.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=world.partner_client,
            )
            _assert_overloaded(refused)
        # Connections back: the same request is served.
        answered = await gql(c, token, "{ viewer { kind } }")
        assert answered.status_code == 200
        assert without_cost(answered.json()) == {"data": {"viewer": {"kind": "USER"}}}


@strawberry.type
class ProbeQuery:
    @strawberry.field
    async def reads(self, info: Info) -> int:
        async with info.context.db() as session:
            return int((await session.execute(text("select 7"))).scalar_one())

    @strawberry.field
    def constant(self) -> int:
        return 1


async def test_no_connection_in_time_in_a_resolver_is_503_and_logged_as_such(tight, caplog) -> None:
    """An anonymous query opens no connection before execution: its first read, in a
    resolver, is where it waits. That wait's timeout is still a 503, not an unexpected error
    (masked, 200, logged with a traceback)."""
    tight_settings, state = tight
    # The production schema's extensions around a probe field that reads the database.
    schema = LoggedSchema(query=ProbeQuery, extensions=build_schema(tight_settings).extensions)
    app = create_app(tight_settings, state=state, schema=schema)
    errors_before = (
        REGISTRY.get_sample_value("lendgraph_graphql_errors_total", {"code": "OVERLOADED"}) or 0.0
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as c:
        async with AsyncExitStack() as stack:
            await _hold_pool(stack, state)
            with capture_logs() as logs:
                _assert_overloaded(await gql(c, None, "query Probe { constant reads }"))
        answered = await gql(c, None, "query Probe { constant reads }")
    assert without_cost(answered.json()) == {"data": {"constant": 1, "reads": 7}}
    errors_after = REGISTRY.get_sample_value(
        "lendgraph_graphql_errors_total", {"code": "OVERLOADED"}
    )
    assert errors_after == errors_before + 1
    # One line, a warning with the code and no traceback; no error.
    logged = [e for e in logs if e["event"] == "graphql_error"]
    assert [(e["log_level"], e["code"], e.get("exc_info")) for e in logged] == [
        ("warning", "OVERLOADED", None)
    ]
    assert not [e for e in logs if e["log_level"] in ("error", "critical")]
    assert (
        REGISTRY.get_sample_value(
            "lendgraph_graphql_operations_total",
            {"operation": "Probe", "type": "query", "outcome": "overloaded"},
        )
        >= 1
    )  # type: ignore[operator]
