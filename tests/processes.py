"""Running a lendgraph command as a real process for a test: a free loopback port, and the
process started, waited for until it answers, and stopped with Ctrl-C (killed if it hangs)."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    """A port nothing listens on at the moment, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def answering(
    command: list[str], env: dict[str, str], log: Path, probe: str, *, wait: float
) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` running with its output in ``log``, once ``probe`` answers 200 (within
    ``wait`` seconds, or the test fails with the log); stopped with SIGINT afterwards."""
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    name = " ".join([Path(command[0]).name, *command[1:2]])  # e.g. "lendgraph serve"
    try:
        deadline = time.monotonic() + wait
        while True:
            if process.poll() is not None:
                raise AssertionError(f"{name} exited:\n{log.read_text()}")
            try:
                if httpx.get(probe, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} did not answer {probe}:\n{log.read_text()}")
            time.sleep(0.3)  # polling a process that is starting, not asserting a time
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
