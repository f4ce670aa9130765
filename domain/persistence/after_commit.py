"""Work a unit of work hands on only once its transaction has committed: background jobs,
enqueued by actor name with IDs only (DESIGN.md section 7).

A use case calls :func:`enqueue_after_commit` next to the rows it writes; the job is kept in
the session, tied to the (nested) transaction it was asked for in. A rollback of that
transaction or of any enclosing one (a refused use case's savepoint included) drops it; the
outermost commit makes it ready; the owner of the unit of work then hands the ready jobs to
the process's :class:`JobQueue` (:func:`send_committed`). A job that cannot be sent is only
late: whatever it is for is also a row that a sweeper finds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger("lendgraph.jobs")

_PENDING = "lendgraph.after_commit.pending"
_READY = "lendgraph.after_commit.ready"


@dataclass(frozen=True, slots=True)
class Job:
    """A message for the broker: an actor by name, on its queue, with IDs only."""

    actor: str
    queue: str
    args: tuple[str, ...] = ()
    #: Deliver no sooner than this many milliseconds after sending.
    delay_ms: int | None = None


class JobQueue(Protocol):
    """Where a process sends jobs (a broker, or nowhere)."""

    def send(self, jobs: Sequence[Job]) -> None:
        """Enqueue ``jobs``; blocking, called off the event loop."""
        ...


class NoJobQueue:
    """Sends nothing: for processes with no broker (the rows wait for the sweeper)."""

    def send(self, jobs: Sequence[Job]) -> None:
        """Drop ``jobs``."""
        log.debug("jobs_dropped", extra={"count": len(jobs)})


def _sync(session: AsyncSession | Session) -> Session:
    return session.sync_session if isinstance(session, AsyncSession) else session


def enqueue_after_commit(session: AsyncSession | Session, job: Job) -> None:
    """Send ``job`` once the session's transaction commits; never if it rolls back. The same
    job asked for twice in one transaction is sent once."""
    sync = _sync(session)
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    if transaction is None:
        raise RuntimeError("enqueue_after_commit needs a transaction in progress")
    pending: list[tuple[SessionTransaction, Job]] = sync.info.setdefault(_PENDING, [])
    if any(queued == job for _, queued in pending):
        return
    pending.append((transaction, job))


def take_committed(session: AsyncSession | Session) -> list[Job]:
    """The jobs of the transactions committed so far, removed from the session."""
    ready: list[Job] = _sync(session).info.pop(_READY, [])
    return ready


async def send_committed(session: AsyncSession | Session, jobs: JobQueue) -> None:
    """Hand the committed transactions' jobs to ``jobs``, off the event loop. A failure is
    logged, not raised: the commit stands, and the sweeper re-sends what is overdue."""
    ready = take_committed(session)
    if not ready:
        return
    try:
        await asyncio.to_thread(jobs.send, ready)
    except Exception:
        log.exception("jobs_not_sent", extra={"jobs": [job.actor for job in ready]})


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending: list[tuple[SessionTransaction, Job]] | None = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [
            (tx, job) for tx, job in pending if not _within(tx, previous_transaction)
        ]


@event.listens_for(Session, "after_commit")
def _ready_on_commit(session: Session) -> None:
    # Fired for released savepoints too (still the current transaction then): those keep
    # their jobs pending, tied to the savepoint, until the outermost commit.
    if session.in_nested_transaction():
        return
    pending: list[tuple[SessionTransaction, Any]] = session.info.pop(_PENDING, [])
    if pending:
        session.info.setdefault(_READY, []).extend(job for _, job in pending)
