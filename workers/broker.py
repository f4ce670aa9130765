"""The Dramatiq broker, chosen from settings before any actor is declared: RabbitMQ with
publisher confirms (``amqp://``), Redis (``redis://``), or, with no broker URL, an in-process
stub broker served by worker threads of the same process (``lendgraph dev``). It is the
process's shared broker (``integrations.jobs``), the one the API's unit of work sends to."""

from __future__ import annotations

import dramatiq

from integrations.jobs import job_queue, make_broker, shared_broker
from lendgraph.logs import configure_logging
from lendgraph.settings import get_settings

broker = shared_broker(get_settings().broker_url)
dramatiq.set_broker(broker)
jobs = job_queue(get_settings().broker_url)

__all__ = ["broker", "for_worker_process", "jobs", "make_broker"]


def for_worker_process() -> None:
    """Set-up of a ``dramatiq`` worker process (``dramatiq workers.broker:for_worker_process``,
    as ``lendgraph worker`` runs it): this project's JSON log lines instead of dramatiq's plain
    text, and the integration ports wired; the broker is the one declared above."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    from workers.ports import wire

    wire(settings)
