"""Resources a worker process shares between its actors: one engine, built on first use."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.persistence.engine import create_engine, open_session, session_factory
from domain.persistence.scope import DbScope
from lendgraph import runtime
from lendgraph.settings import get_settings

_cache: dict[str, async_sessionmaker[AsyncSession]] = {}


def session(scope: DbScope) -> AsyncSession:
    """A session bound to ``scope``; the actor commits it."""
    if "sessions" not in _cache:
        engine: AsyncEngine = create_engine(runtime.app_url(get_settings()), pool_size=2)
        _cache["sessions"] = session_factory(engine)
    return open_session(_cache["sessions"], scope)
