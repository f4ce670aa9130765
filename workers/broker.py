"""The Dramatiq broker, chosen from settings before any actor is declared: RabbitMQ with
publisher confirms (``amqp://``), Redis (``redis://``), or, with no broker URL, an in-process
stub broker served by worker threads of the same process (``lendgraph dev``)."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

from lendgraph.logs import configure_logging
from lendgraph.settings import get_settings


def make_broker(url: str | None) -> dramatiq.Broker:
    """A broker for ``url`` with asyncio actors enabled."""
    broker: dramatiq.Broker
    if url is None:
        broker = StubBroker()
    elif url.startswith(("amqp://", "amqps://")):
        broker = RabbitmqBroker(url=url, confirm_delivery=True)
    elif url.startswith(("redis://", "rediss://")):
        broker = RedisBroker(url=url)  # type: ignore[no-untyped-call]
    else:
        raise ValueError(f"unsupported broker URL scheme: {url.split(':', 1)[0]}")
    broker.add_middleware(AsyncIO())
    return broker


broker = make_broker(get_settings().broker_url)
dramatiq.set_broker(broker)


def for_worker_process() -> None:
    """Set-up of a ``dramatiq`` worker process (``dramatiq workers.broker:for_worker_process``,
    as ``lendgraph worker`` runs it): this project's JSON log lines instead of dramatiq's plain
    text; the broker is the one declared above."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
