"""``lendgraph``: serve, worker, scheduler, migrate, seed-demo, export-schema and dev.

Each command reads the settings declared for it in ``lendgraph.settings.COMMANDS`` (its
``--help`` lists them) and checks them before it starts: a missing or invalid setting is one
line on stderr, ``lendgraph <command>: <what is wrong>``, and exit status 2. Flags override the
environment variables they correspond to."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import shutil
import signal
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from lendgraph.logs import configure_logging
from lendgraph.runtime import DatabaseUnavailable
from lendgraph.settings import (
    COMMANDS,
    ConfigurationError,
    Settings,
    env_name,
    settings_for,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
    from starlette.applications import Starlette

#: Exit status of a configuration error (as argparse uses for a usage error).
EXIT_CONFIGURATION = 2


def _quoted_role(role: str) -> str:
    # Role names are checked the way the migrations check them, and used unquoted as they
    # are there (so that case folding agrees).
    if not role.replace("_", "").isalnum():
        raise ConfigurationError(f"LENDGRAPH_APP_DB_ROLE is invalid: unsafe role name {role!r}")
    return role


async def may_act_as(connection: AsyncConnection, role: str) -> bool | None:
    """Whether the connection's role may ``SET ROLE`` to ``role``; None when ``role`` does
    not exist."""
    name = _quoted_role(role).lower()
    row = (
        await connection.execute(
            text(
                "select exists (select 1 from pg_roles where rolname = :role),"
                " current_setting('server_version_num')::int"
            ),
            {"role": name},
        )
    ).one()
    if not row[0]:
        return None
    # From PostgreSQL 16 a membership may withhold SET (the one a CREATEROLE owner gets on a
    # role it creates does); before, membership is what SET ROLE needs.
    privilege = "SET" if row[1] >= 160000 else "MEMBER"
    held = await connection.execute(
        text(f"select pg_has_role(current_user, :role, '{privilege}')"), {"role": name}
    )
    return bool(held.scalar_one())


async def let_owner_act_as(connection: AsyncConnection, role: str) -> bool:
    """Make the connection's role (the owner) a member of the application role, so that it
    may ``SET ROLE`` to it (``seed-demo`` writes that way). Superusers need nothing; a
    non-superuser owner can grant itself the membership when it created the role. True when
    the owner can act as the role afterwards."""
    if await may_act_as(connection, role):
        return True
    version = (
        await connection.execute(text("select current_setting('server_version_num')::int"))
    ).scalar_one()
    # Only the right to switch: the owner does not inherit the role's privileges.
    options = " WITH INHERIT FALSE, SET TRUE" if version >= 160000 else ""
    try:
        async with connection.begin_nested():
            await connection.execute(text(f"GRANT {_quoted_role(role)} TO CURRENT_USER{options}"))
    except DBAPIError:
        return False
    return True


def _migrate(settings: Settings) -> None:
    import structlog

    from domain.persistence.engine import create_engine
    from domain.persistence.migrate import set_role_password, upgrade_to_head
    from lendgraph import runtime

    role = _quoted_role(settings.app_db_role)
    upgrade_to_head(runtime.owner_url(settings), role)

    async def after_upgrade() -> bool:
        engine = create_engine(runtime.owner_url(settings), pool_size=1)
        try:
            async with engine.begin() as connection:
                if settings.app_db_password is not None:
                    password = settings.app_db_password.get_secret_value()
                    await set_role_password(connection, role, password)
                return await let_owner_act_as(connection, role)
        finally:
            await engine.dispose()

    if not asyncio.run(after_upgrade()):
        structlog.get_logger("lendgraph.migrate").warning(
            "owner_cannot_act_as_app_role",
            role=role,
            hint=f"seed-demo needs GRANT {role} TO <owner>",
        )


def act_as(session: AsyncSession, role: str) -> None:
    """Every transaction of ``session`` runs as ``role`` (``SET LOCAL ROLE``): an owner's
    connection whose writes go through the application role's grants and row-level
    security."""
    statement = text(f"SET LOCAL ROLE {_quoted_role(role)}")

    @event.listens_for(session.sync_session, "after_begin")
    def _set_role(_session: Any, _transaction: Any, connection: Any) -> None:
        connection.execute(statement)


async def _seed(settings: Settings) -> bool:
    from domain.persistence.after_commit import send_committed
    from domain.persistence.engine import create_engine, open_session, session_factory
    from domain.persistence.scope import PLATFORM_SCOPE
    from integrations.jobs import job_queue
    from lendgraph import demo, runtime

    # Seeding writes platform-level rows: it connects as the owner (the only credentials it
    # needs) and writes as the application role in the platform scope, through the same
    # row-level security as every request.
    role = settings.app_db_role
    engine = create_engine(runtime.owner_url(settings), pool_size=1)
    try:
        async with engine.connect() as connection:
            allowed = await may_act_as(connection, role)
            owner = (await connection.execute(text("select current_user"))).scalar_one()
        if allowed is None:
            raise ConfigurationError(
                f"the application role {role} does not exist in the database of DATABASE_URL:"
                " run lendgraph migrate first"
            )
        if not allowed:
            raise ConfigurationError(
                f"DATABASE_URL connects as {owner}, which may not act as the application role"
                f" {role}: run lendgraph migrate (it grants that) or GRANT {role} TO {owner}"
            )
        session = open_session(session_factory(engine), PLATFORM_SCOPE)
        act_as(session, role)
        async with session:
            created = await demo.seed(session, runtime.personal_data_cipher(settings))
            await session.commit()
        # What the demo's submissions asked for (their integration calls, the relay), as any
        # unit of work sends it: after commit, to the configured broker (in-process in dev).
        await send_committed(session, job_queue(settings.broker_url))
        return created
    finally:
        await engine.dispose()


def asgi_app() -> Starlette:
    """The API for uvicorn's worker processes (``serve --workers`` above 1): settings from the
    environment, which the parent process checked and completed with its flags."""
    from api.app import create_app

    settings = settings_for("serve")
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings)


def _serve(settings: Settings, *, workers: int | None = None) -> None:
    import uvicorn

    count = settings.serve_workers if workers is None else workers
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "timeout_graceful_shutdown": 10,
        "proxy_headers": True,
    }
    if count == 1:
        from api.app import create_app

        uvicorn.run(create_app(settings), **options)
        return
    # Each worker process keeps its metrics in files of one folder, which a scrape of any of
    # them reads; made here, before a worker imports prometheus_client.
    metrics_folder(os.environ)
    # Worker processes import the application themselves and read the same environment.
    # uvicorn kills a worker that does not answer its health check within 5 s by default,
    # which a freshly spawned one importing the whole application on a busy host can miss,
    # to be spawned again and again.
    uvicorn.run(
        "lendgraph.cli:asgi_app",
        factory=True,
        workers=count,
        timeout_worker_healthcheck=30,
        **options,
    )


def metrics_folder(environ: MutableMapping[str, str]) -> Path:
    """The folder of multiprocess metrics (``PROMETHEUS_MULTIPROC_DIR``), emptied of an earlier
    run's values; a new temporary one, removed at exit, when none is given."""
    given = environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):  # prometheus_client's files only
            stale.unlink()
        return folder
    folder = Path(tempfile.mkdtemp(prefix="lendgraph-metrics-"))
    atexit.register(shutil.rmtree, folder, True)
    environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def _start(command: str, overrides: dict[str, object] | None = None) -> Settings:
    """The command's settings, checked, with logging configured from them."""
    settings = settings_for(command, overrides)
    configure_logging(settings.log_level, settings.log_json)
    return settings


def _flags(args: argparse.Namespace, *settings: str) -> dict[str, object]:
    return {name: getattr(args, name) for name in settings if getattr(args, name) is not None}


def cmd_migrate(args: argparse.Namespace) -> None:
    """Apply pending migrations (idempotent)."""
    _migrate(_start("migrate"))
    print("migrations at head")


def cmd_seed_demo(args: argparse.Namespace) -> None:
    """Create the demo marketplace (not in production)."""
    settings = _start("seed-demo")
    created = asyncio.run(_seed(settings))
    print("demo data created" if created else "demo data already present")


def cmd_export_schema(args: argparse.Namespace) -> None:
    """Print the GraphQL SDL."""
    from api.schema import build_schema

    # The SDL does not depend on any setting: never read the environment for it.
    sys.stdout.write(build_schema(Settings.model_construct(environment="test")).as_str() + "\n")


def cmd_serve(args: argparse.Namespace) -> None:
    """Run the HTTP API."""
    from lendgraph import runtime

    flags = _flags(args, "host", "port", "serve_workers")
    settings = _start("serve", flags)
    # Everything the worker processes will need, resolved once here so that a bad key or
    # role is one line now rather than a traceback per worker.
    runtime.signing_keys(settings)
    runtime.personal_data_cipher(settings)
    runtime.check_app_role(settings)
    os.environ.update({env_name(name): str(value) for name, value in flags.items()})
    _serve(settings)


def worker_command(settings: Settings) -> list[str]:
    """The ``dramatiq`` command line that ``lendgraph worker`` becomes."""
    return [
        sys.executable,
        "-m",
        "dramatiq",
        # The broker's set-up callable configures this project's JSON logs in each worker
        # process; dramatiq's own plain-text logging is skipped.
        "workers.broker:for_worker_process",
        "workers.actors.maintenance",
        "workers.actors.integrations",
        "workers.actors.events",
        "workers.actors.reviews",
        "workers.actors.payouts",
        "workers.actors.signing",
        "workers.actors.pledges",
        "--skip-logging",
        "--processes",
        str(settings.worker_processes),
        "--threads",
        str(settings.worker_threads),
    ]


def cmd_worker(args: argparse.Namespace) -> None:
    """Run Dramatiq workers on the configured broker."""
    from lendgraph import runtime

    settings = _start("worker", _flags(args, "worker_processes", "worker_threads"))
    runtime.check_app_role(settings)
    command = worker_command(settings)
    # Replaced rather than run as a child, so that signals from the process manager reach
    # dramatiq's supervisor directly and no worker outlives this process.
    os.execv(command[0], command)  # noqa: S606 - fixed argv, no shell


def cmd_scheduler(args: argparse.Namespace) -> None:
    """Enqueue periodic work until interrupted."""
    from lendgraph import runtime

    runtime.check_app_role(_start("scheduler"))
    from workers import scheduler

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    scheduler.run(stop)


def cmd_dev(args: argparse.Namespace) -> None:
    """Everything in one process on an embedded PostgreSQL, with the demo data."""
    from lendgraph.dev import run_dev

    os.environ.setdefault("LENDGRAPH_ENV", "dev")
    overrides = _flags(args, "host", "port")
    settings = settings_for("dev", overrides)
    # Console lines unless JSON is asked for explicitly.
    configure_logging(
        settings.log_level, "log_json" in settings.model_fields_set and settings.log_json
    )
    run_dev(overrides)


def _describe_setting(command: str, name: str, flag: str | None) -> str:
    spec = COMMANDS[command]
    field = Settings.model_fields[name]
    parts = [(field.description or "").rstrip(".") + "."]
    for need in spec.needs:
        if name not in need.settings:
            continue
        where = {
            frozenset({"production"}): " in production",
            frozenset({"dev", "test"}): " in dev and test",
        }.get(need.environments, "")
        others = " or ".join(env_name(s) for s in need.settings if s != name)
        parts.append(f"Required{where}" + (f" unless {others} is set." if others else "."))
    if name in spec.refused_in_production:
        parts.append("Refused in production.")
    if field.default is not None and not isinstance(field.default, SecretStr):
        parts.append(f"Default: {field.default}.")
    if flag:
        parts.append(f"Flag: {flag}.")
    return " ".join(parts)


def _epilog(command: str, flags: dict[str, str]) -> str:
    spec = COMMANDS[command]
    if not spec.reads:
        return "settings: none (no environment variable is read)"
    lines = [
        "settings (environment variables" + ("; the flags above override them):" if flags else "):")
    ]
    width = max(len(env_name(n)) for n in spec.reads) + 2
    for name in spec.reads:
        wrapped = textwrap.wrap(
            _describe_setting(command, name, flags.get(name)), width=max(40, 96 - width)
        )
        lines.append(f"  {env_name(name).ljust(width)}{wrapped[0]}")
        lines.extend(f"  {' ' * width}{more}" for more in wrapped[1:])
    if spec.environments != frozenset({"dev", "test", "production"}):
        lines.append("")
        lines.append(f"Runs only with LENDGRAPH_ENV {' or '.join(sorted(spec.environments))}.")
    return "\n".join(lines)


def _add_command(
    sub: Any,
    name: str,
    func: Callable[[argparse.Namespace], None],
    flags: list[tuple[str, str, type, str]] | None = None,
) -> argparse.ArgumentParser:
    """A sub-command whose help says what it does and which settings it reads. ``flags`` are
    (option, setting, type, help) for options that override a setting."""
    flags = flags or []
    spec = COMMANDS[name]
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=spec.summary.split(". ")[0].rstrip("."),
        description=textwrap.fill(spec.summary, width=96),
        epilog=_epilog(name, {setting: option for option, setting, _, _ in flags}),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for option, setting, kind, help_text in flags:
        parser.add_argument(
            option,
            dest=setting,
            type=kind,
            default=None,
            metavar=option.removeprefix("--").upper(),
            help=f"{help_text} (overrides {env_name(setting)}, default "
            f"{Settings.model_fields[setting].default})",
        )
    parser.set_defaults(func=func)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The ``lendgraph`` argument parser with every command."""
    parser = argparse.ArgumentParser(
        prog="lendgraph",
        description="The lendgraph lending marketplace: its API, workers, scheduler and tools. "
        "Every command reads its settings from environment variables (see each command's "
        "--help) and reports a missing or invalid one as one line, with exit status 2.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    _add_command(
        sub,
        "serve",
        cmd_serve,
        [
            ("--host", "host", str, "address to listen on"),
            ("--port", "port", int, "port to listen on"),
            ("--workers", "serve_workers", int, "worker processes"),
        ],
    )
    _add_command(
        sub,
        "worker",
        cmd_worker,
        [
            ("--processes", "worker_processes", int, "worker processes"),
            ("--threads", "worker_threads", int, "threads per process"),
        ],
    )
    _add_command(sub, "scheduler", cmd_scheduler)
    _add_command(sub, "migrate", cmd_migrate)
    _add_command(sub, "seed-demo", cmd_seed_demo)
    _add_command(sub, "export-schema", cmd_export_schema)
    _add_command(
        sub,
        "dev",
        cmd_dev,
        [
            ("--host", "host", str, "address to listen on"),
            ("--port", "port", int, "port to listen on"),
        ],
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``lendgraph`` console script."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except ConfigurationError as exc:
        print(f"lendgraph {args.command}: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIGURATION) from None
    except DatabaseUnavailable as exc:
        print(f"lendgraph {args.command}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except OSError as exc:
        # Unreachable servers, unwritable folders: what an operator fixes outside the code.
        print(f"lendgraph {args.command}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
