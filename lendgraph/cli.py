"""``lendgraph``: serve, worker, scheduler, migrate, seed-demo, export-schema and dev."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import threading

from lendgraph.logs import configure_logging
from lendgraph.settings import Settings, get_settings


def _migrate(settings: Settings) -> None:
    from domain.persistence.engine import create_engine
    from domain.persistence.migrate import set_role_password, upgrade_to_head
    from lendgraph import runtime

    upgrade_to_head(runtime.owner_url(settings), settings.app_db_role)
    if settings.app_db_password is not None:
        password = settings.app_db_password.get_secret_value()

        async def apply() -> None:
            engine = create_engine(runtime.owner_url(settings), pool_size=1)
            try:
                async with engine.begin() as connection:
                    await set_role_password(connection, settings.app_db_role, password)
            finally:
                await engine.dispose()

        asyncio.run(apply())


async def _seed(settings: Settings) -> bool:
    from domain.persistence.engine import create_engine, open_session, session_factory
    from domain.persistence.scope import PLATFORM_SCOPE
    from lendgraph import demo, runtime

    # Seeding writes platform-level rows: it runs as the application role in the platform
    # scope, through the same row-level security as every request.
    engine = create_engine(runtime.app_url(settings), pool_size=1)
    try:
        async with open_session(session_factory(engine), PLATFORM_SCOPE) as session:
            created = await demo.seed(session, runtime.personal_data_cipher(settings))
            await session.commit()
            return created
    finally:
        await engine.dispose()


def _serve(settings: Settings) -> None:
    import uvicorn

    from api.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=10,
        proxy_headers=True,
    )


def cmd_migrate(args: argparse.Namespace) -> None:
    """Apply pending migrations (idempotent)."""
    _migrate(get_settings())
    print("migrations at head")


def cmd_seed_demo(args: argparse.Namespace) -> None:
    """Create the demo marketplace (not in production)."""
    settings = get_settings()
    if settings.environment == "production":
        raise SystemExit("seed-demo refuses to run in production")
    created = asyncio.run(_seed(settings))
    print("demo data created" if created else "demo data already present")


def cmd_export_schema(args: argparse.Namespace) -> None:
    """Print the GraphQL SDL."""
    from api.schema import build_schema

    sys.stdout.write(build_schema(Settings(environment="test")).as_str() + "\n")


def cmd_serve(args: argparse.Namespace) -> None:
    """Run the HTTP API."""
    _serve(get_settings())


def cmd_worker(args: argparse.Namespace) -> None:
    """Run Dramatiq workers on the configured broker."""
    settings = get_settings()
    if not settings.broker_url:
        raise SystemExit("BROKER_URL is required for lendgraph worker")
    command = [
        sys.executable,
        "-m",
        "dramatiq",
        "workers.actors.maintenance",
        "--processes",
        str(args.processes),
        "--threads",
        str(args.threads),
    ]
    raise SystemExit(subprocess.call(command))  # noqa: S603 - fixed argv, no shell


def cmd_scheduler(args: argparse.Namespace) -> None:
    """Enqueue periodic work until interrupted."""
    from workers import scheduler

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    scheduler.run(stop)


def cmd_dev(args: argparse.Namespace) -> None:
    """Everything in one process on an embedded PostgreSQL, with the demo data."""
    from lendgraph.dev import run_dev

    run_dev(port=args.port)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``lendgraph`` console script."""
    parser = argparse.ArgumentParser(prog="lendgraph", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the API").set_defaults(func=cmd_serve)
    worker = sub.add_parser("worker", help="run background workers")
    worker.add_argument("--processes", type=int, default=2)
    worker.add_argument("--threads", type=int, default=4)
    worker.set_defaults(func=cmd_worker)
    sub.add_parser("scheduler", help="enqueue periodic work").set_defaults(func=cmd_scheduler)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("seed-demo", help="create demo data").set_defaults(func=cmd_seed_demo)
    sub.add_parser("export-schema", help="print the GraphQL SDL").set_defaults(
        func=cmd_export_schema
    )
    dev = sub.add_parser("dev", help="all in one process on an embedded PostgreSQL")
    dev.add_argument("--port", type=int, default=int(os.environ.get("LENDGRAPH_PORT", "8000")))
    dev.set_defaults(func=cmd_dev)
    args = parser.parse_args(argv)
    if args.command != "export-schema":
        settings = get_settings() if args.command != "dev" else None
        configure_logging(
            settings.log_level if settings else "INFO", settings.log_json if settings else False
        )
    args.func(args)
