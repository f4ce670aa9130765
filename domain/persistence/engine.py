"""Engines and session factories."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from domain.persistence.scope import DbScope, PrincipalCheck, set_scope


def async_url(url: str | URL) -> URL:
    """The asyncpg form of a PostgreSQL URL (``postgresql://`` is accepted)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed


def app_role_url(owner_url: str | URL, role: str, password: str | None) -> URL:
    """The application's connection: the owner's server and database, another role."""
    return async_url(owner_url).set(username=role, password=password)


def create_engine(
    url: str | URL, *, pool_size: int = 10, pool_timeout: float = 30.0
) -> AsyncEngine:
    """An async engine on asyncpg with a bounded pool; a checkout waits at most
    ``pool_timeout`` seconds for a connection, then raises ``sqlalchemy.exc.TimeoutError``."""
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=pool_timeout,
        pool_pre_ping=False,  # a ping per checkout is a round trip per request
        # A failed statement's message (logged, and raised to whoever handles it) names the
        # SQL only: its parameters may be personal data (a resident ID's ciphertext, a name).
        hide_parameters=True,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def open_session(
    factory: async_sessionmaker[AsyncSession],
    scope: DbScope,
    check: PrincipalCheck | None = None,
) -> AsyncSession:
    """A session whose every transaction binds ``scope`` for row-level security (and, given
    ``check``, checks the principal in the same statement)."""
    session = factory()
    set_scope(session, scope, check)
    return session
