"""The outbox relay: hands every committed event, in commit order, to the process's
handlers, and marks it published in the same transaction as whatever the handlers write
(webhook deliveries, jobs after commit), so an event is handed on once or, if that
transaction fails, again later; never lost.

Listeners in API processes do not wait for the relay: a trigger on ``events`` sends
``pg_notify`` with the event's IDs in the transaction that appends it, and PostgreSQL delivers
it at commit (``domain.events.listener``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from domain.events import repository
from domain.events.models import Event
from domain.kernel.clock import utcnow

#: A consumer of published events; it runs in the relay's transaction.
EventHandler = Callable[[AsyncSession, Event], Awaitable[None]]


async def relay(
    session: AsyncSession, handlers: Sequence[EventHandler], *, limit: int = 500
) -> list[int]:
    """Hand the oldest unpublished events (up to ``limit``) to every handler, in ``id``
    order, and mark them published. Platform scope. The IDs handed on."""
    events = await repository.lock_unpublished(session, limit=limit)
    for event in events:
        for handler in handlers:
            await handler(session, event)
    ids = [event.id for event in events]
    if ids:
        await repository.mark_published(session, ids, utcnow())
    return ids
