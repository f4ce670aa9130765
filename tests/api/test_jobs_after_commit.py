"""Over HTTP, a submission's jobs leave the process only after the request's unit of work
has committed: one per integration call (IDs only) and the relay's doorbell; a refused
submission sends none."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.state import AppState
from domain.events.repository import RELAY_JOB
from domain.persistence.after_commit import Job
from tests.api.test_deals import _api, consumer_input, pledge_input
from tests.jobs_support import RecordingQueue


async def test_submit_deal_over_http_sends_its_jobs_after_commit(
    client: httpx.AsyncClient,
    app_state: AppState,
    owner_engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a = await _api(client, app_state)
    queue = RecordingQueue()
    monkeypatch.setattr(app_state, "jobs", queue)
    consumer = await a.create("young", **consumer_input(a))
    pledge = await a.create("owner", **pledge_input(a))
    assert queue.sent == [RELAY_JOB, RELAY_JOB]  # each creation's event
    queue.sent.clear()

    for who, deal in (("young", consumer), ("owner", pledge)):
        payload = await a.submit(who, deal["id"])
        assert payload["userErrors"] == [], payload
    async with owner_engine.connect() as conn:
        rows = (
            await conn.execute(
                text("select tenant_id, id, kind from integration_calls order by created_at")
            )
        ).all()
    assert sorted(r.kind for r in rows) == ["BUREAU", "BUREAU", "IDENTITY", "VALUATION"]
    calls = {
        Job("run_integration_call", "integrations", (str(r.tenant_id), str(r.id))) for r in rows
    }
    assert set(queue.sent) - {RELAY_JOB} == calls
    assert len(queue.sent) == 4 + 2  # each call once, one doorbell per request

    queue.sent.clear()
    refused = await a.submit("young", consumer["id"])  # already SUBMITTED
    assert [e["code"] for e in refused["userErrors"]] == ["INVALID_TRANSITION"]
    assert queue.sent == []
