"""Resources a worker process shares between its actors: one engine, built on first use, and
the unit of work every actor runs in (the same one as the API's: commit at the end, jobs sent
after commit)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.persistence.engine import create_engine, open_session, session_factory
from domain.persistence.scope import DbScope
from domain.persistence.unit_of_work import unit_of_work as uow
from lendgraph import runtime
from lendgraph.settings import get_settings

_cache: dict[str, async_sessionmaker[AsyncSession]] = {}


def sessions() -> async_sessionmaker[AsyncSession]:
    """The process's session factory on the application role's connection."""
    if "sessions" not in _cache:
        engine: AsyncEngine = create_engine(runtime.app_url(get_settings()), pool_size=2)
        _cache["sessions"] = session_factory(engine)
    return _cache["sessions"]


def session(scope: DbScope) -> AsyncSession:
    """A session bound to ``scope``; the actor commits it."""
    return open_session(sessions(), scope)


@asynccontextmanager
async def unit_of_work(scope: DbScope) -> AsyncIterator[AsyncSession]:
    """A unit of work bound to ``scope``: committed when the block ends (rolled back when it
    raises), then its jobs sent to the process's broker."""
    from workers.broker import jobs

    async with uow(sessions(), scope, jobs) as session:
        yield session
