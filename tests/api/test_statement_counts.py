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
