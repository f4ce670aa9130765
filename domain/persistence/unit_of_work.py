"""The unit of work every edge uses (HTTP and WebSocket operations, actors, commands): one
session bound to a scope, committed when the block ends, rolled back when it raises, closed
either way, and then the jobs its committed transactions asked for handed to the broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.persistence.after_commit import JobQueue, send_committed
from domain.persistence.engine import open_session
from domain.persistence.scope import DbScope, PrincipalCheck


@asynccontextmanager
async def unit_of_work(
    factory: async_sessionmaker[AsyncSession],
    scope: DbScope,
    jobs: JobQueue,
    *,
    check: PrincipalCheck | None = None,
    before: Callable[[AsyncSession], Awaitable[None]] | None = None,
) -> AsyncIterator[AsyncSession]:
    """A session whose every transaction binds ``scope`` (and, given ``check``, checks the
    principal in the same statement). ``before`` runs first, in the same
    transaction (the API's active-principal check). Jobs are sent after the session is
    closed, and only those of committed transactions: a rollback sends nothing."""
    session = open_session(factory, scope, check)
    try:
        if before is not None:
            await before(session)
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()
        # Even when the block raised after committing once: what committed stands.
        await send_committed(session, jobs)
