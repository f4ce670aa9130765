"""Use cases of integration calls: request them with a deal's submission, run one attempt,
find the overdue ones.

An attempt spans three short units of work and no open transaction while the provider
answers: the claim (the row locked with ``FOR UPDATE SKIP LOCKED``, its attempt counted and
its lease taken: ``next_attempt_at`` moves to the end of the port's timeout), the port's
``prepare`` (reads), then the record of the outcome, accepted only while the attempt is still
the call's current one. A worker killed at any line leaves either a PENDING row or a RUNNING
one whose lease runs out; either is taken again by the next delivery or by the sweeper, and a
finished call is never attempted again, so a call completes once however often its message
is delivered."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.integration_calls import policy, repository
from domain.integration_calls.models import CallState, IntegrationKind
from domain.integration_calls.policy import ClaimDecision
from domain.integration_calls.ports import CallRequest, PermanentFailure, PortRegistry
from domain.kernel.clock import utcnow
from domain.persistence.after_commit import Job, enqueue_after_commit
from domain.products.models import ProductLine

#: The actor that runs one attempt of a call, and its queue (declared in ``workers``).
RUN_ACTOR = "run_integration_call"
RUN_QUEUE = "integrations"


#: The actor told when every call of a deal is final (the deal's assessment).
SETTLED_ACTOR = "assess_deal"


def run_job(tenant_id: uuid.UUID, call_id: uuid.UUID, *, delay_ms: int | None = None) -> Job:
    """The message that makes a worker attempt a call: IDs only."""
    return Job(RUN_ACTOR, RUN_QUEUE, (str(tenant_id), str(call_id)), delay_ms)


def settled_job(tenant_id: uuid.UUID, deal_id: uuid.UUID) -> Job:
    """The message that tells a worker a deal's calls are final: IDs only."""
    return Job(SETTLED_ACTOR, RUN_QUEUE, (str(tenant_id), str(deal_id)))


async def notify_if_settled(
    session: AsyncSession, *, tenant_id: uuid.UUID, deal_id: uuid.UUID
) -> bool:
    """In a transaction that has just finished one of the deal's calls: when none is left
    unfinished, send :func:`settled_job` after commit. The deal's lock makes concurrent
    finishing transactions take turns, so the last of them sees every outcome (and two that
    both see it send two messages, which the receiver treats as one); whether it was sent."""
    await repository.serialize_deal(session, tenant_id, deal_id)
    if await repository.unfinished_calls(session, tenant_id=tenant_id, deal_id=deal_id):
        return False
    enqueue_after_commit(session, settled_job(tenant_id, deal_id))
    return True


async def request_for_deal(
    session: AsyncSession, *, tenant_id: uuid.UUID, deal_id: uuid.UUID, line: ProductLine
) -> list[uuid.UUID]:
    """Request the calls a deal needs on its first submission (``policy.kinds_for``), in the
    caller's transaction, and have each attempted once that transaction commits. The IDs of
    the new calls."""
    created: list[uuid.UUID] = []
    for kind in policy.kinds_for(line):
        call_id = uuid.uuid4()
        await repository.insert_pending(
            session,
            tenant_id=tenant_id,
            deal_id=deal_id,
            call_id=call_id,
            kind=kind,
            max_attempts=policy.MAX_ATTEMPTS,
        )
        created.append(call_id)
        enqueue_after_commit(session, run_job(tenant_id, call_id))
    return created


class Outcome(StrEnum):
    """What one delivery of a call's message did."""

    SUCCEEDED = "SUCCEEDED"
    #: The attempt failed and another is due after ``retry_in_ms``.
    RETRY = "RETRY"
    FAILED = "FAILED"
    #: Nothing: the call had finished already (a repeated delivery).
    FINISHED = "FINISHED"
    #: Nothing yet: the call is due after ``retry_in_ms`` (another attempt's lease, a backoff).
    NOT_DUE = "NOT_DUE"
    #: Nothing: no such call in this tenant, or another delivery is claiming it right now.
    SKIPPED = "SKIPPED"
    #: Nothing: no port answers this kind in this process; the row waits for the sweeper
    #: (``policy.NO_PORT_RECHECK`` later).
    NO_PORT = "NO_PORT"
    #: The attempt outlived its lease and a later one took over; its outcome was dropped.
    SUPERSEDED = "SUPERSEDED"


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of one delivery, and when the call wants its next delivery."""

    outcome: Outcome
    retry_in_ms: int | None = None
    attempt: int | None = None


UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def _ms(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() * 1000) + 1)


async def run_call(
    unit_of_work: UnitOfWork,
    ports: PortRegistry,
    *,
    tenant_id: uuid.UUID,
    call_id: uuid.UUID,
    backoff_ms: Callable[[int], int],
    clock: Callable[[], datetime] = utcnow,
) -> RunResult:
    """One delivery of a call's message: claim, call the port, record (see the module
    docstring). ``unit_of_work`` opens a unit of work in the tenant's service scope;
    ``backoff_ms(attempt)`` is the wait after failed attempt number ``attempt``."""
    async with unit_of_work() as session:
        call = await repository.lock_call(session, tenant_id=tenant_id, call_id=call_id)
        if call is None:
            return RunResult(Outcome.SKIPPED)
        now = clock()
        decision = policy.claim_decision(
            call.state, call.attempts, call.max_attempts, call.next_attempt_at, now
        )
        if decision is ClaimDecision.FINISHED:
            return RunResult(Outcome.FINISHED)
        if decision is ClaimDecision.NOT_DUE:
            return RunResult(Outcome.NOT_DUE, _ms(call.next_attempt_at - now))
        if decision is ClaimDecision.EXHAUSTED:
            call.state = CallState.FAILED
            call.last_error = f"attempt {call.attempts} of {call.max_attempts} never reported"
            call.finished_at = call.updated_at = now
            await session.flush()
            await notify_if_settled(session, tenant_id=tenant_id, deal_id=call.deal_id)
            return RunResult(Outcome.FAILED, attempt=call.attempts)
        port = ports.get(call.kind)
        if port is None:
            call.next_attempt_at = now + policy.NO_PORT_RECHECK
            call.updated_at = now
            return RunResult(Outcome.NO_PORT)
        call.attempts += 1
        call.state = CallState.RUNNING
        call.next_attempt_at = now + timedelta(seconds=port.timeout_seconds)
        call.updated_at = now
        request = CallRequest(
            tenant_id=tenant_id,
            deal_id=call.deal_id,
            call_id=call_id,
            kind=IntegrationKind(call.kind),
            idempotency_reference=call.idempotency_reference,
            attempt=call.attempts,
        )
        max_attempts = call.max_attempts

    result: dict[str, Any] | None = None
    error: Exception | None = None
    try:
        async with unit_of_work() as session:
            inputs = await port.prepare(session, request)
        async with asyncio.timeout(port.timeout_seconds):
            result = await port.call(request, inputs)
    except Exception as exc:  # any failure of the provider or of its adapter is the call's
        error = exc

    now = clock()
    attempt = request.attempt
    async with unit_of_work() as session:
        if error is None:
            recorded = await repository.finish_attempt(
                session,
                tenant_id=tenant_id,
                call_id=call_id,
                attempt=attempt,
                now=now,
                state=CallState.SUCCEEDED,
                result=result,
            )
            outcome = RunResult(Outcome.SUCCEEDED, attempt=attempt)
        else:
            state = policy.state_after_failure(
                attempt, max_attempts, permanent=isinstance(error, PermanentFailure)
            )
            wait = backoff_ms(attempt) if state is CallState.PENDING else None
            recorded = await repository.finish_attempt(
                session,
                tenant_id=tenant_id,
                call_id=call_id,
                attempt=attempt,
                now=now,
                state=state,
                next_attempt_at=None if wait is None else now + timedelta(milliseconds=wait),
                error=policy.error_text(error),
            )
            outcome = (
                RunResult(Outcome.RETRY, wait, attempt)
                if wait is not None
                else RunResult(Outcome.FAILED, attempt=attempt)
            )
        if recorded and outcome.outcome in (Outcome.SUCCEEDED, Outcome.FAILED):
            await notify_if_settled(session, tenant_id=tenant_id, deal_id=request.deal_id)
    return outcome if recorded else RunResult(Outcome.SUPERSEDED, attempt=attempt)


async def overdue_calls(
    session: AsyncSession, *, grace: timedelta, limit: int = 500
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Unfinished calls due more than ``grace`` ago (their message was lost, or their worker
    died): ``(tenant_id, call_id)``. Platform scope."""
    return await repository.due_calls(session, overdue_before=utcnow() - grace, limit=limit)


def resend(session: AsyncSession, calls: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """Have each of ``calls`` attempted again once the session commits."""
    for tenant_id, call_id in calls:
        enqueue_after_commit(session, run_job(tenant_id, call_id))
