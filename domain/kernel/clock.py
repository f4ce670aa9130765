"""The one place that reads a clock, so tests and close-of-business can move it.

Two clocks: :func:`utcnow` is the wall clock, for what is not written in a transaction (token
lifetimes, today's date of a quote); :func:`transaction_now` is PostgreSQL's
``transaction_timestamp()``, for every time a use case writes. It is the value ``now()``
gives the columns that default to it (audit rows, outbox events, timeline entries), so a deal's
``created_at``, its first timeline entry, its consent and its audit row carry the same instant.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_CACHE_KEY: Final = "lendgraph.transaction_now"
_NOW_SQL: Final = text("select transaction_timestamp()")


def utcnow() -> datetime:
    """The current instant, timezone-aware in UTC."""
    return datetime.now(UTC)


async def transaction_now(session: AsyncSession) -> datetime:
    """The start of ``session``'s current transaction, as PostgreSQL's ``now()`` reports it
    (timezone-aware, UTC); begins the transaction if none is open.

    Asked once per transaction and cached on the session: savepoints share their
    transaction's instant, and the next transaction asks again.
    """
    sync = session.sync_session
    cached = sync.info.get(_CACHE_KEY)
    current = sync.get_transaction()
    if cached is not None and current is not None and cached[0] is current:
        at: datetime = cached[1]
        return at
    value = (await session.execute(_NOW_SQL)).scalar_one()
    if not isinstance(value, datetime):  # pragma: no cover - timestamptz is a datetime
        raise TypeError(f"transaction_timestamp() returned {value!r}")
    at = value.astimezone(UTC)
    # The root transaction (not a savepoint), kept by reference: the cache is valid while that
    # very transaction is open, and a later one is never mistaken for it.
    sync.info[_CACHE_KEY] = (sync.get_transaction(), at)
    return at


__all__ = ["transaction_now", "utcnow"]
