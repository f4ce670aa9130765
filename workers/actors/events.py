"""The outbox relay's actor: rung after every commit that appended events (and by the
scheduler, for whatever a lost message left behind), it hands unpublished events to this
process's handlers and marks them published."""

from __future__ import annotations

import dramatiq
import structlog

from domain.events import relay
from domain.events.repository import RELAY_JOB
from domain.persistence.scope import PLATFORM_SCOPE
from workers import broker as _broker  # noqa: F401  (the broker must exist before actors)
from workers import resources

log = structlog.get_logger("lendgraph.events")

#: Consumers of published events, in order; registered at start-up by the contexts that
#: need them (outbound webhooks, alerts). Each runs in the relay's transaction.
handlers: list[relay.EventHandler] = []

BATCH = 500


@dramatiq.actor(
    actor_name=RELAY_JOB.actor, queue_name=RELAY_JOB.queue, max_retries=5, time_limit=120_000
)
async def relay_events() -> None:
    """Publish every unpublished event, a batch per unit of work. Idempotent: a second run
    finds nothing, and two at once share the work (``SKIP LOCKED``)."""
    total = 0
    while True:
        async with resources.unit_of_work(PLATFORM_SCOPE) as session:
            ids = await relay.relay(session, handlers, limit=BATCH)
        total += len(ids)
        if len(ids) < BATCH:
            break
    if total:
        log.info("events_published", count=total)
