"""Helpers for tests of integration calls and jobs: a job queue that records what it is sent,
a port whose behaviour a test scripts, and submitted deals."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.context import db_scope
from api.errors import run_use_case
from api.state import AppState
from domain.deals import service
from domain.integration_calls.ports import CallRequest
from domain.kernel.actor import Actor
from domain.kernel.clock import utcnow
from domain.persistence.after_commit import Job, JobQueue
from domain.persistence.scope import DbScope
from domain.persistence.unit_of_work import unit_of_work


class RecordingQueue:
    """A job queue that keeps every job it is sent, in order."""

    def __init__(self) -> None:
        self.sent: list[Job] = []

    def send(self, jobs: Sequence[Job]) -> None:
        self.sent.extend(jobs)


async def submit_with(
    state: AppState, actor: Actor, deal_id: uuid.UUID, jobs: JobQueue
) -> list[Any]:
    """submitDeal as the API runs it, in the shared unit of work sending to ``jobs``; the
    refusals, if any."""
    async with unit_of_work(state.sessions, db_scope(actor), jobs) as s:
        _, errors = await run_use_case(
            s, actor, lambda s, a: service.submit_deal(s, a, state.cipher, deal_id=deal_id)
        )
    return list(errors)


async def calls_of(owner: AsyncEngine, deal_id: uuid.UUID) -> list[dict[str, Any]]:
    """The deal's integration calls as stored, by kind."""
    async with owner.connect() as conn:
        rows = await conn.execute(
            text("select * from integration_calls where deal_id = :d order by kind"),
            {"d": deal_id},
        )
        return [dict(r._mapping) for r in rows]


class Clock:
    """Now, moved forward by the test."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


class ScriptedPort:
    """A port that answers from a script: each attempt takes the next step (an exception to
    raise, ``"hang"`` to wait until cancelled, or a result); the last step repeats."""

    def __init__(self, *steps: Any, timeout_seconds: float = 5.0) -> None:
        self.steps = list(steps) or [{"ok": True}]
        self.timeout_seconds = timeout_seconds
        self.requests: list[CallRequest] = []
        self.entered = asyncio.Event()

    async def prepare(self, session: AsyncSession, request: CallRequest) -> Mapping[str, Any]:
        line = await session.scalar(
            text("select product_line from deals where tenant_id = :t and id = :d"),
            {"t": request.tenant_id, "d": request.deal_id},
        )
        return {"line": line}

    async def call(self, request: CallRequest, inputs: Mapping[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        self.entered.set()
        if step == "hang":
            await asyncio.Event().wait()
        if isinstance(step, BaseException):
            raise step
        return {**step, "line": inputs["line"], "reference": str(request.idempotency_reference)}


def tenant_uow(state: AppState, tenant_id: uuid.UUID, jobs: JobQueue) -> Callable[[], Any]:
    """Units of work of the tenant's service principal, as the workers open them."""
    return lambda: unit_of_work(state.sessions, DbScope(tenant_id=tenant_id), jobs)
