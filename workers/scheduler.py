"""Periodic triggers. Level-triggered: each tick enqueues work that derives what to do from the
database, so a missed or doubled tick does no harm."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger("lendgraph.scheduler")


@dataclass(frozen=True)
class Job:
    """Something to enqueue every ``every_seconds``."""

    name: str
    every_seconds: float
    enqueue: Callable[[], object]


def default_jobs() -> list[Job]:
    """The platform's periodic jobs."""
    from workers.actors import (
        events,
        integrations,
        maintenance,
        payouts,
        pledges,
        reviews,
        signing,
    )

    return [
        Job("expire_refresh_tokens", 3600, maintenance.expire_refresh_tokens.send),
        # Keys are kept at least 24 hours; an hourly purge keeps none much past 25.
        Job("purge_idempotency_keys", 3600, maintenance.purge_idempotency_keys.send),
        # Calls whose message was lost are re-sent once overdue by the sweeper's grace.
        Job("sweep_integration_calls", 15, integrations.sweep_integration_calls.send),
        # Every commit rings the relay; this picks up after a lost doorbell.
        Job("relay_events", 10, events.relay_events.send),
        # Approvals lapse to the minute: a deal is EXPIRED at most a minute or so late.
        Job("expire_approvals", 60, reviews.expire_approvals.send),
        # Payouts whose message was lost, or whose worker died, are sent again.
        Job("sweep_payouts", 15, payouts.sweep_payouts.send),
        # Envelopes whose creation got no answer are re-sent; unheard ones are read back.
        Job("sweep_envelopes", 15, signing.sweep_envelopes.send),
        # SIGNING deals past their approval's window expire, as APPROVED ones do.
        Job("expire_signing", 60, signing.expire_signing.send),
        # Pledge filings whose message was lost, or whose worker died, are filed again.
        Job("sweep_pledges", 15, pledges.sweep_pledges.send),
    ]


def run(stop: threading.Event, jobs: list[Job] | None = None) -> None:
    """Tick until ``stop`` is set; each job runs once at start and then on its interval."""
    jobs = jobs if jobs is not None else default_jobs()
    due = dict.fromkeys((job.name for job in jobs), 0.0)
    clock = 0.0
    tick = 1.0
    while not stop.is_set():
        for job in jobs:
            if clock >= due[job.name]:
                try:
                    job.enqueue()
                    log.info("scheduled", job=job.name)
                except Exception:
                    log.exception("schedule_failed", job=job.name)
                due[job.name] = clock + job.every_seconds
        stop.wait(tick)
        clock += tick
