# ruff: noqa: S105, S603, S607, ASYNC221 - a local benchmark: demo credentials, its own tools
"""The read path against a hand-written ceiling, measured side by side in one run.

    .venv/bin/python bench/read_path.py                 # 3 runs x 15 s per query and load
    .venv/bin/python bench/read_path.py --duration 5    # shorter runs

One command: a fresh database on the local PostgreSQL (``--database-url``, the owner's), the
demo marketplace plus 20,000 deals of one funder and a few hundred listed products, then
lendgraph (``lendgraph serve``, one uvicorn process) and a plain Starlette + asyncpg endpoint
side by side. The plain endpoint answers the same documents with the same JSON (checked byte
for byte before anything is timed): it verifies the same RS256 token, binds the same scope and
checks the same principal in one statement, as the same application role under the same
row-level security. Both are loaded with wrk; for each query and number of connections it
prints the medians of the runs: req/s, CPU ms per request of the server process and of the
PostgreSQL backends of the bench database, p50/p99 latency, and the ratio. Statements per
request are counted on the wire (``tests/pg_wire.py``) in a short in-process run. Last, per list
query, PostgreSQL's execution time (EXPLAIN ANALYZE, median of 15) as the application role
under RLS beside the same SQL as the owner, with the query's own explicit filters and no RLS.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import orjson  # noqa: E402

DEALS = 20_000
PRODUCT_COPIES = 60  # x the demo's published products: a few hundred listed products
FUNDER = "east-river-bank"
STAFF = "admin@east-river-bank.dev"
PASSWORD = "demo-password-123"
CONSOLE = ("demo-console", "demo-console-secret")
PARTNER = ("demo-partner-app", "demo-partner-secret")

DEALS_QUERY = (
    "{ deals(first: 50) { edges { node { id status productLine"
    " request { amount { amount currency } term purpose }"
    " applicant { ... on Person { fullName } ... on Organization { name } }"
    " timeline { action fromStatus toStatus actorKind occurredAt } } } } }"
)
MARKETPLACE_QUERY = (
    "{ marketplace(first: 50) { edges { node { id name productLine status"
    " funder { name slug } } } } }"
)
LOANS_QUERY = (
    "{ loans(first: 50) { edges { node { id status principal { amount currency }"
    " valueDate maturityDate"
    " borrower { ... on Person { fullName } ... on Organization { name } }"
    " balances { kind balance { amount } }"
    " schedule { number dueDate principal { amount } interest { amount } total { amount } }"
    " } } } }"
)
QUERIES = {
    "deals(first: 50)": ("staff", DEALS_QUERY),
    "marketplace(first: 50)": ("partner", MARKETPLACE_QUERY),
    "loans(first: 50)": ("staff", LOANS_QUERY),
}
LOANS = 20_000
# The pages cost more than the default maximum of 1,000 per operation (deals 2,602, loans
# 3,702 by the declared list sizes of api/cost.py), and wrk asks far more than a client's
# bucket refills: the bench lifts the limits, so that it times the read path, not refusals.
COST_LIMITS = {
    "LENDGRAPH_MAX_QUERY_COST": "100000",
    "LENDGRAPH_COST_BUCKET_CAPACITY": "1e12",
    "LENDGRAPH_COST_RESTORE_RATE": "1e12",
}
# The virtualenv's tools: the repository's own, or the interpreter's running this.
BIN = ROOT / ".venv" / "bin" if (ROOT / ".venv" / "bin").is_dir() else Path(sys.executable).parent


# -- the plain endpoint ---------------------------------------------------------------------------

_BIND_AND_CHECK = (
    "select set_config('app.tenant_id', $1, true), set_config('app.platform', $2, true),"
    " set_config('app.user_id', $3, true), set_config('app.person_id', $4, true),"
    " set_config('app.organization_id', $5, true), set_config('app.client_id', $6, true),"
    " app_principal_active($7::text, $8::uuid, $9::uuid)"
)
_DEALS_SQL = (
    "select id, tenant_id, status, product_line, currency, amount_minor, term, purpose,"
    " applicant_person_id, applicant_organization_id from deals where tenant_id = $1"
    " order by created_at, tenant_id, id limit 50"
)
_EVENTS_SQL = (
    "select tenant_id, deal_id, action, from_status, to_status, actor_kind, occurred_at"
    " from deal_events where tenant_id = any($1::uuid[]) and deal_id = any($2::uuid[])"
    " order by tenant_id, deal_id, id"
)
_PERSONS_SQL = "select id, full_name from persons where id = any($1::uuid[])"
_ORGS_SQL = "select id, name from organizations where id = any($1::uuid[])"
_MARKET_SQL = (
    "select p.id, p.tenant_id, p.name, p.product_line, p.status from products p"
    " join product_versions v on v.tenant_id = p.tenant_id and v.product_id = p.id"
    " and v.version = p.current_version where p.listed"
    " order by p.published_at, p.tenant_id, p.id limit 50"
)
_TENANTS_SQL = "select id, name, slug from tenants where id = any($1::uuid[])"
_LOANS_SQL = (
    "select l.id, l.tenant_id, l.status, l.currency, l.principal_minor, l.value_date,"
    " l.maturity_date, l.schedule, d.applicant_person_id, d.applicant_organization_id"
    " from loans l join deals d on d.tenant_id = l.tenant_id and d.id = l.deal_id"
    " where l.tenant_id = $1 order by l.created_at, l.tenant_id, l.id limit 50"
)
_BALANCES_SQL = (
    "select a.loan_id, a.code, a.normal_side, coalesce(sum(j.amount_minor), 0) as total"
    " from ledger_accounts a left join journal_lines j"
    " on j.tenant_id = a.tenant_id and j.account_id = a.id"
    " where a.tenant_id = $1 and a.loan_id = any($2::uuid[])"
    " group by a.tenant_id, a.id order by a.loan_id, a.code, a.currency"
)


def _gid(kind: str, value: uuid.UUID) -> str:
    return base64.b64encode(f"{kind}:{value}".encode()).decode()


def _amount(minor: int) -> str:
    return str(Decimal(minor).scaleb(-2))


def baseline_app() -> Any:
    """The hand-written endpoint (uvicorn --factory): the same token check, the same scope
    bind and principal check in one statement, the same SQL shape, the same JSON."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from lendgraph import runtime
    from lendgraph.settings import Settings
    from tenants.tokens import AccessTokenValidator

    settings = Settings()
    keys = runtime.signing_keys(settings)
    validator = AccessTokenValidator(keys, settings.issuer, settings.audience)
    dsn = runtime.app_url(settings).set(drivername="postgresql").render_as_string(False)
    state: dict[str, Any] = {}

    async def pool() -> asyncpg.Pool:
        if "pool" not in state:
            state["pool"] = await asyncpg.create_pool(dsn, min_size=1, max_size=10)
        return state["pool"]

    async def endpoint(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        principal = validator.principal(header.partition(" ")[2])
        actor = principal.actor(None)
        body = orjson.loads(await request.body())
        s = lambda v: "" if v is None else str(v)  # noqa: E731
        async with (await pool()).acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                _BIND_AND_CHECK,
                s(actor.tenant_id),
                "on" if actor.is_platform else "",
                s(actor.user_id),
                s(actor.person_id),
                s(actor.organization_id),
                actor.client_id or "",
                principal.client_id,
                principal.user_id,
                principal.tenant_id,
            )
            if not row[-1]:
                return Response(status_code=401)
            if "loans(" in body["query"]:
                data = await _loans(conn, actor.tenant_id)
            elif "deals(" in body["query"]:
                data = await _deals(conn, actor.tenant_id)
            else:
                data = await _marketplace(conn)
        return Response(orjson.dumps({"data": data}), media_type="application/json")

    async def close() -> None:
        if "pool" in state:
            await state.pop("pool").close()

    app = Starlette(routes=[Route("/graphql", endpoint, methods=["POST"])])
    app.state.close = close
    return app


async def _deals(conn: asyncpg.Connection, tenant_id: uuid.UUID | None) -> dict[str, Any]:
    deals = await conn.fetch(_DEALS_SQL, tenant_id)
    ids = [d["id"] for d in deals]
    events = await conn.fetch(_EVENTS_SQL, list({d["tenant_id"] for d in deals}), ids)
    persons = {
        r["id"]: r["full_name"]
        for r in await conn.fetch(
            _PERSONS_SQL, [d["applicant_person_id"] for d in deals if d["applicant_person_id"]]
        )
    }
    orgs_wanted = [d["applicant_organization_id"] for d in deals if d["applicant_organization_id"]]
    orgs = (
        {r["id"]: r["name"] for r in await conn.fetch(_ORGS_SQL, orgs_wanted)}
        if orgs_wanted
        else {}
    )
    timeline: dict[tuple[uuid.UUID, uuid.UUID], list[dict[str, Any]]] = {}
    for e in events:
        timeline.setdefault((e["tenant_id"], e["deal_id"]), []).append(
            {
                "action": e["action"],
                "fromStatus": e["from_status"],
                "toStatus": e["to_status"],
                "actorKind": e["actor_kind"],
                "occurredAt": e["occurred_at"].isoformat(),
            }
        )
    edges = []
    for d in deals:
        if d["applicant_person_id"] is not None:
            applicant = {"fullName": persons[d["applicant_person_id"]]}
        else:
            applicant = {"name": orgs[d["applicant_organization_id"]]}
        edges.append(
            {
                "node": {
                    "id": _gid("Deal", d["id"]),
                    "status": d["status"],
                    "productLine": d["product_line"],
                    "request": {
                        "amount": {"amount": _amount(d["amount_minor"]), "currency": d["currency"]},
                        "term": d["term"],
                        "purpose": d["purpose"],
                    },
                    "applicant": applicant,
                    "timeline": timeline.get((d["tenant_id"], d["id"]), []),
                }
            }
        )
    return {"deals": {"edges": edges}}


async def _loans(conn: asyncpg.Connection, tenant_id: uuid.UUID | None) -> dict[str, Any]:
    loans = await conn.fetch(_LOANS_SQL, tenant_id)
    balances: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for b in await conn.fetch(_BALANCES_SQL, tenant_id, [r["id"] for r in loans]):
        signed = int(b["total"])  # sum() of bigint is numeric
        total = signed if b["normal_side"] == "DEBIT" else -signed
        balances.setdefault(b["loan_id"], []).append(
            {"kind": b["code"], "balance": {"amount": _amount(total)}}
        )
    person_ids = [r["applicant_person_id"] for r in loans if r["applicant_person_id"]]
    persons = (
        {r["id"]: r["full_name"] for r in await conn.fetch(_PERSONS_SQL, person_ids)}
        if person_ids
        else {}
    )
    org_ids = [r["applicant_organization_id"] for r in loans if r["applicant_organization_id"]]
    orgs = {r["id"]: r["name"] for r in await conn.fetch(_ORGS_SQL, org_ids)} if org_ids else {}
    edges = []
    for r in loans:
        if r["applicant_person_id"] is not None:
            borrower = {"fullName": persons[r["applicant_person_id"]]}
        else:
            borrower = {"name": orgs[r["applicant_organization_id"]]}
        edges.append(
            {
                "node": {
                    "id": _gid("Loan", r["id"]),
                    "status": r["status"],
                    "principal": {
                        "amount": _amount(r["principal_minor"]),
                        "currency": r["currency"],
                    },
                    "valueDate": r["value_date"].isoformat(),
                    "maturityDate": r["maturity_date"].isoformat(),
                    "borrower": borrower,
                    "balances": balances.get(r["id"], []),
                    "schedule": [
                        {
                            "number": line["number"],
                            "dueDate": line["due_date"],
                            "principal": {"amount": _amount(line["principal_minor"])},
                            "interest": {"amount": _amount(line["interest_minor"])},
                            "total": {"amount": _amount(line["total_minor"])},
                        }
                        for line in orjson.loads(r["schedule"])
                    ],
                }
            }
        )
    return {"loans": {"edges": edges}}


async def _marketplace(conn: asyncpg.Connection) -> dict[str, Any]:
    products = await conn.fetch(_MARKET_SQL)
    tenants = {
        r["id"]: {"name": r["name"], "slug": r["slug"]}
        for r in await conn.fetch(_TENANTS_SQL, list({p["tenant_id"] for p in products}))
    }
    edges = [
        {
            "node": {
                "id": _gid("Product", p["id"]),
                "name": p["name"],
                "productLine": p["product_line"],
                "status": p["status"],
                "funder": tenants.get(p["tenant_id"]),
            }
        }
        for p in products
    ]
    return {"marketplace": {"edges": edges}}


# -- the data set ---------------------------------------------------------------------------------


def _run(cmd: list[str], env: dict[str, str]) -> None:
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)


async def build_data(owner_dsn: str, env: dict[str, str]) -> None:
    """A fresh database: migrations, the demo marketplace, 20,000 deals of one funder (copies
    of its consumer deals, each with its timeline) and copies of the listed products."""
    server, _, name = owner_dsn.rpartition("/")
    admin = await asyncpg.connect(server + "/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    lendgraph = str(BIN / "lendgraph")
    _run([lendgraph, "migrate"], env)
    _run([lendgraph, "seed-demo"], env)
    conn = await asyncpg.connect(owner_dsn)
    try:
        tenant = await conn.fetchval("select id from tenants where slug = $1", FUNDER)
        cols = [
            r["column_name"]
            for r in await conn.fetch(
                "select column_name from information_schema.columns"
                " where table_name = 'deals' and table_schema = 'public' order by ordinal_position"
            )
        ]
        template = await conn.fetchrow(
            "select id from deals where tenant_id = $1 and product_line = 'CONSUMER_CREDIT'"
            " and applicant_person_id is not null order by created_at, id limit 1",
            tenant,
        )
        assert template is not None, "the demo has no consumer deal at the funder"
        await conn.execute(
            "create temp table copies as select gen_random_uuid() as id, n"
            " from generate_series(1, $1) n",
            DEALS,
        )
        select = ", ".join(
            {
                "id": "c.id",
                "created_at": "d.created_at - make_interval(secs => c.n)",
                "updated_at": "d.updated_at - make_interval(secs => c.n)",
            }.get(col, f"d.{col}")
            for col in cols
        )
        await conn.execute(
            f"insert into deals ({', '.join(cols)}) select {select}"
            " from deals d, copies c where d.id = $1",
            template["id"],
        )
        ecols = [
            r["column_name"]
            for r in await conn.fetch(
                "select column_name from information_schema.columns where table_name ="
                " 'deal_events' and table_schema = 'public' and column_name <> 'id'"
                " order by ordinal_position"
            )
        ]
        eselect = ", ".join(
            {"deal_id": "c.id", "occurred_at": "e.occurred_at - make_interval(secs => c.n)"}.get(
                col, f"e.{col}"
            )
            for col in ecols
        )
        await conn.execute(
            f"insert into deal_events ({', '.join(ecols)}) select {eselect}"
            " from deal_events e, copies c where e.deal_id = $1",
            template["id"],
        )
        await _copy_products(conn)
    finally:
        await conn.close()
    await _seed_loans(owner_dsn, tenant, template["id"])
    conn = await asyncpg.connect(owner_dsn)
    try:
        await conn.execute("analyze")
    finally:
        await conn.close()


async def _seed_loans(owner_dsn: str, tenant: uuid.UUID, template: uuid.UUID) -> None:
    """The funder's ACTIVE loans, each with its ledger accounts and disbursement entry, on
    copies of the consumer deal (tests/loans_support.py, in bulk SQL)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from tests.loans_support import seed_loans

    engine = create_async_engine(owner_dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("select set_config('app.platform', 'on', true)"))
            await seed_loans(conn, tenant_id=tenant, template_deal_id=template, count=LOANS)
    finally:
        await engine.dispose()


async def _copy_products(conn: asyncpg.Connection) -> None:
    async def columns(table: str) -> list[str]:
        return [
            r["column_name"]
            for r in await conn.fetch(
                "select column_name from information_schema.columns where table_name = $1"
                " and table_schema = 'public' order by ordinal_position",
                table,
            )
        ]

    await conn.execute(
        "create temp table product_copies as select p.tenant_id, p.id as old_id,"
        " gen_random_uuid() as id, n from products p, generate_series(1, $1) n"
        " where p.status = 'PUBLISHED'",
        PRODUCT_COPIES,
    )
    pcols = await columns("products")
    pselect = ", ".join(
        {
            "id": "c.id",
            "name": "p.name || ' ' || c.n",
            "published_at": "p.published_at - make_interval(secs => c.n)",
            "listed": "false",
        }.get(col, f"p.{col}")
        for col in pcols
    )
    await conn.execute(
        f"insert into products ({', '.join(pcols)}) select {pselect}"
        " from products p join product_copies c on c.old_id = p.id and c.tenant_id = p.tenant_id"
    )
    vcols = await columns("product_versions")
    vselect = ", ".join(
        {"id": "gen_random_uuid()", "product_id": "c.id", "listed": "false"}.get(col, f"v.{col}")
        for col in vcols
    )
    await conn.execute(
        f"insert into product_versions ({', '.join(vcols)}) select {vselect}"
        " from product_versions v join product_copies c"
        " on c.old_id = v.product_id and c.tenant_id = v.tenant_id"
    )
    # As the migration that introduced them: the triggers set the listed flags of a product
    # and its current version on the product's update, now that both rows exist.
    await conn.execute(
        "update products p set status = p.status from product_copies c"
        " where p.id = c.id and p.tenant_id = c.tenant_id"
    )


# -- processes and load ---------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"


def start(name: str, args: list[str], port: int, env: dict[str, str]) -> Server:
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.post(f"http://127.0.0.1:{port}/graphql", content=b"{}", timeout=2)
            return Server(name, process, port)
        except httpx.HTTPError as exc:
            if process.poll() is not None:
                tail = process.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
                raise SystemExit(f"{name} exited: {tail}") from exc
            time.sleep(0.3)
    raise SystemExit(f"{name} did not start")


def cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


async def backend_pids(owner_dsn: str) -> list[int]:
    conn = await asyncpg.connect(owner_dsn)
    try:
        rows = await conn.fetch(
            "select pid from pg_stat_activity where datname = current_database()"
            " and pid <> pg_backend_pid()"
        )
        return [r["pid"] for r in rows]
    finally:
        await conn.close()


def wrk_script(folder: Path, token: str, query: str) -> Path:
    body = json.dumps({"query": query})
    script = folder / f"post-{abs(hash((token, query)))}.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    )
    return script


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


@dataclass
class Run:
    rps: float
    server_ms: float
    pg_ms: float
    p50: float
    p99: float


async def load(server: Server, script: Path, connections: int, duration: int, owner: str) -> Run:
    pg = await backend_pids(owner)
    before = cpu_seconds([server.process.pid]), cpu_seconds(pg)
    out = subprocess.run(
        [
            "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "60s",
            "-s", str(script), server.url,
        ],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    pg_after = await backend_pids(owner)
    after = cpu_seconds([server.process.pid]), cpu_seconds(sorted(set(pg) | set(pg_after)))
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    if "Non-2xx" in out:
        raise SystemExit(f"{server.name}: non-2xx answers under load:\n{out}")
    latency = dict(re.findall(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+(?:us|ms|s))\s*$", out, re.M))
    if "50" not in latency or "99" not in latency:
        raise SystemExit(f"{server.name}: no latency distribution in wrk's output:\n{out}")
    return Run(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        server_ms=(after[0] - before[0]) * 1000 / max(total, 1),
        pg_ms=(after[1] - before[1]) * 1000 / max(total, 1),
        p50=_ms(latency["50"]),
        p99=_ms(latency["99"]),
    )


def median_run(runs: list[Run]) -> Run:
    return Run(*(statistics.median(getattr(r, f) for r in runs) for f in Run.__dataclass_fields__))


# -- statements and plans -------------------------------------------------------------------------


async def count_statements(owner_dsn: str, env: dict[str, str], tokens: dict[str, str]) -> dict:
    """Statements per request of both endpoints, counted on the wire, and the SQL lendgraph
    ran for each query (for the plans below)."""
    os.environ.update(env)
    from sqlalchemy import event
    from sqlalchemy.engine import make_url

    from api.app import build_state, create_app
    from lendgraph.logs import configure_logging
    from lendgraph.settings import Settings
    from tests.pg_wire import CountingProxy

    configure_logging("WARNING", False)

    settings = Settings()
    url = make_url(owner_dsn)
    proxy = CountingProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    settings = settings.model_copy(update={"database_url": proxied})
    os.environ["DATABASE_URL"] = proxied
    state = build_state(settings)
    captured: list[tuple[str, Any]] = []
    event.listen(
        state.engine.sync_engine,
        "before_cursor_execute",
        lambda c, cur, sql, params, *a: captured.append((sql, params)),
    )
    apps = {"lendgraph": create_app(settings, state=state), "baseline": baseline_app()}
    counts: dict[str, dict[str, int]] = {}
    sql: dict[str, list[tuple[str, Any]]] = {}
    bodies: dict[str, dict[str, bytes]] = {}
    for name, app in apps.items():
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench"
        ) as client:
            for label, (who, query) in QUERIES.items():
                headers = {"Authorization": f"Bearer {tokens[who]}"}
                await client.post("/graphql", json={"query": query}, headers=headers)
                proxy.reset()
                captured.clear()
                response = await client.post("/graphql", json={"query": query}, headers=headers)
                assert response.status_code == 200, response.text
                counts.setdefault(label, {})[name] = len(proxy.reset())
                bodies.setdefault(label, {})[name] = response.content
                if name == "lendgraph":
                    sql[label] = list(captured)
    await apps["baseline"].state.close()
    await state.engine.dispose()
    await proxy.stop()
    os.environ["DATABASE_URL"] = owner_dsn
    return {"counts": counts, "sql": sql, "bodies": bodies}


async def plan_times(owner_dsn: str, app_dsn: str, sql: dict[str, list[tuple[str, Any]]]) -> list:
    """Per statement of each list query: median execution time as the application role under
    RLS (after the request's own scope bind) and as the owner (no RLS, the same explicit
    filters)."""
    rows = []
    for label, statements in sql.items():
        bind = next(s for s in statements if "set_config('app.tenant_id'" in s[0])
        for text_, params in statements:
            if "set_config(" in text_:
                continue
            times = {}
            for who, dsn in (("rls", app_dsn), ("owner", owner_dsn)):
                conn = await asyncpg.connect(dsn)
                try:
                    samples = []
                    for _ in range(15):
                        async with conn.transaction():
                            if who == "rls":
                                await conn.fetch(bind[0], *bind[1])
                            plan = await conn.fetchval(
                                "EXPLAIN (ANALYZE, FORMAT JSON) " + text_, *params
                            )
                            samples.append(json.loads(plan)[0]["Execution Time"])
                    times[who] = statistics.median(samples)
                finally:
                    await conn.close()
            table = re.search(r"FROM (\w+)", text_)
            rows.append((label, table.group(1) if table else "?", times["rls"], times["owner"]))
    return rows


# -- main -----------------------------------------------------------------------------------------


async def tokens_from(url: str) -> dict[str, str]:
    async with httpx.AsyncClient() as client:
        staff = await client.post(
            url.replace("/graphql", "/oauth/token"),
            data={"grant_type": "password", "username": STAFF, "password": PASSWORD},
            auth=CONSOLE,
        )
        partner = await client.post(
            url.replace("/graphql", "/oauth/token"),
            data={"grant_type": "client_credentials"},
            auth=PARTNER,
        )
    return {"staff": staff.json()["access_token"], "partner": partner.json()["access_token"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/lendgraph_bench",
        help="the owner's connection to the bench database (dropped and created afresh)",
    )
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3, help="runs per query and load")
    parser.add_argument("--connections", default="1,8", help="wrk connections, comma-separated")
    parser.add_argument("--skip-data", action="store_true", help="reuse the existing database")
    parser.add_argument(
        "--base-port",
        type=int,
        default=8431,
        help="lendgraph listens on this port, the plain endpoint on the next one",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    folder = Path(tempfile.mkdtemp(prefix="lendgraph-bench-"))
    owner = args.database_url
    env = {
        **os.environ,
        "LENDGRAPH_ENV": "dev",
        "DATABASE_URL": owner,
        "LENDGRAPH_DATA_DIR": str(folder / "data"),
        "LENDGRAPH_LOG_LEVEL": "WARNING",
        **COST_LIMITS,
        "PYTHONPATH": str(ROOT),
    }
    if not args.skip_data:
        print(f"building the data set in {owner} ...", flush=True)
        asyncio.run(build_data(owner, env))
    python = str(BIN / "python")
    uvicorn = [python, "-m", "uvicorn", "--log-level", "warning", "--no-access-log"]
    lg_port, base_port = args.base_port, args.base_port + 1
    lendgraph = start(
        "lendgraph", [str(BIN / "lendgraph"), "serve", "--port", str(lg_port)], lg_port, env,
    )  # fmt: skip
    baseline = start(
        "baseline",
        [*uvicorn, "--factory", "bench.read_path:baseline_app", "--port", str(base_port)],
        base_port, env,
    )  # fmt: skip
    try:
        tokens = asyncio.run(tokens_from(lendgraph.url))
        counted = asyncio.run(count_statements(owner, env, tokens))
        for label, bodies in counted["bodies"].items():
            # lendgraph's answer ends with its extensions.cost, which the plain endpoint has
            # no part of: the data member is compared byte for byte.
            data = orjson.dumps({"data": orjson.loads(bodies["lendgraph"])["data"]})
            same = data == bodies["baseline"]
            print(f"{label}: JSON data byte-identical: {same}")
            if not same:
                (folder / "lendgraph.json").write_bytes(bodies["lendgraph"])
                (folder / "baseline.json").write_bytes(bodies["baseline"])
                print(f"  (both answers in {folder})")
        print()
        header = (
            f"{'query':<24}{'conns':>6} | {'req/s lg':>9} {'base':>7} {'ratio':>7} |"
            f" {'srv ms/req lg':>13} {'base':>6} | {'pg ms/req lg':>12} {'base':>6} |"
            f" {'p50 lg':>7} {'p99 lg':>7} {'p50 b':>6} {'p99 b':>6} | {'stmts lg/base':>13}"
        )
        print(header)
        print("-" * len(header))
        for label, (who, query) in QUERIES.items():
            script = wrk_script(folder, tokens[who], query)
            for connections in (int(c) for c in args.connections.split(",")):
                results: dict[str, list[Run]] = {"lg": [], "base": []}
                for _ in range(args.runs):
                    for key, server in (("lg", lendgraph), ("base", baseline)):
                        results[key].append(
                            asyncio.run(load(server, script, connections, args.duration, owner))
                        )
                lg, base = median_run(results["lg"]), median_run(results["base"])
                stmts = counted["counts"][label]
                print(
                    f"{label:<24}{connections:>6} | {lg.rps:>9.1f} {base.rps:>7.1f}"
                    f" {lg.rps / base.rps:>6.3f}x | {lg.server_ms:>13.2f} {base.server_ms:>6.2f} |"
                    f" {lg.pg_ms:>12.2f} {base.pg_ms:>6.2f} | {lg.p50:>7.1f} {lg.p99:>7.1f}"
                    f" {base.p50:>6.1f} {base.p99:>6.1f} |"
                    f" {stmts['lendgraph']:>6}/{stmts['baseline']:<6}",
                    flush=True,
                )
        print("\nPostgreSQL execution time per statement (median of 15, ms):")
        app_dsn = owner.replace("postgres@", "lendgraph_app@", 1)
        for label, table, rls, plain in asyncio.run(plan_times(owner, app_dsn, counted["sql"])):
            ratio = rls / plain if plain else float("nan")
            print(f"  {label:<24} {table:<18} RLS {rls:7.3f}   owner {plain:7.3f}   {ratio:5.2f}x")
    finally:
        for server in (lendgraph, baseline):
            server.process.send_signal(signal.SIGINT)
            server.process.wait(timeout=20)


if __name__ == "__main__":
    main()
