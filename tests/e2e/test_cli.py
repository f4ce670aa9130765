"""The ``lendgraph`` commands as an operator runs them, as subprocesses on the machine's
PostgreSQL, each given only the settings its test names:

- ``migrate`` needs only DATABASE_URL, in production too;
- ``serve``, ``worker`` and ``scheduler`` refuse to start as a superuser, a BYPASSRLS role or a
  role that owns (or may become the owner of) tables, in one line with exit status 2; as the
  application role ``serve`` answers ``/healthz``, connects as nothing else, and prints no
  Python warning (it runs with ``-W error``);
- ``seed-demo`` runs as a non-superuser owner that acts as the application role;
- GraphQL client errors are logged once, at INFO or WARNING, with their code and request ID
  and no traceback; an unexpected failure is ERROR with its traceback;
- ``--help`` says what each command does and names the settings it reads;
- ``serve --workers 2`` runs two worker processes, and ``worker`` logs JSON lines."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import redis
from joserfc.jwk import KeySet
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from domain.persistence.migrate import head_revision
from lendgraph.cli import main
from lendgraph.demo import PARTNER_CLIENT
from tenants.keys import generate_key

pytestmark = pytest.mark.slow

LENDGRAPH = str(Path(sys.executable).parent / "lendgraph")
APP_ROLE = "lendgraph_app"
# Every test run on this server gives the shared role the same password, so that concurrent
# runs never lock each other out.
APP_PASSWORD = "lendgraph-test-app-password"
DATA_KEY = "e2e-data-key-" + "x" * 32
KID = "e2e-key-1"
JWKS = json.dumps(KeySet([generate_key(KID)]).as_dict(private=True))
# What any process needs to run at all; settings are added by each test.
# Never contacted except by the worker test, which has this Redis database to itself.
REDIS_URL = "redis://127.0.0.1:6379/15"
PROCESS_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def _env(**settings: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in PROCESS_ENV if k in os.environ}
    env.update(settings)
    return env


def _url(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _in_thread(fn: Callable[[], Any]) -> Any:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result()


def _sql(url: URL, *statements: str) -> list[Any]:
    """Run statements in autocommit as ``url``'s role; the rows of the last one."""

    async def run() -> list[Any]:
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                rows: list[Any] = []
                for statement in statements:
                    result = await connection.execute(text(statement))
                    rows = list(result) if result.returns_rows else []
                return rows
        finally:
            await engine.dispose()

    rows: list[Any] = _in_thread(lambda: asyncio.run(run()))
    return rows


def _run(
    args: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LENDGRAPH, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _one_line_refusal(done: subprocess.CompletedProcess[str]) -> str:
    """The refusal a command printed: exit status 2, one line on stderr, nothing else."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    assert done.stderr.endswith("\n")
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr.rstrip("\n")


@dataclass
class Database:
    name: str
    owner: URL  # the server's superuser, who created it
    migrate: subprocess.CompletedProcess[str]

    def as_role(self, role: str, password: str | None = None) -> URL:
        return self.owner.set(username=role, password=password)


@pytest.fixture(scope="module")
def database(pg_server: URL) -> Iterator[Database]:
    """A database of this module's own, migrated by ``lendgraph migrate`` as an operator would
    run it in production: with the owner's URL and the application role's password only."""
    name = f"lg_cli_{os.getpid()}_{secrets.token_hex(3)}"
    admin = pg_server.set(database="postgres")
    _sql(admin, f'CREATE DATABASE "{name}"')
    owner = pg_server.set(database=name)
    done = _run(
        ["migrate"],
        _env(
            LENDGRAPH_ENV="production",
            DATABASE_URL=_url(owner),
            LENDGRAPH_APP_DB_PASSWORD=APP_PASSWORD,
        ),
    )
    try:
        yield Database(name=name, owner=owner, migrate=done)
    finally:
        _sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrate_runs_with_only_the_owner_url_in_production(database: Database) -> None:
    done = database.migrate
    assert done.returncode == 0, done.stderr
    assert done.stdout == "migrations at head\n"
    (revision,) = _sql(database.owner, "select version_num from alembic_version")[0]
    assert revision == head_revision()
    # Run again: nothing to do, still fine, and the log lines are JSON.
    again = _run(["migrate"], _env(LENDGRAPH_ENV="production", DATABASE_URL=_url(database.owner)))
    assert again.returncode == 0, again.stderr
    for line in again.stderr.splitlines():
        json.loads(line)


# --- refusing privileged roles ------------------------------------------------------------------


@dataclass
class Roles:
    bypass: str
    owner: str
    member: str


@pytest.fixture(scope="module")
def privileged_roles(database: Database) -> Iterator[Roles]:
    """Roles that row-level security would not hold: one with BYPASSRLS, one owning a table of
    the database, one that is a member of (so may SET ROLE to) that owner."""
    tag = secrets.token_hex(3)
    roles = Roles(f"lg_cli_bypass_{tag}", f"lg_cli_owner_{tag}", f"lg_cli_member_{tag}")
    _sql(
        database.owner,
        f"CREATE ROLE {roles.bypass} LOGIN BYPASSRLS",
        f"CREATE ROLE {roles.owner} LOGIN",
        f"CREATE ROLE {roles.member} LOGIN",
        f"GRANT {roles.owner} TO {roles.member}",
        "CREATE TABLE lg_cli_owned (x int)",
        f"ALTER TABLE lg_cli_owned OWNER TO {roles.owner}",
    )
    try:
        yield roles
    finally:
        _sql(
            database.owner,
            "DROP TABLE IF EXISTS lg_cli_owned",
            f"DROP ROLE IF EXISTS {roles.member}",
            f"DROP ROLE IF EXISTS {roles.owner}",
            f"DROP ROLE IF EXISTS {roles.bypass}",
        )


#: The providers a production worker is configured with (never reached by these tests).
PROVIDERS = {
    f"LENDGRAPH_{kind}_{part}": value
    for kind in ("BUREAU", "IDENTITY", "PRICE_FEED", "PAYMENTS", "ESIGN", "PLEDGE_REGISTRY")
    for part, value in (
        ("URL", f"https://{kind.lower().replace('_', '-')}.invalid"),
        ("KEY_ID", "e2e"),
        ("SECRET", "e2e-provider-secret-" + "y" * 24),
    )
}


def _serving_env(app_url: str, **more: str) -> dict[str, str]:
    return _env(
        LENDGRAPH_ENV="production",
        APP_DATABASE_URL=app_url,
        LENDGRAPH_JWT_PRIVATE_JWKS=JWKS,
        LENDGRAPH_JWT_ACTIVE_KID=KID,
        LENDGRAPH_DATA_KEY=DATA_KEY,
        BROKER_URL=REDIS_URL,
        **PROVIDERS,
        **more,
    )


NEED = (
    "; serving processes need a role subject to row-level security (the application role, "
    "lendgraph_app, that lendgraph migrate creates)"
)


@pytest.mark.parametrize("kind", ["bypass", "owner", "member"])
def test_serve_refuses_a_role_that_row_level_security_does_not_hold(
    database: Database, privileged_roles: Roles, kind: str
) -> None:
    role = getattr(privileged_roles, kind)
    done = _run(["serve", "--port", str(_free_port())], _serving_env(_url(database.as_role(role))))
    reason = {
        "bypass": "has BYPASSRLS",
        "owner": "owns tables (lg_cli_owned)",
        "member": "owns tables (lg_cli_owned)",
    }[kind]
    assert _one_line_refusal(done) == (
        f"lendgraph serve: APP_DATABASE_URL connects as role {role}, which {reason}{NEED}"
    )


@pytest.mark.parametrize("command", ["serve", "worker", "scheduler"])
def test_serving_commands_refuse_the_owner_superuser(database: Database, command: str) -> None:
    done = _run([command], _serving_env(_url(database.owner)))
    line = _one_line_refusal(done)
    # The server's superuser created every table: all three reasons hold.
    assert line.startswith(
        f"lendgraph {command}: APP_DATABASE_URL connects as role {database.owner.username}, "
        "which is a superuser, has BYPASSRLS and owns tables ("
    ), line
    assert line.endswith(NEED)
    assert (database.owner.password or "\0") not in line


def test_serve_refuses_owner_credentials_next_to_the_app_url(database: Database) -> None:
    app_url = _url(database.as_role(APP_ROLE, APP_PASSWORD))
    done = _run(["serve"], _serving_env(app_url, DATABASE_URL=_url(database.owner)))
    assert _one_line_refusal(done) == (
        "lendgraph serve: DATABASE_URL (owner credentials) must not be given to this command in "
        "production; it connects with APP_DATABASE_URL only"
    )


# --- a running API --------------------------------------------------------------------------------


@dataclass
class Api:
    base: str
    log: Path
    process: subprocess.Popen[str]

    def lines(self, request_id: str) -> list[dict[str, Any]]:
        """The JSON log lines that carry ``request_id``."""
        found = []
        for line in self.log.read_text().splitlines():
            entry = json.loads(line)  # every line is JSON
            if entry.get("request_id") == request_id:
                found.append(entry)
        return found


def _wait_until_healthy(base: str, process: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"lendgraph serve exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"lendgraph serve did not answer:\n{log.read_text()}")


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError("the process did not stop on SIGINT") from None


@pytest.fixture(scope="module")
def api(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """``lendgraph serve`` in production as the application role, over the demo data (seeded
    by ``seed-demo`` with the owner's URL), with every Python warning made an error."""
    data_dir = tmp_path_factory.mktemp("api-data")
    seeded = _run(
        ["seed-demo"],
        _env(
            LENDGRAPH_ENV="test",
            DATABASE_URL=_url(database.owner),
            LENDGRAPH_DATA_KEY=DATA_KEY,
            LENDGRAPH_DATA_DIR=str(data_dir),
        ),
    )
    assert seeded.returncode == 0, seeded.stderr
    port = _free_port()
    log = data_dir / "serve.log"
    env = _serving_env(
        _url(database.as_role(APP_ROLE, APP_PASSWORD)),
        LENDGRAPH_PORT=str(port),
        LENDGRAPH_ISSUER=f"http://127.0.0.1:{port}",
        LENDGRAPH_DATA_DIR=str(data_dir),
        PYTHONWARNINGS="error",
        # The token endpoint is plain HTTP here; Authlib refuses that unless told.
        AUTHLIB_INSECURE_TRANSPORT="1",
    )
    with log.open("w") as err:
        process = subprocess.Popen(
            [LENDGRAPH, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=err, text=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(base, process, log)
        yield Api(base=base, log=log, process=process)
    finally:
        code = _stop(process)
        assert code == 0, log.read_text()


def test_serve_as_the_app_role_answers_and_connects_as_nothing_else(
    api: Api, database: Database
) -> None:
    assert httpx.get(f"{api.base}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{api.base}/readyz")
    assert ready.status_code == 200, ready.text
    # Only this test's connection (as the superuser) and the server's (as the app role).
    users = _sql(
        database.owner,
        f"select distinct usename from pg_stat_activity where datname = '{database.name}'"
        " and pid <> pg_backend_pid()",
    )
    assert {row[0] for row in users} == {APP_ROLE}


def test_a_normal_start_prints_no_python_warning(api: Api) -> None:
    httpx.get(f"{api.base}/healthz")
    text_ = api.log.read_text()
    assert "Application startup complete." in text_
    assert "Warning" not in text_
    assert "Traceback" not in text_


def _graphql(api: Api, query: str, request_id: str, token: str | None = None) -> httpx.Response:
    headers = {"X-Request-ID": request_id}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{api.base}/graphql", json={"query": query}, headers=headers, timeout=30)


def _graphql_errors(api: Api, request_id: str) -> list[dict[str, Any]]:
    lines = api.lines(request_id)
    assert not [e for e in lines if e.get("logger") == "strawberry.execution"], lines
    return [e for e in lines if e.get("event") == "graphql_error"]


def test_a_syntax_error_is_logged_once_at_info_without_traceback(api: Api) -> None:
    request_id = f"e2e-syntax-{secrets.token_hex(4)}"
    response = _graphql(api, "{ viewer { kind ", request_id)
    assert response.status_code == 400
    (entry,) = _graphql_errors(api, request_id)
    assert entry["level"] == "info"
    assert entry["code"] == "GRAPHQL_PARSE_FAILED"
    assert entry["request_id"] == request_id
    assert "exception" not in entry
    assert all("Traceback" not in json.dumps(e) for e in api.lines(request_id))


def test_refusals_before_execution_are_logged_once_at_info_with_their_code(api: Api) -> None:
    # A body that is not JSON, and a malformed ID in the variables: each one line at INFO
    # with its code and the request ID, no traceback, and a JSON answer.
    cases = [
        ({"content": b"{nope", "headers": {"content-type": "application/json"}}, "BAD_REQUEST"),
        (
            {"json": {"query": "query($i: ID!) { node(id: $i) { id } }", "variables": {"i": "!"}}},
            "BAD_USER_INPUT",
        ),
    ]
    for kwargs, code in cases:
        request_id = f"e2e-refused-{secrets.token_hex(4)}"
        headers = {"X-Request-ID": request_id, **kwargs.pop("headers", {})}
        response = httpx.post(f"{api.base}/graphql", headers=headers, timeout=30, **kwargs)
        assert response.status_code == 400
        assert response.json()["errors"][0]["extensions"]["code"] == code
        lines = api.lines(request_id)
        refusals = [e for e in lines if e.get("event") in ("graphql_refused", "graphql_error")]
        assert [(e["level"], e["code"]) for e in refusals] == [("info", code)], lines
        assert all("Traceback" not in json.dumps(e) for e in lines)
        assert all(e.get("level") in ("info", "debug") for e in lines), lines


def test_a_permission_refusal_is_logged_once_at_warning_without_traceback(api: Api) -> None:
    request_id = f"e2e-refusal-{secrets.token_hex(4)}"
    response = _graphql(api, "query Who { viewer { kind } }", request_id)
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    (entry,) = _graphql_errors(api, request_id)
    assert entry["level"] == "warning"
    assert entry["code"] == "UNAUTHENTICATED"
    assert entry["operation"] == "Who"
    assert entry["path"] == "viewer"
    assert "exception" not in entry


def test_an_unexpected_failure_is_logged_as_error_with_traceback(
    api: Api, database: Database
) -> None:
    token = httpx.post(
        f"{api.base}/oauth/token",
        data={"grant_type": "client_credentials", "scope": "marketplace:read"},
        auth=PARTNER_CLIENT,
    )
    assert token.status_code == 200, token.text
    request_id = f"e2e-failure-{secrets.token_hex(4)}"
    # A fault the code cannot expect: the application role loses a grant it relies on (one
    # that only the marketplace query needs: the token check before it still passes).
    _sql(database.owner, f"REVOKE SELECT ON product_versions FROM {APP_ROLE}")
    try:
        response = _graphql(
            api,
            "{ marketplace(first: 1) { edges { cursor } } }",
            request_id,
            token.json()["access_token"],
        )
    finally:
        _sql(database.owner, f"GRANT SELECT ON product_versions TO {APP_ROLE}")
    assert response.json()["errors"][0]["message"] == "Unexpected error."
    (entry,) = _graphql_errors(api, request_id)
    assert entry["level"] == "error"
    assert entry["code"] == "INTERNAL_SERVER_ERROR"
    assert entry["exception"].startswith("Traceback (most recent call last):")
    assert "permission denied for table product_versions" in entry["exception"]


# --- flags and help -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "named", "not_named"),
    [
        (
            "serve",
            [
                "Run the HTTP API",
                "APP_DATABASE_URL",
                "LENDGRAPH_JWT_PRIVATE_JWKS",
                "LENDGRAPH_JWT_ACTIVE_KID",
                "LENDGRAPH_DATA_KEY",
                "LENDGRAPH_HOST",
                "LENDGRAPH_PORT",
                "LENDGRAPH_SERVE_WORKERS",
                "LENDGRAPH_ISSUER",
                "BROKER_URL",
                "--host",
                "--port",
                "--workers",
            ],
            ["LENDGRAPH_BUREAU_URL"],
        ),
        (
            "worker",
            [
                "Run Dramatiq task workers",
                "APP_DATABASE_URL",
                "BROKER_URL",
                "LENDGRAPH_WORKER_PROCESSES",
                "LENDGRAPH_WORKER_THREADS",
                "--processes",
                "--threads",
            ],
            ["LENDGRAPH_JWT_PRIVATE_JWKS"],
        ),
        (
            "scheduler",
            ["Enqueue periodic work", "APP_DATABASE_URL", "BROKER_URL"],
            ["LENDGRAPH_JWT_PRIVATE_JWKS"],
        ),
        (
            "migrate",
            [
                "Apply pending database migrations",
                "DATABASE_URL",
                "LENDGRAPH_APP_DB_ROLE",
                "LENDGRAPH_APP_DB_PASSWORD",
            ],
            ["APP_DATABASE_URL", "LENDGRAPH_JWT_PRIVATE_JWKS", "LENDGRAPH_DATA_KEY"],
        ),
        (
            "seed-demo",
            ["Create the demo marketplace", "DATABASE_URL", "LENDGRAPH_DATA_KEY"],
            ["APP_DATABASE_URL", "LENDGRAPH_JWT_PRIVATE_JWKS"],
        ),
        ("export-schema", ["Print the GraphQL SDL", "no environment variable"], ["DATABASE_URL"]),
        (
            "dev",
            ["Everything in one process", "DATABASE_URL", "LENDGRAPH_PORT", "--port"],
            ["LENDGRAPH_JWT_PRIVATE_JWKS"],
        ),
    ],
)
def test_help_says_what_each_command_does_and_which_settings_it_reads(
    command: str, named: list[str], not_named: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # In this process: --help reads no setting and starts nothing.
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    usage = capsys.readouterr().out
    assert usage.startswith(f"usage: lendgraph {command}")
    for name in named:
        assert name in usage, name
    for name in not_named:
        assert name not in usage, name


def test_serve_runs_several_worker_processes(database: Database, tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "serve.log"
    # The flags win over the environment variables they correspond to.
    env = _serving_env(
        _url(database.as_role(APP_ROLE, APP_PASSWORD)),
        LENDGRAPH_PORT=str(_free_port()),
        LENDGRAPH_SERVE_WORKERS="1",
        LENDGRAPH_DATA_DIR=str(tmp_path),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
    )
    with log.open("w") as err:
        process = subprocess.Popen(
            [LENDGRAPH, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        _wait_until_healthy(f"http://127.0.0.1:{port}", process, log)
        workers = [
            child
            for child in psutil.Process(process.pid).children()
            if "spawn_main" in " ".join(child.cmdline())
        ]
        assert len(workers) == 2, log.read_text()
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
        # Metrics: every worker writes to the folder, and a scrape of either reports the sum.
        for _ in range(20):  # a connection each: the kernel spreads them over the workers
            ping = httpx.post(
                f"http://127.0.0.1:{port}/graphql", json={"query": "query Ping { __typename }"}
            )
            assert ping.status_code == 200, ping.text
        pids = {int(p.stem.rsplit("_", 1)[1]) for p in (tmp_path / "metrics").glob("*.db")}
        assert {w.pid for w in workers} <= pids
        for _ in range(4):
            scraped = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            samples = {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(scraped)
                for s in family.samples
            }
            ping_key = (("operation", "Ping"), ("outcome", "ok"), ("type", "query"))
            assert samples[("lendgraph_graphql_operations_total", ping_key)] == 20
            # Each worker's pool holds 10 connections plus 10 overflowing: 40 for the two.
            assert samples[("lendgraph_db_pool_connections_max", ())] == 40
    finally:
        code = _stop(process)
    assert code == 0, log.read_text()
    # Stopped workers take their live gauges with them; their counters stay.
    assert not list((tmp_path / "metrics").glob("gauge_live*"))
    assert list((tmp_path / "metrics").glob("counter_*.db"))


def test_worker_takes_its_flags_and_logs_json_lines(database: Database) -> None:
    env = _env(
        LENDGRAPH_ENV="production",
        APP_DATABASE_URL=_url(database.as_role(APP_ROLE, APP_PASSWORD)),
        # A database of its own on the machine's Redis: no other test's queue.
        BROKER_URL=REDIS_URL,
        LENDGRAPH_WORKER_THREADS="7",
        LENDGRAPH_DATA_KEY=DATA_KEY,
        **PROVIDERS,
        PYTHONWARNINGS="error",
    )
    process = subprocess.Popen(
        [LENDGRAPH, "worker", "--processes", "1", "--threads", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "Worker process is ready for action." in line:
                break
        # ``lendgraph worker`` became dramatiq's supervisor: the same process, the flags'
        # values on its command line, one worker process.
        argv = psutil.Process(process.pid).cmdline()
        assert argv[argv.index("--processes") + 1] == "1"
        assert argv[argv.index("--threads") + 1] == "2"
        assert len(psutil.Process(process.pid).children()) == 1
    finally:
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=60)
        # What the worker registered on the test's Redis database (its heartbeat).
        redis.Redis.from_url(REDIS_URL).delete("dramatiq:__heartbeats__")
    lines.extend(rest.splitlines(keepends=True))
    assert process.returncode == 0, "".join(lines)
    ready = [json.loads(line) for line in lines if "ready for action" in line]
    assert ready and ready[0]["level"] == "info", lines
    for line in lines:
        json.loads(line)
        assert "Warning" not in line


# --- seed-demo as a non-superuser owner -----------------------------------------------------------


def test_seed_demo_as_a_non_superuser_owner_acts_as_the_app_role(
    pg_server: URL, tmp_path: Path
) -> None:
    tag = secrets.token_hex(3)
    owner_role, app_role, name = f"lg_cli_own_{tag}", f"lg_cli_app_{tag}", f"lg_cli_own_{tag}"
    admin = pg_server.set(database="postgres")
    # An owner as a managed PostgreSQL gives one: not a superuser, allowed to create roles;
    # the migrations' trigger functions set app.platform, which needs the SET grant.
    _sql(
        admin,
        f"CREATE ROLE {owner_role} LOGIN CREATEROLE",
        f'CREATE DATABASE "{name}" OWNER {owner_role}',
        f"GRANT SET ON PARAMETER app.platform TO {owner_role}",
    )
    owner = pg_server.set(database=name, username=owner_role, password=None)
    settings = {
        "DATABASE_URL": _url(owner),
        "LENDGRAPH_APP_DB_ROLE": app_role,
        "LENDGRAPH_DATA_KEY": DATA_KEY,
        "LENDGRAPH_DATA_DIR": str(tmp_path),
    }
    try:
        migrated = _run(["migrate"], _env(LENDGRAPH_ENV="production", **settings))
        assert migrated.returncode == 0, migrated.stderr
        member = f"select pg_has_role('{owner_role}', '{app_role}', 'MEMBER')"
        assert _sql(admin, member) == [(True,)]

        # Without that membership the owner cannot act as the role, and seed-demo says so.
        _sql(admin, f"REVOKE {app_role} FROM {owner_role}")
        refused = _run(["seed-demo"], _env(LENDGRAPH_ENV="dev", **settings))
        assert _one_line_refusal(refused) == (
            f"lendgraph seed-demo: DATABASE_URL connects as {owner_role}, which may not act as "
            f"the application role {app_role}: run lendgraph migrate (it grants that) or "
            f"GRANT {app_role} TO {owner_role}"
        )

        # With the membership back (as migrate granted it above), the demo data is written.
        _sql(admin, f"GRANT {app_role} TO {owner_role}")
        seeded = _run(["seed-demo"], _env(LENDGRAPH_ENV="dev", **settings))
        assert seeded.returncode == 0, seeded.stderr
        assert seeded.stdout == "demo data created\n"
        # Counted as the superuser: row-level security (forced on owners too) hides them.
        (count,) = _sql(pg_server.set(database=name), "select count(*) from deals")[0]
        assert count > 0
    finally:
        _sql(
            admin,
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f"REVOKE SET ON PARAMETER app.platform FROM {owner_role}",
            f"DROP ROLE IF EXISTS {app_role}",
            f"DROP ROLE IF EXISTS {owner_role}",
        )


# --- lendgraph dev -------------------------------------------------------------------------------


def test_dev_starts_quietly_with_warnings_as_errors(tmp_path: Path) -> None:
    """A first ``lendgraph dev`` (a new embedded PostgreSQL, migrations, demo data): with every
    Python warning an error it still starts, its stderr holds no warning and none of the
    embedded server's transcripts, which go to DEBUG."""
    port = _free_port()
    err_path = tmp_path / "dev.err"
    # Not under pytest's folder: as root the server runs as another user, which must traverse
    # every parent folder, and any pytest run on the machine resets pytest-of-root to 0700.
    data_dir = Path(tempfile.mkdtemp(prefix="lendgraph-dev-e2e-"))
    data_dir.chmod(0o755)
    env = _env(LENDGRAPH_DATA_DIR=str(data_dir / "data"), PYTHONWARNINGS="error")
    with err_path.open("w") as err:
        process = subprocess.Popen(
            [LENDGRAPH, "dev", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"lendgraph dev exited early:\n{err_path.read_text()}")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            raise AssertionError(f"lendgraph dev did not become ready:\n{err_path.read_text()}")
    finally:
        code = _stop(process)
        shutil.rmtree(data_dir, ignore_errors=True)
    stderr = err_path.read_text()
    assert code == 0, stderr
    assert "embedded_postgres" in stderr  # lendgraph's own line saying where the data is
    assert "demo_data" in stderr
    assert "Warning" not in stderr, stderr
    assert "Traceback" not in stderr, stderr
    # The package's initdb/pg_ctl transcripts and Alembic's plugin set-up are DEBUG only.
    assert "[embedded_postgres]" not in stderr, stderr
    assert "initdb" not in stderr, stderr
    assert "setup plugin" not in stderr, stderr
