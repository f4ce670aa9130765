"""Live deal status across processes: two ``lendgraph serve`` processes on one database, a
subscriber on the second, a deal submitted through the first; the second process's listener
hears the commit and its subscriber gets the change within a second.

Both processes share the data folder (its signing keys) and the issuer, so that a token from
the first is accepted by the second, as behind a load balancer. The subscription has no
acknowledgement in ``graphql-transport-ws``: the test first pings it with events it must hear
(rows written below row-level security, each with its own time as a marker) until one arrives,
so that the change is made once the subscriber is known to listen."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import ClientConnection, connect

from tests.deals_support import apply, market, order_deal
from tests.processes import answering, free_port
from tests.support import access_token, global_id, gql

pytestmark = pytest.mark.slow

LENDGRAPH = str(Path(sys.executable).parent / "lendgraph")
PROTOCOL = "graphql-transport-ws"
#: Generous bound on waiting for something a process must do; never a measured time.
PATIENCE = 30.0
#: How soon the change must reach the other process's subscriber.
WITHIN = 1.0
SUBSCRIPTION = """
subscription($dealId: DealID) {
  dealStatusChanged(dealId: $dealId) { eventType status occurredAt deal { id status } }
}"""
SUBMIT = """
mutation($input: SubmitDealInput!) {
  submitDeal(input: $input) { deal { id status } userErrors { code message } }
}"""
#: The first ping's time (a marker, far from any real event's).
PING_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)


@pytest.fixture
def two_servers(owner_url: URL, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two ``lendgraph serve`` processes on this test process's database: (first, second)."""
    ports = (free_port(), free_port())
    bases = tuple(f"http://127.0.0.1:{p}" for p in ports)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LENDGRAPH_", "PROMETHEUS"))}
    env.pop("APP_DATABASE_URL", None)
    env.update(
        LENDGRAPH_ENV="test",
        DATABASE_URL=owner_url.set(drivername="postgresql").render_as_string(hide_password=False),
        LENDGRAPH_DATA_DIR=str(tmp_path / "data"),
        LENDGRAPH_ISSUER=bases[0],
        LENDGRAPH_DB_POOL_SIZE="3",
        LENDGRAPH_LOG_LEVEL="WARNING",
    )
    logs = (tmp_path / "first.log", tmp_path / "second.log")
    # One after the other: the first writes the data folder's keys, the second reads them.
    with (
        answering(
            [LENDGRAPH, "serve"],
            {**env, "LENDGRAPH_PORT": str(ports[0])},
            logs[0],
            f"{bases[0]}/healthz",
            wait=120,
        ),
        answering(
            [LENDGRAPH, "serve"],
            {**env, "LENDGRAPH_PORT": str(ports[1])},
            logs[1],
            f"{bases[1]}/healthz",
            wait=120,
        ),
    ):
        yield bases[0], bases[1]
    for log in logs:
        assert "Traceback" not in log.read_text(), log.read_text()


async def receive(ws: ClientConnection, within: float = PATIENCE) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), within)))


async def ping(owner: AsyncEngine, tenant_id: Any, deal_id: Any, n: int) -> datetime:
    """Commit a status event of the deal, marked by its time; the time."""
    at = PING_EPOCH + timedelta(seconds=n)
    async with owner.begin() as conn:
        await conn.execute(
            text(
                "insert into events (tenant_id, occurred_at, type, aggregate_type,"
                " aggregate_id, payload)"
                " values (:t, :at, 'deal.submitted', 'Deal', :d, '{\"status\": \"DRAFT\"}')"
            ),
            {"t": tenant_id, "at": at, "d": str(deal_id)},
        )
    return at


def occurred(message: dict[str, Any]) -> datetime:
    assert message["type"] == "next" and "errors" not in message["payload"], message
    return datetime.fromisoformat(message["payload"]["data"]["dealStatusChanged"]["occurredAt"])


async def until_listening(
    ws: ClientConnection, owner: AsyncEngine, tenant_id: Any, deal_id: Any
) -> None:
    """Ping until the subscriber gets a ping; every ping it heard before that one has come
    too (one subscription's messages keep the commit order)."""
    deadline = time.monotonic() + PATIENCE
    n = 0
    while True:
        assert time.monotonic() < deadline, "the subscriber never heard a ping"
        marker = await ping(owner, tenant_id, deal_id, n)
        try:
            while occurred(await receive(ws, within=0.5)) != marker:
                pass  # an earlier ping, heard late
            return
        except TimeoutError:
            n += 1  # not listening yet (the subscribe message is still being handled)


async def test_a_change_through_one_process_reaches_a_subscriber_of_the_other(
    two_servers, app_state, owner_engine
) -> None:
    first, second = two_servers
    m = await market(app_state)
    seller = m.chain.seller_user
    deal = (await apply(app_state, seller.actor(), **order_deal(m, "a"))).deal.id
    gid = global_id("Deal", deal)
    async with httpx.AsyncClient(base_url=first, timeout=PATIENCE) as http:
        funder = await access_token(http, m.world.a.admin_email, tenant=m.world.a.slug)
        applicant = await access_token(http, seller.email)
        async with connect(
            second.replace("http://", "ws://") + "/graphql",
            subprotocols=[PROTOCOL],  # type: ignore[list-item]
            ping_interval=None,
        ) as ws:
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {funder}"}}
            await ws.send(json.dumps(init))
            assert await receive(ws) == {"type": "connection_ack"}
            payload = {"query": SUBSCRIPTION, "variables": {"dealId": gid}}
            await ws.send(json.dumps({"id": "live", "type": "subscribe", "payload": payload}))
            await until_listening(ws, owner_engine, m.world.a.id, deal)

            response = await gql(http, applicant, SUBMIT, {"input": {"id": gid}})
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["data"]["submitDeal"]["userErrors"] == [], body
            # Committed by the first process before it answered: the second's subscriber has
            # it within a second of the answer.
            message = await receive(ws, within=WITHIN)
    assert message["id"] == "live"
    change = message["payload"]["data"]["dealStatusChanged"]
    assert change["eventType"] == "deal.submitted"
    assert change["status"] == "SUBMITTED"
    assert change["deal"] == {"id": gid, "status": "SUBMITTED"}
    assert occurred(message) > PING_EPOCH + timedelta(days=1)
