"""Listening for committed events: one dedicated asyncpg connection per process runs
``LISTEN lendgraph_events`` and fans each notification out to its subscribers.

A notification carries IDs and the event type only (``id``, ``tenant_id``, ``type``,
``aggregate_type``, ``aggregate_id``; since migration 0010 also ``occurred_at`` and the
aggregate's ``status`` after the event, when the event names one): every listener of the
database receives every tenant's notifications, so a subscriber re-reads what it shows under
its own scope. PostgreSQL sends them at commit, in commit order, and never for a transaction
that rolled back.

Each subscriber has a bounded queue of its own: a slow subscriber loses its oldest
notifications (counted in ``dropped``) rather than holding up the others. When the connection
is lost, the listener reconnects with backoff and counts a ``gap`` on every subscriber (what
was committed meanwhile was not heard: re-read from the ``events`` table)."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

log = logging.getLogger("lendgraph.events")

CHANNEL = "lendgraph_events"


@dataclass(frozen=True, slots=True)
class Notification:
    """One committed event, by reference."""

    id: int
    tenant_id: uuid.UUID | None
    type: str
    aggregate_type: str
    aggregate_id: str
    # What the event says besides which event it is: descriptive, so not compared (the same
    # event read from a trigger older than migration 0010, which sends neither, is equal).
    #: When the event occurred.
    occurred_at: datetime | None = field(default=None, compare=False)
    #: The aggregate's status after the event, when its payload names one.
    status: str | None = field(default=None, compare=False)

    @classmethod
    def parse(cls, payload: str) -> Notification:
        """From the trigger's JSON payload."""
        data: dict[str, Any] = json.loads(payload)
        tenant = data.get("tenant_id")
        occurred = data.get("occurred_at")
        status = data.get("status")
        return cls(
            id=int(data["id"]),
            tenant_id=uuid.UUID(tenant) if tenant else None,
            type=str(data["type"]),
            aggregate_type=str(data["aggregate_type"]),
            aggregate_id=str(data["aggregate_id"]),
            occurred_at=datetime.fromisoformat(occurred) if occurred else None,
            status=str(status) if status is not None else None,
        )


class Subscription:
    """One subscriber's notifications: ``async for note in subscription``."""

    def __init__(self, listener: EventListener, size: int) -> None:
        self._listener = listener
        self._queue: asyncio.Queue[Notification] = asyncio.Queue(maxsize=size)
        self.dropped = 0
        self.gaps = 0

    def _offer(self, note: Notification) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(note)

    async def get(self) -> Notification:
        """The next notification, waiting for it."""
        return await self._queue.get()

    def close(self) -> None:
        """Stop receiving."""
        self._listener._subscribers.discard(self)

    def __aiter__(self) -> AsyncIterator[Notification]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Notification]:
        while True:
            yield await self.get()


class EventListener:
    """``LISTEN`` on a dedicated connection to ``dsn`` (a libpq URL), for this process."""

    def __init__(self, dsn: str, *, queue_size: int = 1000, max_backoff: float = 30.0) -> None:
        self.dsn = dsn
        self.queue_size = queue_size
        self.max_backoff = max_backoff
        self._subscribers: set[Subscription] = set()
        self._connection: asyncpg.Connection | None = None
        self._ready = asyncio.Event()
        self._closing = False
        self._reconnect: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect and listen; returns once notifications are being received."""
        await self._connect()

    async def _connect(self) -> None:
        connection = await asyncpg.connect(self.dsn)
        connection.add_termination_listener(self._on_lost)
        await connection.add_listener(CHANNEL, self._on_notify)
        self._connection = connection
        self._ready.set()

    def subscribe(self) -> Subscription:
        """A new subscriber, receiving what is committed from now on."""
        subscription = Subscription(self, self.queue_size)
        self._subscribers.add(subscription)
        return subscription

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            note = Notification.parse(payload)
        except (ValueError, KeyError, TypeError):
            log.warning("event_notification_unreadable", extra={"payload": payload[:200]})
            return
        for subscription in list(self._subscribers):
            subscription._offer(note)

    def _on_lost(self, _conn: object) -> None:
        self._ready.clear()
        self._connection = None
        if not self._closing:
            self._reconnect = asyncio.get_running_loop().create_task(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        delay = 0.5
        while not self._closing:
            try:
                await self._connect()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("event_listener_reconnect_failed", extra={"error": str(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
                continue
            for subscription in list(self._subscribers):
                subscription.gaps += 1
            return

    async def close(self) -> None:
        """Stop listening and close the connection."""
        self._closing = True
        if self._reconnect is not None:
            self._reconnect.cancel()
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()
