"""What a read request costs in SQL statements, as PostgreSQL receives them (counted on the wire
by a proxy between the application's pool and the server, not by the code under test): every
request spends exactly three on its transaction (BEGIN, one statement that binds the scope and
checks the principal, COMMIT), and the statements that read the data are the same, in number
and in text, for pages of 1, 10 and 100 rows of every connection."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.engine import URL

from api.app import create_app
from api.state import AppState
from domain.persistence.engine import create_engine, session_factory
from lendgraph import runtime
from lendgraph.settings import Settings
from tests.conftest import ISSUER
from tests.pg_wire import CountingProxy
from tests.read_path_support import CONNECTIONS, CONSUMER_DEALS, read_world

pytestmark = pytest.mark.timeout(600)
SIZES = (1, 10, 100)


@dataclasses.dataclass
class Counted:
    proxy: CountingProxy
    client: httpx.AsyncClient


@pytest.fixture
async def counted(
    uncapped_settings: Settings, app_state: AppState, pg_server: URL
) -> AsyncIterator[Counted]:
    """The API on a pool of one connection that reaches PostgreSQL through the proxy."""
    proxy = CountingProxy(pg_server.host or "127.0.0.1", pg_server.port or 5432)
    await proxy.start()
    url = runtime.app_url(uncapped_settings).set(host="127.0.0.1", port=proxy.port)
    engine = create_engine(url, pool_size=1)
    state = dataclasses.replace(app_state, engine=engine, sessions=session_factory(engine))
    transport = httpx.ASGITransport(app=create_app(uncapped_settings, state=state))
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as client:
        yield Counted(proxy, client)
    await engine.dispose()
    await proxy.stop()


def _normal(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip().rstrip(";").upper()


@pytest.mark.parametrize("connection", list(CONNECTIONS))
async def test_statements_per_request_do_not_grow_with_the_page(
    connection: str,
    client: httpx.AsyncClient,
    app_state: AppState,
    counted: Counted,
) -> None:
    world = await read_world(client, app_state)
    _, _, _, fields = CONNECTIONS[connection]
    data_statements = {}
    for size in SIZES:
        # The first request of a size prepares its statements (and the connection's first
        # one its type codecs); the second is what every later request costs.
        await world.list(connection, size, client=counted.client, fields=fields)
        counted.proxy.reset()
        found = await world.list(connection, size, client=counted.client, fields=fields)
        seen = counted.proxy.reset()
        assert len(found["edges"]) >= 1
        if connection.startswith(("deals", "myDeals")):
            assert len(found["edges"]) == min(size, CONSUMER_DEALS)
        assert len(seen) >= 4, seen
        assert _normal(seen[0]).startswith("BEGIN"), seen
        assert "SET_CONFIG('APP.TENANT_ID'" in _normal(seen[1]), seen
        assert "APP_PRINCIPAL_ACTIVE(" in _normal(seen[1]), seen
        assert _normal(seen[-1]) == "COMMIT", seen
        data = seen[2:-1]
        for sql in data:
            words = _normal(sql)
            assert not words.startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT")), seen
            assert "SET_CONFIG(" not in words and "APP_PRINCIPAL_ACTIVE(" not in words, seen
        data_statements[size] = [_normal(sql) for sql in data]
    assert data_statements[10] == data_statements[1]
    assert data_statements[100] == data_statements[1]


#: Related fields of the nodes, selected directly and through inline fragments (with and
#: without a type condition), which a page loads for all its nodes at once.
FRAGMENTED = {
    "deals": (
        "id applicant { ... on Person { fullName } } timeline { action toStatus }",
        "... on Deal { id applicant { ... on Person { fullName } } }"
        " ... { timeline { action toStatus } }",
    ),
    "marketplace": (
        "id name funder { slug }",
        "... on Product { id ... { name funder { slug } } }",
    ),
}


@pytest.mark.parametrize("connection", list(FRAGMENTED))
async def test_related_fields_through_fragments_answer_and_cost_the_same(
    connection: str,
    client: httpx.AsyncClient,
    app_state: AppState,
    counted: Counted,
) -> None:
    world = await read_world(client, app_state)
    answers, statements = [], []
    # Each shape twice: the first request of a shape prepares its statements.
    for fields in (*FRAGMENTED[connection], *FRAGMENTED[connection]):
        counted.proxy.reset()
        answers.append(await world.list(connection, 10, client=counted.client, fields=fields))
        statements.append([_normal(sql) for sql in counted.proxy.reset()])
    assert answers[2] == answers[3] == answers[0]
    # A page of 10 of the 101 consumer deals; the market lists 6 products (fewer than 10).
    assert len(answers[2]["edges"]) == {"deals": 10, "marketplace": 6}[connection]
    assert statements[2] == statements[3]
    # BEGIN, bind-and-check, the page, one batch per related table (deals: persons and the
    # timeline; marketplace: tenants), COMMIT: 3 + 1 + 2 = 6 and 3 + 1 + 1 = 5.
    assert len(statements[2]) == {"deals": 6, "marketplace": 5}[connection], statements[2]
