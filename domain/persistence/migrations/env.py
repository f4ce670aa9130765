"""Alembic environment: runs migrations over asyncpg as the owner role."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from domain.persistence.engine import async_url

config = context.config


# Two processes migrating at once (say, two replicas starting) take turns.
_LOCK_KEY = 0x6C656E64  # "lend"


def _run(connection: Connection) -> None:
    # One transaction for the whole upgrade: PostgreSQL DDL is transactional, so a failed
    # upgrade leaves the schema as it was.
    context.configure(connection=connection)
    with context.begin_transaction():
        connection.execute(text("select pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        context.run_migrations()


async def _run_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to the migrations")
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
