"""The job queue behind ``domain.persistence.after_commit``: Dramatiq on the configured broker.

Jobs go by actor name and queue, so a process that declares no actor (the API) enqueues them
just as well. One broker per process and URL (:func:`shared_broker`): in ``lendgraph dev`` the
API, the scheduler and the in-process workers share the same stub broker."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

from domain.persistence.after_commit import Job

_lock = threading.Lock()
_brokers: dict[str | None, dramatiq.Broker] = {}


def make_broker(url: str | None) -> dramatiq.Broker:
    """A broker for ``url`` with asyncio actors enabled: RabbitMQ with publisher confirms
    (``amqp://``), Redis (``redis://``), or, with no URL, an in-process stub broker."""
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


def shared_broker(url: str | None) -> dramatiq.Broker:
    """This process's broker for ``url``, made on first use."""
    with _lock:
        if url not in _brokers:
            _brokers[url] = make_broker(url)
        return _brokers[url]


class DramatiqJobQueue:
    """Sends jobs as Dramatiq messages; the worker's actor of that name runs them, with the
    options (retries, time limit) it declares."""

    def __init__(self, broker: dramatiq.Broker) -> None:
        self.broker = broker

    def send(self, jobs: Sequence[Job]) -> None:
        """Enqueue each job (declaring its queue first, as a stub broker requires)."""
        for job in jobs:
            self.broker.declare_queue(job.queue)
            message: dramatiq.Message[object] = dramatiq.Message(
                queue_name=job.queue,
                actor_name=job.actor,
                args=job.args,
                kwargs={},
                options={},
            )
            self.broker.enqueue(message, delay=job.delay_ms)


def job_queue(url: str | None) -> DramatiqJobQueue:
    """The job queue of this process for the broker at ``url``."""
    return DramatiqJobQueue(shared_broker(url))
