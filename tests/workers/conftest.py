"""Delivery tests run Dramatiq on the machine's RabbitMQ (127.0.0.1:5672, guest/guest), in a
virtual host of their own (made with ``rabbitmqctl`` when it is at hand), with workers started
as real processes by the same command line as ``lendgraph worker``. Nothing is skipped: when
RabbitMQ is down, every test here fails and says so."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from integrations.jobs import DramatiqJobQueue, make_broker
from integrations.sandboxes import SandboxServer
from lendgraph.cli import worker_command
from lendgraph.settings import Settings

RABBITMQ = ("127.0.0.1", 5672)
ROOT = Path(__file__).resolve().parents[2]


def _rabbitmqctl(*args: str) -> None:
    ctl = shutil.which("rabbitmqctl")
    assert ctl is not None
    subprocess.run([ctl, *args], check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def rabbitmq_url() -> Iterator[str]:
    try:
        socket.create_connection(RABBITMQ, timeout=5).close()
    except OSError as exc:
        pytest.fail(
            f"RabbitMQ is not reachable on {RABBITMQ[0]}:{RABBITMQ[1]} ({exc}). The delivery"
            " tests need a real broker: start it with `rabbitmq-server -detached`"
            " (.ci/run does when it is down).",
            pytrace=False,
        )
    if shutil.which("rabbitmqctl") is None:
        yield "amqp://guest:guest@127.0.0.1:5672/%2F"
        return
    vhost = f"lg_test_{os.getpid()}_{secrets.token_hex(3)}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture(scope="session")
def rabbit_jobs(rabbitmq_url: str) -> Iterator[DramatiqJobQueue]:
    """The job queue an API process would have on this broker."""
    queue = DramatiqJobQueue(make_broker(rabbitmq_url))
    yield queue
    queue.broker.close()


class Worker:
    """``lendgraph worker``'s command line with the test ports loaded, as a process group."""

    def __init__(self, owner_url: URL, rabbitmq_url: str, folder: Path) -> None:
        self.folder = folder
        self.env = {
            **os.environ,
            "LENDGRAPH_ENV": "test",
            "DATABASE_URL": owner_url.render_as_string(hide_password=False),
            "BROKER_URL": rabbitmq_url,
            "LENDGRAPH_TEST_PORT_DIR": str(folder),
            "LENDGRAPH_LOG_JSON": "true",
            "LENDGRAPH_LOG_LEVEL": "INFO",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0

    @property
    def log_path(self) -> Path:
        return self.folder / f"worker-{self.runs}.log"

    def start(self, *, recording: bool = True) -> None:
        """Start the worker: with the recording ports of ``tests.workers.recording_port``, or
        (``recording=False``) with the production ports wired from ``self.env``."""
        self.runs += 1
        command = worker_command(Settings.model_construct(worker_processes=1, worker_threads=1))
        if recording:
            command.insert(command.index("--skip-logging"), "tests.workers.recording_port")
        with self.log_path.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL the supervisor and its worker processes at once."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def events(self) -> list[dict[str, Any]]:
        """Every JSON log line of every run so far."""
        found = []
        for n in range(1, self.runs + 1):
            path = self.folder / f"worker-{n}.log"
            if not path.exists():
                continue
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    try:
                        found.append(json.loads(line))
                    except ValueError:
                        continue
        return found

    def calls(self) -> list[list[str]]:
        """The ports' records: ``[start|done, kind, reference, attempt, pid]``."""
        path = self.folder / "calls.log"
        return [line.split() for line in path.read_text().splitlines()] if path.exists() else []

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def use_sandboxes(
        self, sandbox: SandboxServer, settings: Settings, *, app_url: str | None = None
    ) -> None:
        """Point the production ports at ``sandbox``, with the tests' personal-data key and
        document store (the worker reads what the API stored); ``app_url``, the served app
        providers call back, is the issuer the worker builds callback URLs from."""
        self.env.update(sandbox.environment())
        self.env["LENDGRAPH_DATA_KEY"] = settings.data_key.get_secret_value()
        self.env["LENDGRAPH_DATA_DIR"] = settings.data_dir
        if app_url is not None:
            self.env["LENDGRAPH_ISSUER"] = app_url


@pytest.fixture
def worker(owner_url: URL, rabbitmq_url: str, tmp_path: Path) -> Iterator[Worker]:
    w = Worker(owner_url, rabbitmq_url, tmp_path)
    yield w
    w.stop()


async def until(
    what: str, check: Callable[[], Awaitable[bool]], worker: Worker, within: float = 90.0
) -> None:
    """Wait until ``check()`` holds (polled), failing after ``within`` seconds with the
    worker's log tail: a guard against a hang, not a measure of speed."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            tail = worker.log_path.read_text(errors="replace")[-3000:]
            raise AssertionError(f"not observed within {within}s: {what}\nworker log:\n{tail}")
        if worker.process is not None and worker.process.poll() is not None:
            tail = worker.log_path.read_text(errors="replace")[-3000:]
            raise AssertionError(f"the worker exited while waiting for {what}:\n{tail}")
        await asyncio.sleep(0.1)


__all__ = ["Worker", "until"]
