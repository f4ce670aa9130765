"""``lendgraph dev`` from nothing: an embedded PostgreSQL (no DATABASE_URL), migrations, demo
data and the API; a demo token gets ``viewer`` back over real HTTP; Ctrl-C stops it all, and a
second start reuses the data."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lendgraph.demo import CONSOLE_CLIENT, DEMO_PASSWORD

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "TEST_DATABASE_URL", "APP_DATABASE_URL", "LENDGRAPH_ENV")
    }
    env["LENDGRAPH_DATA_DIR"] = str(data_dir)
    lendgraph = Path(sys.executable).parent / "lendgraph"
    return subprocess.Popen(
        [str(lendgraph), "dev", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_healthy(base: str, proc: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"lendgraph dev exited early:\n{proc.stdout.read()}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("lendgraph dev did not become ready")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"lendgraph dev did not stop on SIGINT:\n{out}") from None
    return out


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data folder outside pytest's: as root the embedded server runs as another user, who
    must traverse every parent folder, and any pytest run on the machine resets
    pytest-of-root to 0700."""
    folder = Path(tempfile.mkdtemp(prefix="lendgraph-dev-startup-"))
    folder.chmod(0o755)
    yield folder / "data"
    shutil.rmtree(folder, ignore_errors=True)


def test_dev_serves_viewer_on_embedded_postgres_and_stops_cleanly(data_dir: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(data_dir, port)
    try:
        _wait_healthy(base, proc)
        token = httpx.post(
            f"{base}/oauth/token",
            data={
                "grant_type": "password",
                "username": "admin@lendgraph.dev",
                "password": DEMO_PASSWORD,
            },
            auth=CONSOLE_CLIENT,
        )
        assert token.status_code == 200, token.text
        response = httpx.post(
            f"{base}/graphql",
            json={"query": "{ viewer { kind roles user { email } } }"},
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        assert response.status_code == 200
        assert response.json()["data"]["viewer"] == {
            "kind": "USER",
            "roles": ["PLATFORM_ADMIN"],
            "user": {"email": "admin@lendgraph.dev"},
        }
    finally:
        output = _stop(proc)
    assert proc.returncode == 0, output
    # The sandbox providers were served on loopback and stopped with the rest.
    assert re.search(r"sandboxes.*http://127\.0\.0\.1:\d+", output), output
    assert (data_dir / "pg" / "PG_VERSION").exists()
    # The embedded server stopped with the process.
    assert not (data_dir / "pg" / "postmaster.pid").exists(), output

    # A second start reuses the data: the demo data is already there.
    proc = _start(data_dir, port)
    try:
        _wait_healthy(base, proc)
    finally:
        output = _stop(proc)
    assert proc.returncode == 0, output
    assert '"created": false' in output or "created=False" in output, output
