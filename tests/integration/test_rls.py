"""Database-level tenant isolation (DESIGN.md section 5), checked against PostgreSQL itself.

Every query here runs as the application role, the one the service connects as, with the scope
bound per transaction through ``set_config(..., true)`` (by hand, or through the session hook
of ``domain.persistence.scope``). The owner connection is used only to seed rows below RLS and
to know the truth to compare against. Tables are discovered from the catalog, so a table added
later is covered without editing this file, or makes a test fail until its rules are declared
here (what a tenant may see of it, which rows are public, how to build a row of it)."""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.state import AppState
from domain.parties.models import PUBLIC_ORGANIZATION_KINDS
from domain.persistence.engine import create_engine, open_session, session_factory
from domain.persistence.scope import NO_SCOPE, PLATFORM_SCOPE, DbScope
from lendgraph import runtime
from tests.support import World, seed_world

# Tables outside row-level security by design.
NOT_RLS_TABLES = frozenset({"alembic_version"})

# Tenant tables whose policy is platform-only: a tenant sees none of their rows, its own
# included (refresh tokens are read and written only by the token endpoint, in platform scope).
PLATFORM_ONLY_TENANT_TABLES = frozenset({"refresh_tokens"})

# Tenant tables whose rows belong to a principal, not to a tenant: an idempotency key is its
# (client, user, tenant)'s, so a scope that binds a tenant alone sees none of them either.
PRINCIPAL_TENANT_TABLES = frozenset({"idempotency_keys"})
TENANT_BLIND_TABLES = PLATFORM_ONLY_TENANT_TABLES | PRINCIPAL_TENANT_TABLES

# What tenant A (bound alone, no user/person/organization) may see of the tables without a
# ``tenant_id`` column, besides their public rows. ``:a`` is tenant A.
OWN_ROWS = {
    "tenants": "id = :a",
    "users": "exists (select 1 from memberships m where m.user_id = users.id and m.tenant_id = :a)",
    # Deals (0005) and relationships (0006): a funder sees the applicants of its own deals
    # and the parties it acts for (its live customers).
    "persons": "exists (select 1 from deals d"
    " where d.applicant_person_id = persons.id and d.tenant_id = :a)"
    " or exists (select 1 from tenant_customers c where c.person_id = persons.id"
    " and c.tenant_id = :a and c.revoked_at is null)",
    "organizations": "exists (select 1 from deals d"
    " where d.applicant_organization_id = organizations.id and d.tenant_id = :a)"
    " or exists (select 1 from tenant_customers c where c.organization_id = organizations.id"
    " and c.tenant_id = :a and c.revoked_at is null)",
    # Supply chain (0003, widened by 0005 and 0006): a funder sees the orders and receipts
    # its deals name, the receipts its deals have claimed, those of its customers, and the
    # documents attached to any of them.
    "purchase_orders": "exists (select 1 from deals d"
    " where d.purchase_order_id = purchase_orders.id and d.tenant_id = :a)"
    " or exists (select 1 from tenant_customers c where c.tenant_id = :a"
    " and c.organization_id = purchase_orders.seller_organization_id and c.revoked_at is null)",
    "warehouse_receipts": "exists (select 1 from receipt_claims c"
    " where c.receipt_id = warehouse_receipts.id and c.tenant_id = :a)"
    " or exists (select 1 from deals d"
    " where d.tenant_id = :a and d.warehouse_receipt_ids @> array[warehouse_receipts.id])"
    " or exists (select 1 from tenant_customers c where c.tenant_id = :a"
    " and c.organization_id = warehouse_receipts.owner_organization_id"
    " and c.revoked_at is null)",
    "documents": "exists (select 1 from warehouse_receipts r where r.id ="
    " documents.warehouse_receipt_id and (exists (select 1 from receipt_claims c"
    " where c.receipt_id = r.id and c.tenant_id = :a)"
    " or exists (select 1 from deals d where d.tenant_id = :a"
    " and d.warehouse_receipt_ids @> array[r.id])"
    " or exists (select 1 from tenant_customers c where c.tenant_id = :a"
    " and c.organization_id = r.owner_organization_id and c.revoked_at is null)))"
    " or exists (select 1 from purchase_orders p where p.id = documents.purchase_order_id"
    " and (exists (select 1 from deals d where d.tenant_id = :a and d.purchase_order_id = p.id)"
    " or exists (select 1 from tenant_customers c where c.tenant_id = :a"
    " and c.organization_id = p.seller_organization_id and c.revoked_at is null)))",
    # A funder sees no organization's agents (its own relationships are tenant rows).
    "party_agents": "false",
    # Nothing of the operator's calendars beyond their live (public) rows.
    "calendar_days": "false",
    # The inbox of provider callbacks (0018) is the platform's alone.
    "webhook_events": "false",
}

PUBLIC_ORGANIZATION_KIND_NAMES = frozenset({"CORE_ENTERPRISE", "WAREHOUSE", "PARTNER"})
PRIVATE_ORGANIZATION_KIND_NAMES = frozenset({"TRADE_ENTERPRISE", "CARGO_OWNER"})

# Rows readable to any scope, even none, by design: the public organization kinds and the
# marketplace (published products, their current version, active funders that publish).
# A rule applies only when every table it names exists.
PUBLIC_ROWS: dict[str, tuple[frozenset[str], str]] = {
    "organizations": (
        frozenset({"organizations"}),
        "kind in ('CORE_ENTERPRISE', 'WAREHOUSE', 'PARTNER')",
    ),
    # Published by an ACTIVE funder (0006: a disabled funder's products are not public).
    "products": (
        frozenset({"products"}),
        "status = 'PUBLISHED' and exists (select 1 from tenants t"
        " where t.id = products.tenant_id and t.status = 'ACTIVE')",
    ),
    "product_versions": (
        frozenset({"products", "product_versions"}),
        "exists (select 1 from products p join tenants t on t.id = p.tenant_id"
        " where p.tenant_id = product_versions.tenant_id"
        " and p.id = product_versions.product_id and p.status = 'PUBLISHED'"
        " and t.status = 'ACTIVE' and p.current_version = product_versions.version)",
    ),
    "tenants": (
        frozenset({"tenants", "products"}),
        "status = 'ACTIVE' and exists (select 1 from products p"
        " where p.tenant_id = tenants.id and p.status = 'PUBLISHED')",
    ),
    # The operator's holidays and make-up working days (0008): every quote reads them.
    # Live rows only: a removed entry is the operator's history.
    "calendar_days": (frozenset({"calendar_days"}), "removed_at is null"),
}

RLS_VIOLATION = "row-level security"
PERMISSION_DENIED = "permission denied"
SETTINGS = ("tenant_id", "platform", "user_id", "person_id", "organization_id", "client_id")


# --- catalog -------------------------------------------------------------------------------


async def _rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def _scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    return (await _rows(engine, sql, **params))[0][0]


async def tenant_tables(owner: AsyncEngine) -> list[str]:
    """Every base table in ``public`` with a ``tenant_id`` column."""
    rows = await _rows(
        owner,
        """
        select c.table_name
        from information_schema.columns c
        join information_schema.tables t
          on t.table_schema = c.table_schema and t.table_name = c.table_name
        where c.table_schema = 'public' and c.column_name = 'tenant_id'
          and t.table_type = 'BASE TABLE'
        order by 1
        """,
    )
    return [r[0] for r in rows]


async def public_tables(owner: AsyncEngine) -> list[str]:
    """Every table (plain or partitioned) in ``public`` except the ones outside RLS."""
    rows = await _rows(
        owner,
        """
        select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind in ('r', 'p') order by 1
        """,
    )
    return [r[0] for r in rows if r[0] not in NOT_RLS_TABLES]


async def nullable_tenant_tables(owner: AsyncEngine) -> set[str]:
    rows = await _rows(
        owner,
        """
        select table_name from information_schema.columns
        where table_schema = 'public' and column_name = 'tenant_id' and is_nullable = 'YES'
        """,
    )
    return {r[0] for r in rows}


async def app_privileged(owner: AsyncEngine, role: str, tables: list[str], priv: str) -> list[str]:
    """The tables on which ``role`` holds ``priv`` (on the table or on any of its columns)."""
    rows = await _rows(
        owner,
        """
        select t from unnest(cast(:tables as text[])) as t
        where has_table_privilege(:role, t, :priv)
           or (:priv in ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
               and has_any_column_privilege(:role, t, :priv))
        order by 1
        """,
        tables=tables,
        role=role,
        priv=priv,
    )
    return [r[0] for r in rows]


async def updatable_column(owner: AsyncEngine, role: str, table: str) -> str:
    rows = await _rows(
        owner,
        """
        select a.attname from pg_attribute a
        where a.attrelid = cast(:t as regclass) and a.attnum > 0 and not a.attisdropped
          and has_column_privilege(:role, a.attrelid, a.attnum, 'UPDATE')
        order by a.attnum limit 1
        """,
        t=table,
        role=role,
    )
    assert rows, f"{role} may update {table} but no column of it"
    return str(rows[0][0])


async def has_user_triggers(owner: AsyncEngine, table: str) -> bool:
    return bool(
        await _scalar(
            owner,
            "select exists (select 1 from pg_trigger"
            " where tgrelid = cast(:t as regclass) and not tgisinternal)",
            t=table,
        )
    )


def public_rules(tables: set[str]) -> dict[str, str]:
    return {t: sql for t, (needs, sql) in PUBLIC_ROWS.items() if needs <= tables}


# --- scopes ----------------------------------------------------------------------------------


async def bind(conn: AsyncConnection, **values: str) -> None:
    """Bind ``app.<name>`` settings for the current transaction only."""
    for name, value in values.items():
        await conn.execute(
            text("select set_config(:name, :value, true)"), {"name": f"app.{name}", "value": value}
        )


@asynccontextmanager
async def app_tx(engine: AsyncEngine, **values: str) -> AsyncIterator[AsyncConnection]:
    """A transaction on the application role with the given ``app.*`` settings, rolled back."""
    async with engine.connect() as conn:
        tx = await conn.begin()
        try:
            await bind(conn, **values)
            yield conn
        finally:
            if tx.is_active:
                await tx.rollback()


@asynccontextmanager
async def session_tx(state: AppState, scope: DbScope) -> AsyncIterator[AsyncConnection]:
    """A transaction opened the way the application opens them (scope bound on begin)."""
    async with open_session(state.sessions, scope) as session:
        conn = await session.connection()
        try:
            yield conn
        finally:
            await session.rollback()


def scope_of(mode: str, state: AppState, tenant: uuid.UUID | None, platform: bool = False):  # type: ignore[no-untyped-def]
    """A scoped transaction opened either by the session hook or by hand with set_config."""
    if mode == "session":
        return session_tx(state, DbScope(tenant_id=tenant, platform=platform))
    values = {"tenant_id": "" if tenant is None else str(tenant)}
    if platform:
        values["platform"] = "on"
    return app_tx(state.engine, **values)


async def by_tenant(conn: AsyncConnection | AsyncEngine, table: str) -> Counter[uuid.UUID | None]:
    """How many rows of ``table`` each tenant (None: no tenant) has, as ``conn`` sees them."""
    sql = text(f'select tenant_id, count(*) from "{table}" group by tenant_id')
    if isinstance(conn, AsyncEngine):
        async with conn.connect() as c:
            rows = (await c.execute(sql)).all()
    else:
        rows = (await conn.execute(sql)).all()
    return Counter({r[0]: r[1] for r in rows})


async def count(conn: AsyncConnection, table: str) -> int:
    return int((await conn.execute(text(f'select count(*) from "{table}"'))).scalar_one())


async def ids(conn: AsyncConnection | AsyncEngine, sql: str, **params: Any) -> set[Any]:
    if isinstance(conn, AsyncEngine):
        async with conn.connect() as c:
            return {r[0] for r in (await c.execute(text(sql), params)).all()}
    return {r[0] for r in (await conn.execute(text(sql), params)).all()}


async def seen_rows(conn: AsyncConnection, table: str) -> Counter[str]:
    """Every row of ``table`` the connection sees, as text (the whole row)."""
    result = await conn.execute(text(f'select "{table}"::text from "{table}"'))
    return Counter(r[0] for r in result.all())


async def expected_rows(owner: AsyncEngine, table: str, where: str, **params: Any) -> Counter[str]:
    """The rows of ``table`` matching ``where``, read by the owner below RLS."""
    async with owner.connect() as conn:
        result = await conn.execute(
            text(f'select "{table}"::text from "{table}" where ({where})'), params
        )
        return Counter(r[0] for r in result.all())


async def assert_sees_exactly(
    conn: AsyncConnection,
    owner: AsyncEngine,
    tenant: uuid.UUID | None,
    tables: list[str] | None = None,
) -> None:
    """``conn`` sees, in every table, exactly the rows tenant ``tenant`` (or, for None, a
    scope with nothing bound) may see: its own rows and the public ones."""
    all_tables = await public_tables(owner)
    tenant_owned = set(await tenant_tables(owner))
    public = public_rules(set(all_tables))
    for table in tables or all_tables:
        if tenant is None or table in TENANT_BLIND_TABLES:
            own = "false"
        elif table in tenant_owned:
            own = "tenant_id = :a"
        else:
            assert table in OWN_ROWS, f"declare in OWN_ROWS what a tenant may see of {table}"
            own = OWN_ROWS[table]
        where = f"({own}) or ({public.get(table, 'false')})"
        expected = await expected_rows(owner, table, where, a=tenant)
        seen = await seen_rows(conn, table)
        assert seen == expected, (
            f"{table} as {tenant or 'no tenant'}: "
            f"unexpected {sorted(seen - expected)}, missing {sorted(expected - seen)}"
        )


# --- the world -------------------------------------------------------------------------------

_VERSION_COLUMNS = (
    "tenant_id, id, product_id, version, currency, min_amount_minor, max_amount_minor,"
    " term_unit, allowed_terms, annual_rate, repayment_method, day_count,"
    " origination_fee_kind, late_penalty_daily_rate, late_penalty_basis,"
    " late_penalty_grace_days, prepayment_penalty_rate, prepayment_free_allowance"
)
_VERSION_VALUES = (
    ":t, :id, :p, :v, 'CNY', 100000, 5000000, 'MONTH', '{6,12}', 0.12, 'EQUAL_INSTALLMENT',"
    " 'ACT_365', 'NONE', 0.0005, 'OVERDUE_PRINCIPAL', 3, 0, 0"
)
INSERT_VERSION = f"insert into product_versions ({_VERSION_COLUMNS}) values ({_VERSION_VALUES})"
INSERT_PRODUCT = (
    "insert into products (tenant_id, id, product_line, name, status, current_version,"
    " published_at) values (:t, :id, 'CONSUMER_CREDIT', :n, :s, :v, :pub)"
)


def product_row(tenant: uuid.UUID | None, status: str, version: int = 1) -> dict[str, Any]:
    published = None if status == "DRAFT" else datetime.now(UTC)
    return {
        "t": tenant,
        "id": uuid.uuid4(),
        "n": f"{status} loan",
        "s": status,
        "v": version,
        "pub": published,
    }


async def _seed_products(conn: AsyncConnection, tenants: list[uuid.UUID]) -> None:
    """For each tenant: a DRAFT product (one version) and a PUBLISHED one whose current
    version is 2 (so version 1 is not public)."""
    for tenant in tenants:
        for status, versions in (("DRAFT", 1), ("PUBLISHED", 2)):
            row = product_row(tenant, status, versions)
            product = row["id"]
            await conn.execute(text(INSERT_PRODUCT), row)
            for v in range(1, versions + 1):
                await conn.execute(
                    text(INSERT_VERSION), {"t": tenant, "id": uuid.uuid4(), "p": product, "v": v}
                )


async def populated_world(state: AppState, owner: AsyncEngine) -> World:
    """seed_world, plus (as the owner) the rows it does not create: refresh tokens for both
    tenants and a platform-level one; an organization of every kind; platform-level audit and
    event rows; products (when that table exists) for A and B, and two more tenants, one
    without a published product and one disabled with one. See assert_seeded."""
    world = await seed_world(state)
    tables = set(await public_tables(owner))
    async with owner.begin() as conn:
        for tenant, client_pk, user_id in (
            (world.a.id, world.a.service_client_pk, world.a.admin_user_id),
            (world.b.id, world.b.service_client_pk, None),
            (None, world.partner_client_pk, None),
        ):
            await conn.execute(
                text(
                    "insert into refresh_tokens (id, token_hash, client_pk, user_id, tenant_id,"
                    " scope, expires_at) values (:id, :h, :c, :u, :t, 'viewer:read',"
                    " now() + interval '1 hour')"
                ),
                {
                    "id": uuid.uuid4(),
                    "h": secrets.token_bytes(32),
                    "c": client_pk,
                    "u": user_id,
                    "t": tenant,
                },
            )
        present = {
            r[0] for r in (await conn.execute(text("select distinct kind from organizations")))
        }
        kinds = sorted(PUBLIC_ORGANIZATION_KIND_NAMES | PRIVATE_ORGANIZATION_KIND_NAMES)
        for n, kind in enumerate(kinds):
            if kind not in present:
                await conn.execute(
                    text(
                        "insert into organizations (id, kind, name, social_credit_code)"
                        " values (:id, :k, :n, :code)"
                    ),
                    {"id": uuid.uuid4(), "k": kind, "n": f"Org {kind}", "code": f"X{n:017d}"},
                )
        await conn.execute(
            text(
                "insert into audit_log (tenant_id, action, object_type, object_id)"
                " values (null, 'platform.thing', 'Thing', 'x')"
            )
        )
        await conn.execute(
            text(
                "insert into events (tenant_id, type, aggregate_type, aggregate_id)"
                " values (null, 'platform.thing', 'Thing', 'x')"
            )
        )
        if "products" in tables:
            extra = []
            for slug, status in (("bank-c", "ACTIVE"), ("bank-d", "DISABLED")):
                tid = uuid.uuid4()
                extra.append(tid)
                await conn.execute(
                    text(
                        "insert into tenants (id, name, slug, kind, time_zone, currency, status)"
                        " values (:id, :slug, :slug, 'BANK', 'Asia/Shanghai', 'CNY', :s)"
                    ),
                    {"id": tid, "slug": slug, "s": status},
                )
            await _seed_products(conn, [world.a.id, world.b.id, extra[1]])
            # Bank C only drafts.
            await conn.execute(text(INSERT_PRODUCT), product_row(extra[0], "DRAFT"))
        if "receipt_claims" in tables:
            await _seed_supply_chain(conn, world)
        if "calendar_days" in tables:
            await conn.execute(
                text(
                    "insert into calendar_days (calendar, day, working, label, removed_at)"
                    " values ('CN', '2027-10-01', false, 'National Day', null),"
                    " ('CN', '2027-10-09', true, 'Withdrawn make-up day', now())"
                )
            )
        if "commodity_prices" in tables:
            for tenant in (world.a.id, world.b.id):
                await conn.execute(text(INSERT_COMMODITY_PRICE), commodity_price_row(tenant))
        if "journal_lines" in tables:
            for tenant in (world.a.id, world.b.id):
                await _seed_ledger(conn, tenant)
        if "webhook_events" in tables:
            await conn.execute(text(INSERT_WEBHOOK_EVENT), {"e": "EV-SEEDED"})
        if "loans" in tables:
            for tenant in (world.a.id, world.b.id):
                await _seed_loan(conn, tenant)
        if "pledges" in tables:
            await conn.execute(text(SEED_PLEDGES), {"a": world.a.id, "b": world.b.id})
    return world


# A pledge of each receipt pledge deal of A and B (0022), at the receipt's warehouse.
SEED_PLEDGES = (
    "insert into pledges (tenant_id, id, deal_id, receipt_id, warehouse_organization_id,"
    " max_attempts) select distinct on (r.id) d.tenant_id, gen_random_uuid(), d.id, r.id,"
    " r.warehouse_organization_id, 8 from deals d"
    " join warehouse_receipts r on r.id = d.warehouse_receipt_ids[1]"
    " where d.product_line = 'WAREHOUSE_RECEIPT_PLEDGE' and d.tenant_id in (:a, :b)"
)
INSERT_PLEDGE = (
    "insert into pledges (tenant_id, id, deal_id, receipt_id, warehouse_organization_id,"
    " max_attempts) select :t, :id, :d, r.id, r.warehouse_organization_id, 8"
    " from warehouse_receipts r where r.id = :r"
)


INSERT_PAYOUT = (
    "insert into payouts (tenant_id, id, deal_id, idempotency_key, currency, amount_minor,"
    " fee_minor, net_minor, beneficiary_name, beneficiary_account, beneficiary_bank_code,"
    " state, max_attempts, requested_by_user_id) values (:t, :id, :d, :k, 'CNY', 100000, 0,"
    " 100000, 'Payee', '\\x00', '102100099996', :state, 8, gen_random_uuid())"
)
INSERT_LOAN = (
    "insert into loans (tenant_id, id, deal_id, payout_id, status, currency, principal_minor,"
    " fee_minor, annual_rate, value_date, maturity_date, schedule) values (:t, :id, :d, :p,"
    " 'ACTIVE', 'CNY', 100000, 0, 0.12, current_date, current_date + 30, '[]')"
)


async def _seed_loan(conn: AsyncConnection, tenant: uuid.UUID) -> None:
    """A settled payout of one of the tenant's deals and the loan it opened."""
    deal = (
        await conn.execute(
            text("select id from deals where tenant_id = :t order by id limit 1"), {"t": tenant}
        )
    ).scalar_one()
    payout = uuid.uuid4()
    await conn.execute(
        text(INSERT_PAYOUT),
        {"t": tenant, "id": payout, "d": deal, "k": f"seed-{payout}", "state": "SETTLED"},
    )
    await conn.execute(text(INSERT_LOAN), {"t": tenant, "id": uuid.uuid4(), "d": deal, "p": payout})


INSERT_WEBHOOK_EVENT = (
    "insert into webhook_events (id, provider, event_id, event_type, body_sha256, payload)"
    " values (gen_random_uuid(), 'payments', :e, 'payout.settled', repeat('a', 64), '{}')"
)


INSERT_LEDGER_ACCOUNT = (
    "insert into ledger_accounts (tenant_id, id, code, loan_id, currency, normal_side)"
    " values (:t, :id, :code, :loan, 'CNY', 'DEBIT')"
)
INSERT_JOURNAL_ENTRY = (
    "insert into journal_entries (tenant_id, id, cause, idempotency_reference, value_date)"
    " values (:t, :id, 'DISBURSEMENT', :ref, current_date)"
)
INSERT_JOURNAL_LINE = (
    "insert into journal_lines (tenant_id, entry_id, line_no, account_id, currency,"
    " amount_minor) values (:t, :e, :n, :a, 'CNY', :m)"
)


async def _seed_ledger(conn: AsyncConnection, tenant: uuid.UUID) -> None:
    """A tenant's settlement account, one loan's principal account and a balanced
    disbursement between them (the entry and its lines in one transaction, as the ledger
    requires)."""
    cash, principal, entry = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for account, code, loan in (
        (cash, "SETTLEMENT_CASH", None),
        (principal, "PRINCIPAL_RECEIVABLE", uuid.uuid4()),
    ):
        await conn.execute(
            text(INSERT_LEDGER_ACCOUNT), {"t": tenant, "id": account, "code": code, "loan": loan}
        )
    await conn.execute(
        text(INSERT_JOURNAL_ENTRY), {"t": tenant, "id": entry, "ref": f"seed-{entry}"}
    )
    for n, account, minor in ((1, principal, 100000), (2, cash, -100000)):
        await conn.execute(
            text(INSERT_JOURNAL_LINE), {"t": tenant, "e": entry, "n": n, "a": account, "m": minor}
        )


INSERT_COMMODITY_PRICE = (
    "insert into commodity_prices (tenant_id, id, commodity_code, currency, unit, price_minor,"
    " as_of, source) values (:t, :id, 'CU', 'CNY', 't', 7000000, :at, 'desk')"
)


def commodity_price_row(tenant: uuid.UUID | None) -> dict[str, Any]:
    return {"t": tenant, "id": uuid.uuid4(), "at": datetime.now(UTC) - timedelta(hours=1)}


INSERT_DEAL = (
    "insert into deals (tenant_id, id, product_id, product_version, product_line, status,"
    " channel, channel_client_id, applicant_person_id, applicant_organization_id, currency,"
    " amount_minor, term, term_unit, purpose, purchase_order_id, warehouse_receipt_ids)"
    " values (:t, :id, :p, :v, :line, 'DRAFT', :channel, 'test-client', :person, :org, 'CNY',"
    " 100000, 6, 'MONTH', 'test', :po, cast(:receipts as uuid[]))"
)


INSERT_CONTRACT = (
    "insert into contracts (tenant_id, id, deal_id, version, status, terms_digest, sha256,"
    " document_key, pages, terms, voided_at, void_reason) values (:t, :id, :d, :v, :status,"
    " :digest, :sha, :sha, 2, '{}', :voided_at, :reason)"
)


def contract_row(
    tenant: uuid.UUID | None, deal: uuid.UUID, status: str = "DRAFT"
) -> dict[str, Any]:
    """A version of a deal's contract: the current one, or (VOID) one of any number more."""
    return {
        "t": tenant,
        "id": uuid.uuid4(),
        "d": deal,
        "v": 1 if status == "DRAFT" else 100 + secrets.randbelow(10**6),
        "status": status,
        "voided_at": None if status == "DRAFT" else datetime.now(UTC),
        "reason": None if status == "DRAFT" else "terms changed",
        "digest": secrets.token_hex(32),
        "sha": secrets.token_hex(32),
    }


async def _insert_order(
    conn: AsyncConnection,
    world: World,
    seller: uuid.UUID,
    buyer: uuid.UUID,
    *,
    number: str,
    status: str,
) -> uuid.UUID:
    order = uuid.uuid4()
    decided = status != "PENDING_CONFIRMATION"
    await conn.execute(
        text(
            "insert into purchase_orders (id, seller_organization_id, buyer_organization_id,"
            " number, currency, amount_minor, issue_date, due_date, status, decided_by_user_id,"
            " decided_at) values (:id, :s, :b, :n, 'CNY', 100000, current_date,"
            " current_date + 90, :status, :u, case when :decided then now() end)"
        ),
        {
            "id": order,
            "s": seller,
            "b": buyer,
            "n": number,
            "status": status,
            "u": world.admin_user_id if decided else None,
            "decided": decided,
        },
    )
    return order


async def _seed_supply_chain(conn: AsyncConnection, world: World) -> None:
    """Orders (one pending, three confirmed), three receipts and, for each of A and B, deals
    of every line (a consumer loan for a person, order financing, a receipt pledge), each
    with its timeline entry, claims on its collateral and an idempotency key; B's applicants
    are others than A's. Documents on each order and receipt and an unattached one. One
    confirmed order and one receipt stay free."""
    org = {
        kind: (
            await conn.execute(
                text("select id from organizations where kind = :k limit 1"), {"k": kind}
            )
        ).scalar_one()
        for kind in ("TRADE_ENTERPRISE", "CORE_ENTERPRISE", "WAREHOUSE", "CARGO_OWNER", "PARTNER")
    }
    other_trader, other_cargo, other_person = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for org_id, kind, code in (
        (other_trader, "TRADE_ENTERPRISE", "Y00000000000000001"),
        (other_cargo, "CARGO_OWNER", "Y00000000000000002"),
    ):
        await conn.execute(
            text(
                "insert into organizations (id, kind, name, social_credit_code)"
                " values (:id, :k, :n, :code)"
            ),
            {"id": org_id, "k": kind, "n": f"Other {kind}", "code": code},
        )
    await conn.execute(
        text(
            "insert into persons (id, full_name, resident_id_encrypted, resident_id_hash,"
            " resident_id_masked) values (:id, 'Other Person', '\\x00', :h, '***')"
        ),
        {"id": other_person, "h": secrets.token_bytes(32)},
    )
    core = org["CORE_ENTERPRISE"]
    order = await _insert_order(
        conn, world, org["TRADE_ENTERPRISE"], core, number="PO-1", status="PENDING_CONFIRMATION"
    )
    a_order = await _insert_order(
        conn, world, org["TRADE_ENTERPRISE"], core, number="PO-2", status="CONFIRMED"
    )
    b_order = await _insert_order(
        conn, world, other_trader, core, number="PO-3", status="CONFIRMED"
    )
    await _insert_order(
        conn, world, org["TRADE_ENTERPRISE"], core, number="PO-4", status="CONFIRMED"
    )
    # Relationships (0006): the warehouse stores for both cargo owners; the partner acts for
    # A's trader; each funder's own app acts for one person and one company of its own, and
    # A's relationship with B's trader has been revoked.
    for cargo_id in (org["CARGO_OWNER"], other_cargo):
        await conn.execute(
            text(
                "insert into party_agents (id, kind, agent_organization_id, organization_id,"
                " granted_by) values (:id, 'STORES_FOR', :w, :o, 'PLATFORM')"
            ),
            {"id": uuid.uuid4(), "w": org["WAREHOUSE"], "o": cargo_id},
        )
    await conn.execute(
        text(
            "insert into party_agents (id, kind, agent_organization_id, organization_id,"
            " granted_by) values (:id, 'ACTS_FOR', :p, :o, 'PLATFORM')"
        ),
        {"id": uuid.uuid4(), "p": org["PARTNER"], "o": org["TRADE_ENTERPRISE"]},
    )
    for tenant, person_id, org_id, revoked in (
        (world.a.id, world.person_id, None, False),
        (world.a.id, None, org["CARGO_OWNER"], False),
        (world.a.id, None, other_trader, True),
        (world.b.id, other_person, None, False),
        (world.b.id, None, other_trader, False),
    ):
        await conn.execute(
            text(
                "insert into tenant_customers (tenant_id, id, person_id, organization_id,"
                " granted_by, revoked_at) values (:t, :id, :p, :o, 'PLATFORM',"
                " case when :r then now() end)"
            ),
            {"t": tenant, "id": uuid.uuid4(), "p": person_id, "o": org_id, "r": revoked},
        )
    receipts = []
    for n in range(3):
        receipt = uuid.uuid4()
        receipts.append(receipt)
        await conn.execute(
            text(
                "insert into warehouse_receipts (id, warehouse_organization_id,"
                " owner_organization_id, number, goods_description, quantity, unit, location,"
                " currency, unit_price_minor, status, issued_by_user_id) values (:id, :w, :o,"
                " :n, 'steel', 10, 't', 'Shanghai', 'CNY', 500000, 'ISSUED', :u)"
            ),
            {
                "id": receipt,
                "w": org["WAREHOUSE"],
                "o": org["CARGO_OWNER"] if n != 1 else other_cargo,
                "n": f"WR-{n}",
                "u": world.admin_user_id,
            },
        )
    parties = {
        world.a.id: (world.person_id, org["TRADE_ENTERPRISE"], org["CARGO_OWNER"], a_order, 0),
        world.b.id: (other_person, other_trader, other_cargo, b_order, 1),
    }
    for tenant, (person, trader, cargo, po, r) in parties.items():
        # Deals apply under version 1 of the tenant's published product (not its current one).
        product = (
            await conn.execute(
                text("select id from products where tenant_id = :t and status = 'PUBLISHED'"),
                {"t": tenant},
            )
        ).scalar_one()
        base = {"t": tenant, "p": product, "v": 1, "channel": "DIRECT", "po": None, "receipts": []}
        deals = {
            "consumer": {**base, "line": "CONSUMER_CREDIT", "person": person, "org": None},
            "order": {**base, "line": "ORDER_FINANCING", "person": None, "org": trader, "po": po},
            "pledge": {
                **base,
                "line": "WAREHOUSE_RECEIPT_PLEDGE",
                "person": None,
                "org": cargo,
                "receipts": [receipts[r]],
            },
        }
        ids_of = {}
        for name, row in deals.items():
            ids_of[name] = uuid.uuid4()
            await conn.execute(text(INSERT_DEAL), {**row, "id": ids_of[name]})
            await conn.execute(
                text(
                    "insert into deal_events (tenant_id, deal_id, action, to_status, actor_kind)"
                    " values (:t, :d, 'deal.create', 'DRAFT', 'APPLICANT')"
                ),
                {"t": tenant, "d": ids_of[name]},
            )
            await conn.execute(
                text(
                    "insert into integration_calls (tenant_id, id, deal_id, kind, max_attempts,"
                    " idempotency_reference) values (:t, :id, :d, 'BUREAU', 5, :ref)"
                ),
                {"t": tenant, "id": uuid.uuid4(), "d": ids_of[name], "ref": uuid.uuid4()},
            )
            await conn.execute(
                text(
                    "insert into deal_reviews (tenant_id, id, deal_id, stage, round)"
                    " values (:t, :id, :d, 'FIRST', 1)"
                ),
                {"t": tenant, "id": uuid.uuid4(), "d": ids_of[name]},
            )
            await conn.execute(
                text(
                    "insert into risk_assessments (tenant_id, id, deal_id, submitted_at,"
                    " recommendation, results, facts)"
                    " values (:t, :id, :d, now(), 'REFER', '[]', '{}')"
                ),
                {"t": tenant, "id": uuid.uuid4(), "d": ids_of[name]},
            )
            await conn.execute(text(INSERT_CONTRACT), contract_row(tenant, ids_of[name]))
        await conn.execute(
            text(
                "insert into receipt_claims (tenant_id, id, receipt_id, deal_id)"
                " values (:t, :id, :r, :d)"
            ),
            {"t": tenant, "id": uuid.uuid4(), "r": receipts[r], "d": ids_of["pledge"]},
        )
        await conn.execute(
            text(
                "insert into purchase_order_claims (tenant_id, id, purchase_order_id, deal_id)"
                " values (:t, :id, :o, :d)"
            ),
            {"t": tenant, "id": uuid.uuid4(), "o": po, "d": ids_of["order"]},
        )
    for tenant, client_id in ((world.a.id, "svc-a"), (world.b.id, "svc-b"), (None, "partner")):
        await conn.execute(
            text(
                "insert into idempotency_keys (id, tenant_id, client_id, operation, key,"
                " request_hash, response, completed_at) values (:id, :t, :c, 'createDeal',"
                " 'k-1', 'h', '{}', now())"
            ),
            {"id": uuid.uuid4(), "t": tenant, "c": client_id},
        )
    subjects = ((order, None), (a_order, None), (b_order, None), (None, None))
    for order_id, receipt_id in (*subjects, *((None, r) for r in receipts)):
        attached = order_id is not None or receipt_id is not None
        await conn.execute(
            text(
                "insert into documents (id, owner_organization_id, kind, file_name,"
                " content_type, size_bytes, sha256, storage_key, purchase_order_id,"
                " warehouse_receipt_id, attached_at) values (:id, :o, 'OTHER', 'f.pdf',"
                " 'application/pdf', 10, :h, :k, :po, :wr,"
                " case when :att then now() end)"
            ),
            {
                "id": uuid.uuid4(),
                "o": org["CARGO_OWNER"],
                "h": secrets.token_hex(32),
                "k": secrets.token_hex(8),
                "po": order_id,
                "wr": receipt_id,
                "att": attached,
            },
        )


async def assert_seeded(owner: AsyncEngine, world: World) -> None:
    """Every tenant table holds rows of A and of B, and every public rule admits some rows
    and refuses others, so that the visibility checks are not vacuous. A new table fails
    here until populated_world seeds it."""
    for table in await tenant_tables(owner):
        counts = await by_tenant(owner, table)
        assert counts[world.a.id] > 0 and counts[world.b.id] > 0, (
            f"seed rows of both tenants into {table}: {dict(counts)}"
        )
    for table, rule in public_rules(set(await public_tables(owner))).items():
        yes = await _scalar(owner, f'select count(*) from "{table}" where {rule}')
        no = await _scalar(owner, f'select count(*) from "{table}" where not ({rule})')
        assert yes > 0 and no > 0, f"seed public and private rows of {table}"


# --- 1. what a tenant sees -------------------------------------------------------------------


async def test_discovers_the_tenant_tables(owner_engine) -> None:
    tables = set(await tenant_tables(owner_engine))
    assert {"memberships", "oauth_clients", "audit_log", "events"} <= tables


@pytest.mark.parametrize("mode", ["set_config", "session"])
async def test_tenant_a_sees_its_rows_and_none_of_b(app_state, owner_engine, mode) -> None:
    world = await populated_world(app_state, owner_engine)
    await assert_seeded(owner_engine, world)
    a, b = world.a.id, world.b.id
    tables = await tenant_tables(owner_engine)
    public = public_rules(set(await public_tables(owner_engine)))
    async with scope_of(mode, app_state, a) as conn:
        for table in tables:
            truth = await by_tenant(owner_engine, table)
            b_public = 0
            if table in public:
                b_public = await _scalar(
                    owner_engine,
                    f'select count(*) from "{table}" where tenant_id = :b and {public[table]}',
                    b=b,
                )
            seen = await by_tenant(conn, table)
            assert seen[b] == b_public, f"{table}: tenant A sees {seen[b]} rows of tenant B"
            assert seen[b] < truth[b], f"{table}: tenant A sees all of B's rows"
            expected_a = 0 if table in TENANT_BLIND_TABLES else truth[a]
            assert seen[a] == expected_a, f"{table}: A sees {seen[a]} of its {truth[a]} rows"
            assert None not in seen, f"{table}: tenant A sees platform-level rows"
        # Row for row, every table (tenant-owned or not) as the policies say.
        await assert_sees_exactly(conn, owner_engine, a)
        # Spelled out for the tables without tenant_id.
        a_users = await ids(
            owner_engine, "select user_id from memberships where tenant_id = :t", t=a
        )
        assert a_users
        assert await ids(conn, "select id from users") == a_users
        # Persons: only the applicants of A's own deals (DESIGN.md section 5).
        a_applicants = await ids(
            owner_engine,
            "select applicant_person_id from deals"
            " where tenant_id = :t and applicant_person_id is not null",
            t=a,
        )
        assert a_applicants
        assert await ids(conn, "select id from persons") == a_applicants
        assert a in await ids(conn, "select id from tenants")


@pytest.mark.parametrize("how", ["never_set", "empty", "session_no_scope"])
async def test_no_tenant_sees_nothing(app_state, owner_engine, settings, how) -> None:
    world = await populated_world(app_state, owner_engine)
    await assert_seeded(owner_engine, world)
    tables = await public_tables(owner_engine)
    for table in tables:
        total = await _scalar(owner_engine, f'select count(*) from "{table}"')
        assert total > 0, f"seed rows into {table}"
    public = public_rules(set(tables))

    async def check(conn: AsyncConnection) -> None:
        for table in tables:
            if table not in public:
                assert await count(conn, table) == 0, f"{table} is visible with no tenant bound"
        # Only the public rows of the others (organizations of public kinds, the marketplace).
        await assert_sees_exactly(conn, owner_engine, None)

    if how == "never_set":
        # A brand-new connection that has never bound anything: the settings are NULL.
        engine = create_engine(runtime.app_url(settings), pool_size=1)
        try:
            async with engine.connect() as conn, conn.begin():
                assert set((await _settings_now(conn)).values()) == {None}
                await check(conn)
        finally:
            await engine.dispose()
    elif how == "empty":
        async with app_tx(app_state.engine, **dict.fromkeys(SETTINGS, "")) as conn:
            await check(conn)
    else:
        async with session_tx(app_state, NO_SCOPE) as conn:
            await check(conn)


async def test_public_organization_kinds(app_state, owner_engine) -> None:
    """CORE_ENTERPRISE, WAREHOUSE and PARTNER organizations are readable to any scope;
    TRADE_ENTERPRISE and CARGO_OWNER ones are not, except to a funder for the applicants of its
    own deals (DESIGN.md section 5)."""
    world = await populated_world(app_state, owner_engine)
    assert {str(k) for k in PUBLIC_ORGANIZATION_KINDS} == PUBLIC_ORGANIZATION_KIND_NAMES
    all_kinds = await ids(owner_engine, "select kind from organizations")
    assert all_kinds == PUBLIC_ORGANIZATION_KIND_NAMES | PRIVATE_ORGANIZATION_KIND_NAMES
    public_ids = await ids(
        owner_engine,
        "select id from organizations where kind = any(cast(:k as text[]))",
        k=sorted(PUBLIC_ORGANIZATION_KIND_NAMES),
    )
    for values in ({}, dict.fromkeys(SETTINGS, "")):
        async with app_tx(app_state.engine, **values) as conn:
            assert await ids(conn, "select kind from organizations") == (
                PUBLIC_ORGANIZATION_KIND_NAMES
            ), values
            assert await ids(conn, "select id from organizations") == public_ids, values
    # A funder bound alone: the public kinds, and the applicants of its own deals only.
    a_applicants = await ids(
        owner_engine,
        "select applicant_organization_id from deals"
        " where tenant_id = :t and applicant_organization_id is not null",
        t=world.a.id,
    )
    b_applicants = await ids(
        owner_engine,
        "select applicant_organization_id from deals"
        " where tenant_id = :t and applicant_organization_id is not null",
        t=world.b.id,
    )
    assert a_applicants and b_applicants - a_applicants
    async with app_tx(app_state.engine, tenant_id=str(world.a.id)) as conn:
        assert await ids(conn, "select id from organizations") == public_ids | a_applicants
    # The borrower organization is visible to itself only.
    async with app_tx(app_state.engine, organization_id=str(world.borrower_org_id)) as conn:
        assert world.borrower_org_id in await ids(conn, "select id from organizations")


def _insert_builders(
    world: World, refs: dict[str, Any]
) -> dict[str, Callable[[uuid.UUID | None], tuple[str, dict]]]:
    """A valid new row, for a given tenant, of every tenant table the app may insert into.
    ``refs``: rows they refer to (a draft product of B, an unclaimed receipt)."""

    def membership(t: uuid.UUID | None) -> tuple[str, dict]:
        return (
            "insert into memberships (tenant_id, id, user_id, roles)"
            " values (:t, :id, :u, cast(:roles as varchar[]))",
            {"t": t, "id": uuid.uuid4(), "u": world.admin_user_id, "roles": ["FUNDER_ADMIN"]},
        )

    def oauth_client(t: uuid.UUID | None) -> tuple[str, dict]:
        return (
            "insert into oauth_clients (id, client_id, name, kind, tenant_id, scopes,"
            " grant_types, status) values (:id, :cid, 'intruder', 'SERVICE_ACCOUNT', :t,"
            " cast(:s as varchar[]), cast(:g as varchar[]), 'ACTIVE')",
            {
                "id": uuid.uuid4(),
                "cid": f"intruder-{secrets.token_hex(4)}",
                "t": t,
                "s": ["viewer:read"],
                "g": ["client_credentials"],
            },
        )

    def refresh_token(t: uuid.UUID | None) -> tuple[str, dict]:
        return (
            "insert into refresh_tokens (id, token_hash, client_pk, tenant_id, scope, expires_at)"
            " values (:id, :h, :c, :t, 'viewer:read', now() + interval '1 hour')",
            {
                "id": uuid.uuid4(),
                "h": secrets.token_bytes(32),
                "c": world.b.service_client_pk,
                "t": t,
            },
        )

    def audit(t: uuid.UUID | None) -> tuple[str, dict]:
        return (
            "insert into audit_log (tenant_id, action, object_type, object_id)"
            " values (:t, 'forged', 'Tenant', 'x')",
            {"t": t},
        )

    def event(t: uuid.UUID | None) -> tuple[str, dict]:
        return (
            "insert into events (tenant_id, type, aggregate_type, aggregate_id)"
            " values (:t, 'forged', 'Tenant', 'x')",
            {"t": t},
        )

    def product(t: uuid.UUID | None) -> tuple[str, dict]:
        return INSERT_PRODUCT, product_row(t, "PUBLISHED")

    def product_version(t: uuid.UUID | None) -> tuple[str, dict]:
        return INSERT_VERSION, {"t": t, "id": uuid.uuid4(), "p": refs["b_product"], "v": 99}

    def receipt_claim(t: uuid.UUID | None) -> tuple[str, dict]:
        return (
            "insert into receipt_claims (tenant_id, id, receipt_id, deal_id)"
            " values (:t, :id, :r, :d)",
            {"t": t, "id": uuid.uuid4(), "r": refs["free_receipt"], "d": refs["b_receipt_deal"]},
        )

    def deal(t: uuid.UUID | None) -> tuple[str, dict]:
        return (
            INSERT_DEAL,
            {
                "t": t,
                "id": uuid.uuid4(),
                "p": refs["b_product"],
                "v": 1,
                "line": "CONSUMER_CREDIT",
                "person": world.person_id,
                "org": None,
                "po": None,
                "receipts": [],
                # Direct: a funder's app would need the person as its customer (0006).
                "channel": "DIRECT",
            },
        )

    def deal_event(t: uuid.UUID | None) -> tuple[str, dict]:
        return (
            "insert into deal_events (tenant_id, deal_id, action, to_status, actor_kind)"
            " values (:t, :d, 'forged', 'APPROVED', 'FUNDER')",
            {"t": t, "d": refs["b_deal"]},
        )

    def integration_call(t: uuid.UUID | None) -> tuple[str, dict]:
        return (
            "insert into integration_calls (tenant_id, id, deal_id, kind, max_attempts,"
            " idempotency_reference) values (:t, :id, :d, 'IDENTITY', 5, :ref)",
            {"t": t, "id": uuid.uuid4(), "d": refs["b_order_deal"], "ref": uuid.uuid4()},
        )

    def risk_assessment(t: uuid.UUID | None) -> tuple[str, dict]:
        return (
            "insert into risk_assessments (tenant_id, id, deal_id, submitted_at,"
            " recommendation, results, facts)"
            " values (:t, :id, :d, now(), 'APPROVE', '[]', '{}')",
            {"t": t, "id": uuid.uuid4(), "d": refs["b_deal"]},
        )

    def deal_review(t: uuid.UUID | None) -> tuple[str, dict]:
        return (
            "insert into deal_reviews (tenant_id, id, deal_id, stage, round)"
            " values (:t, :id, :d, 'SECOND', 7)",
            {"t": t, "id": uuid.uuid4(), "d": refs["b_deal"]},
        )

    def contract(t: uuid.UUID | None) -> tuple[str, dict]:
        # VOID: the deal's current (DRAFT) version is seeded already.
        return INSERT_CONTRACT, contract_row(t, refs["b_deal"], "VOID")

    def order_claim(t: uuid.UUID | None) -> tuple[str, dict]:
        return (
            "insert into purchase_order_claims (tenant_id, id, purchase_order_id, deal_id)"
            " values (:t, :id, :o, :d)",
            {"t": t, "id": uuid.uuid4(), "o": refs["free_order"], "d": refs["b_order_deal"]},
        )

    def idempotency_key(t: uuid.UUID | None) -> tuple[str, dict]:
        return (
            "insert into idempotency_keys (id, tenant_id, client_id, operation, key,"
            " request_hash) values (:id, :t, 'svc-b', 'createDeal', :k, 'h')",
            {"id": uuid.uuid4(), "t": t, "k": secrets.token_hex(8)},
        )

    def commodity_price(t: uuid.UUID | None) -> tuple[str, dict]:
        return INSERT_COMMODITY_PRICE, commodity_price_row(t)

    def ledger_account(t: uuid.UUID | None) -> tuple[str, dict]:
        return (
            INSERT_LEDGER_ACCOUNT,
            {"t": t, "id": uuid.uuid4(), "code": "FEE_RECEIVABLE", "loan": uuid.uuid4()},
        )

    def journal_entry(t: uuid.UUID | None) -> tuple[str, dict]:
        # Refused (or rolled back) before commit, where an entry without lines would be.
        return INSERT_JOURNAL_ENTRY, {"t": t, "id": uuid.uuid4(), "ref": secrets.token_hex(8)}

    def journal_line(t: uuid.UUID | None) -> tuple[str, dict]:
        # A line is written in its entry's transaction: the entry comes with it.
        return (
            "with e as (insert into journal_entries (tenant_id, id, cause,"
            " idempotency_reference, value_date) values (:t, :id, 'FEE', :ref, current_date)"
            " returning tenant_id, id)"
            " insert into journal_lines (tenant_id, entry_id, line_no, account_id, currency,"
            " amount_minor) select e.tenant_id, e.id, 1, :a, 'CNY', 100 from e",
            {"t": t, "id": uuid.uuid4(), "ref": secrets.token_hex(8), "a": refs["b_cash"]},
        )

    def payout(t: uuid.UUID | None) -> tuple[str, dict]:
        # FAILED: the deal's one live payout is the seeded one.
        key = secrets.token_hex(8)
        return INSERT_PAYOUT, {
            "t": t,
            "id": uuid.uuid4(),
            "d": refs["b_loan_deal"],
            "k": key,
            "state": "FAILED",
        }

    def loan(t: uuid.UUID | None) -> tuple[str, dict]:
        return INSERT_LOAN, {
            "t": t,
            "id": uuid.uuid4(),
            "d": refs["b_loanless_deal"],
            "p": refs["b_payout"],
        }

    def pledge(t: uuid.UUID | None) -> tuple[str, dict]:
        # B's draft naming the free receipt pledges it.
        return INSERT_PLEDGE, {
            "t": t,
            "id": uuid.uuid4(),
            "d": refs["b_receipt_deal"],
            "r": refs["free_receipt"],
        }

    def tenant_customer(t: uuid.UUID | None) -> tuple[str, dict]:
        return (
            "insert into tenant_customers (tenant_id, id, person_id, granted_by)"
            " values (:t, :id, :p, 'PLATFORM')",
            {"t": t, "id": uuid.uuid4(), "p": world.person_id},
        )

    return {
        "tenant_customers": tenant_customer,
        "memberships": membership,
        "oauth_clients": oauth_client,
        "refresh_tokens": refresh_token,
        "audit_log": audit,
        "events": event,
        "products": product,
        "product_versions": product_version,
        "receipt_claims": receipt_claim,
        "deals": deal,
        "deal_events": deal_event,
        "purchase_order_claims": order_claim,
        "idempotency_keys": idempotency_key,
        "integration_calls": integration_call,
        "deal_reviews": deal_review,
        "risk_assessments": risk_assessment,
        "contracts": contract,
        "commodity_prices": commodity_price,
        "ledger_accounts": ledger_account,
        "journal_entries": journal_entry,
        "journal_lines": journal_line,
        "payouts": payout,
        "loans": loan,
        "pledges": pledge,
    }


async def test_inserting_for_another_tenant_is_refused(app_state, owner_engine, settings) -> None:
    world = await populated_world(app_state, owner_engine)
    a, b = world.a.id, world.b.id
    tables = await tenant_tables(owner_engine)
    insertable = await app_privileged(owner_engine, settings.app_db_role, tables, "INSERT")
    refs: dict[str, Any] = {}
    if "products" in tables:
        refs["b_product"] = await _scalar(
            owner_engine, "select id from products where tenant_id = :b and status = 'DRAFT'", b=b
        )
    if "receipt_claims" in tables:
        refs["free_receipt"] = await _scalar(
            owner_engine,
            "select id from warehouse_receipts r"
            " where not exists (select 1 from receipt_claims c where c.receipt_id = r.id)",
        )
    if "deals" in tables:
        refs["b_deal"] = await _scalar(
            owner_engine, "select id from deals where tenant_id = :b limit 1", b=b
        )
        refs["free_order"] = await _scalar(
            owner_engine,
            "select id from purchase_orders o where status = 'CONFIRMED' and not exists"
            " (select 1 from purchase_order_claims c where c.purchase_order_id = o.id)",
        )
        # A claim holds what its deal names (0006): drafts of B naming the free order and
        # the free receipt, each applied for by its owner.
        product = await _scalar(
            owner_engine,
            "select id from products where tenant_id = :b and status = 'PUBLISHED'",
            b=b,
        )
        for key, line, owner_sql, po, receipts in (
            (
                "b_order_deal",
                "ORDER_FINANCING",
                "select seller_organization_id from purchase_orders where id = :x",
                refs["free_order"],
                [],
            ),
            (
                "b_receipt_deal",
                "WAREHOUSE_RECEIPT_PLEDGE",
                "select owner_organization_id from warehouse_receipts where id = :x",
                None,
                [refs["free_receipt"]],
            ),
        ):
            refs[key] = uuid.uuid4()
            applicant = await _scalar(owner_engine, owner_sql, x=po or receipts[0])
            async with owner_engine.begin() as conn:
                await conn.execute(
                    text(INSERT_DEAL),
                    {
                        "t": b,
                        "id": refs[key],
                        "p": product,
                        "v": 1,
                        "line": line,
                        "channel": "DIRECT",
                        "person": None,
                        "org": applicant,
                        "po": po,
                        "receipts": receipts,
                    },
                )
    if "ledger_accounts" in tables:
        refs["b_cash"] = await _scalar(
            owner_engine,
            "select id from ledger_accounts where tenant_id = :b and code = 'SETTLEMENT_CASH'",
            b=b,
        )
    if "loans" in tables:
        for ref, column in (("b_loan_deal", "deal_id"), ("b_payout", "payout_id")):
            refs[ref] = await _scalar(
                owner_engine, f"select {column} from loans where tenant_id = :b", b=b
            )
        refs["b_loanless_deal"] = await _scalar(
            owner_engine,
            "select id from deals d where tenant_id = :b and not exists"
            " (select 1 from loans l where l.tenant_id = d.tenant_id and l.deal_id = d.id)"
            " order by id limit 1",
            b=b,
        )
    builders = _insert_builders(world, refs)
    # A new insertable tenant table needs a row builder here, or it would go unchecked.
    missing = set(insertable) - set(builders)
    assert not missing, f"add row builders for {sorted(missing)}"
    nullable = await nullable_tenant_tables(owner_engine)
    truth = {t: await by_tenant(owner_engine, t) for t in insertable}

    for table in insertable:
        targets: list[uuid.UUID | None] = [b]
        if table in nullable:
            targets.append(None)  # nor may a tenant forge platform-level rows
        for target in targets:
            # Control: the same row is valid; the platform scope may insert it.
            sql, params = builders[table](target)
            async with app_tx(app_state.engine, platform="on") as conn:
                assert (await conn.execute(text(sql), params)).rowcount == 1
            sql, params = builders[table](target)
            with pytest.raises(DBAPIError) as caught:
                async with app_tx(app_state.engine, tenant_id=str(a)) as conn:
                    await conn.execute(text(sql), params)
            assert RLS_VIOLATION in str(caught.value), f"{table}/{target}: {caught.value}"

    # Nothing got in.
    for table in insertable:
        assert await by_tenant(owner_engine, table) == truth[table], table


async def test_tenant_cannot_create_platform_rows(app_state, owner_engine) -> None:
    world = await populated_world(app_state, owner_engine)
    statements = [
        "insert into tenants (id, name, slug, kind, time_zone, currency, status) values"
        " (gen_random_uuid(), 'Rogue', 'rogue', 'BANK', 'Asia/Shanghai', 'CNY', 'ACTIVE')",
        "insert into organizations (id, kind, name, social_credit_code) values"
        " (gen_random_uuid(), 'CORE_ENTERPRISE', 'Rogue', 'R00000000000000000')",
        "insert into users (id, email, display_name, status) values"
        " (gen_random_uuid(), 'rogue@x.test', 'Rogue', 'ACTIVE')",
        "insert into calendar_days (calendar, day, working, label) values"
        " ('CN', '2027-10-08', false, 'Rogue holiday')",
        # A forged callback event (0018): only the platform scope records provider events.
        INSERT_WEBHOOK_EVENT.replace(":e", "'EV-FORGED'"),
    ]
    for sql in statements:
        async with app_tx(app_state.engine, platform="on") as conn:
            assert (await conn.execute(text(sql))).rowcount == 1
        with pytest.raises(DBAPIError) as caught:
            async with app_tx(app_state.engine, tenant_id=str(world.a.id)) as conn:
                await conn.execute(text(sql))
        assert RLS_VIOLATION in str(caught.value), f"{sql}: {caught.value}"

    # A funder's app onboards persons (0006), and the database records that it, and only it,
    # acts for them: a row the tenant may read, which a tenant could not write by hand.
    person = uuid.uuid4()
    async with app_tx(app_state.engine, tenant_id=str(world.a.id)) as conn:
        await conn.execute(
            text(
                "insert into persons (id, full_name, resident_id_encrypted, resident_id_hash,"
                " resident_id_masked) values (:p, 'Newcomer', '\\x00', '\\x01', '***')"
            ),
            {"p": person},
        )
        rows = (
            await conn.execute(
                text("select tenant_id, granted_by from tenant_customers where person_id = :p"),
                {"p": person},
            )
        ).all()
        assert [tuple(r) for r in rows] == [(world.a.id, "ONBOARDING")]
        assert await ids(conn, "select id from persons where id = :p", p=person) == {person}
        with pytest.raises(DBAPIError) as caught:
            async with conn.begin_nested():
                await conn.execute(
                    text(
                        "insert into tenant_customers (tenant_id, id, person_id, granted_by)"
                        " values (:t, gen_random_uuid(), :p, 'ONBOARDING')"
                    ),
                    {"t": world.a.id, "p": world.person_id},
                )
        assert RLS_VIOLATION in str(caught.value)


async def test_updating_or_deleting_another_tenants_rows_touches_nothing(
    app_state, owner_engine, settings
) -> None:
    world = await populated_world(app_state, owner_engine)
    a, b = world.a.id, world.b.id
    role = settings.app_db_role
    tables = await tenant_tables(owner_engine)
    updatable = await app_privileged(owner_engine, role, tables, "UPDATE")
    deletable = await app_privileged(owner_engine, role, tables, "DELETE")
    assert {"oauth_clients", "events", "tenant_customers"} <= set(updatable)
    # No use case deletes a tenant's rows (0006 took DELETE on memberships away).
    assert deletable == []
    truth = {t: await by_tenant(owner_engine, t) for t in tables}
    others = "where tenant_id is distinct from :a"  # B's rows and platform-level ones

    for table in updatable:
        column = await updatable_column(owner_engine, role, table)
        others_count = sum(n for t, n in truth[table].items() if t != a)
        update = text(f'update "{table}" set "{column}" = "{column}" {others}')
        if not await has_user_triggers(owner_engine, table):
            # Control: the statement reaches those rows in the platform scope. (A table with
            # triggers may refuse some of them, e.g. frozen product versions.)
            async with app_tx(app_state.engine, platform="on") as conn:
                assert (await conn.execute(update, {"a": a})).rowcount == others_count > 0
        async with app_tx(app_state.engine, tenant_id=str(a)) as conn:
            # Even rows A may read (B's published products) are not A's to change.
            assert (await conn.execute(update, {"a": a})).rowcount == 0, table
            only_b = text(f'update "{table}" set "{column}" = "{column}" where tenant_id = :b')
            assert (await conn.execute(only_b, {"b": b})).rowcount == 0, table

    for table in deletable:
        delete = text(f'delete from "{table}" where tenant_id = :b')
        async with app_tx(app_state.engine, platform="on") as conn:  # control
            assert (await conn.execute(delete, {"b": b})).rowcount == truth[table][b] > 0
        async with app_tx(app_state.engine, tenant_id=str(a)) as conn:
            assert (await conn.execute(delete, {"b": b})).rowcount == 0, table
            await conn.commit()
        assert (await by_tenant(owner_engine, table))[b] == truth[table][b]


# --- 2. the application role -----------------------------------------------------------------


async def test_application_role_is_unprivileged(owner_engine, settings) -> None:
    role = settings.app_db_role
    rows = await _rows(
        owner_engine,
        "select oid, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb from pg_roles"
        " where rolname = :r",
        r=role,
    )
    assert len(rows) == 1, f"role {role} does not exist"
    oid, superuser, bypassrls, createrole, createdb = rows[0]
    assert superuser is False
    assert bypassrls is False
    assert createrole is False
    assert createdb is False

    owned = await _rows(
        owner_engine,
        """
        select 'class', format('%s (%s)', relname, relkind) from pg_class where relowner = :o
        union all select 'function', proname::text from pg_proc where proowner = :o
        union all select 'schema', nspname::text from pg_namespace where nspowner = :o
        union all select 'type', typname::text from pg_type where typowner = :o
        union all select 'database', datname::text from pg_database
            where datdba = :o and datname = current_database()
        """,
        o=oid,
    )
    assert owned == []
    # ... and the check is not vacuous: the tables and helpers do have an owner.
    owners = await _rows(
        owner_engine,
        """
        select distinct c.relowner from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public'
        union
        select distinct p.proowner from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'public'
        """,
    )
    assert owners and all(r[0] != oid for r in owners)

    # Nor can it become (or inherit from) an owner, a superuser or a role that bypasses RLS.
    powerful = await _rows(
        owner_engine,
        """
        select r.rolname from pg_roles r
        where r.oid <> :o and pg_has_role(:o, r.oid, 'MEMBER')
          and (r.rolsuper or r.rolbypassrls or r.oid = any(cast(:owners as oid[])))
        """,
        o=oid,
        owners=[r[0] for r in owners],
    )
    assert powerful == []

    # Nor can it create objects (which it would own) in the schema or new schemas.
    can_create = await _rows(
        owner_engine,
        "select has_schema_privilege(:r, 'public', 'CREATE'),"
        " has_database_privilege(:r, current_database(), 'CREATE')",
        r=role,
    )
    assert can_create == [(False, False)]

    # No per-role or per-database default that would pre-bind a scope.
    defaults = await _rows(
        owner_engine,
        """
        select s.setconfig from pg_db_role_setting s
        where s.setrole in (0, :o)
          and s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
          and exists (select 1 from unnest(s.setconfig) c where c like 'app.%')
        """,
        o=oid,
    )
    assert defaults == []


async def test_every_table_forces_row_level_security(owner_engine, settings) -> None:
    rows = await _rows(
        owner_engine,
        """
        select c.relname, c.relrowsecurity, c.relforcerowsecurity
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind in ('r', 'p') order by 1
        """,
    )
    tables = {r[0]: (r[1], r[2]) for r in rows}
    assert {"tenants", "memberships", "audit_log", "events", "alembic_version"} <= set(tables)
    not_forced = sorted(
        name
        for name, flags in tables.items()
        if name not in NOT_RLS_TABLES and flags != (True, True)
    )
    assert not_forced == []
    # The one table outside RLS is read-only to the application.
    for priv in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"):
        allowed = await _scalar(
            owner_engine,
            "select has_table_privilege(:r, 'alembic_version', :p)",
            r=settings.app_db_role,
            p=priv,
        )
        assert allowed is False, priv


@pytest.mark.parametrize(
    "sql",
    [
        "update audit_log set action = 'rewritten'",
        "delete from audit_log",
        "truncate audit_log",
    ],
)
async def test_audit_log_is_append_only(app_state, owner_engine, sql) -> None:
    world = await populated_world(app_state, owner_engine)
    before = await _rows(owner_engine, "select id, action from audit_log order by id")
    for values in ({"tenant_id": str(world.a.id)}, {"platform": "on"}):
        async with app_tx(app_state.engine, **values) as conn:
            assert await count(conn, "audit_log") > 0  # rows are there to be touched
        with pytest.raises(DBAPIError) as caught:
            async with app_tx(app_state.engine, **values) as conn:
                await conn.execute(text(sql))
        assert PERMISSION_DENIED in str(caught.value), str(caught.value)
    assert await _rows(owner_engine, "select id, action from audit_log order by id") == before


# --- 3. nothing leaks between transactions on a pooled connection ----------------------------


async def _backend_pid(conn: AsyncConnection) -> int:
    return int((await conn.execute(text("select pg_backend_pid()"))).scalar_one())


async def _settings_now(conn: AsyncConnection) -> dict[str, str | None]:
    row = (
        await conn.execute(
            text("select " + ", ".join(f"current_setting('app.{n}', true)" for n in SETTINGS))
        )
    ).one()
    return dict(zip(SETTINGS, row, strict=True))


@pytest.mark.parametrize("ending", ["commit", "rollback"])
@pytest.mark.parametrize("bound", ["tenant", "platform"])
async def test_scope_does_not_outlive_its_transaction(
    app_state, owner_engine, settings, ending, bound
) -> None:
    world = await populated_world(app_state, owner_engine)
    engine = create_engine(runtime.app_url(settings), pool_size=1)
    values = {"tenant_id": str(world.a.id)} if bound == "tenant" else {"platform": "on"}
    try:
        async with engine.connect() as conn:
            tx = await conn.begin()
            await bind(conn, **values)
            pid = await _backend_pid(conn)
            # Control: the scope is in force inside its transaction.
            assert await count(conn, "memberships") > 0
            await (tx.commit() if ending == "commit" else tx.rollback())

        async with engine.connect() as conn, conn.begin():
            assert await _backend_pid(conn) == pid, "the pool handed out another connection"
            current = await _settings_now(conn)
            # What was bound reads back as '' (a placeholder reverted at transaction end); what
            # was never bound on this connection is NULL.
            assert all(current[name] == "" for name in values), current
            assert set(current.values()) <= {"", None}, current
            assert await count(conn, "memberships") == 0
            await assert_sees_exactly(conn, owner_engine, None)
    finally:
        await engine.dispose()


async def test_session_scope_does_not_outlive_its_transaction(
    app_state, owner_engine, settings
) -> None:
    """The same through the application's own path: sessions whose hook binds on begin."""
    world = await populated_world(app_state, owner_engine)
    engine = create_engine(runtime.app_url(settings), pool_size=1)
    sessions = session_factory(engine)
    try:
        for scope in (DbScope(tenant_id=world.a.id), PLATFORM_SCOPE):
            async with open_session(sessions, scope) as session:
                conn = await session.connection()
                pid = await _backend_pid(conn)
                assert await count(conn, "memberships") > 0
                await session.commit()
            # First a bare connection, which binds nothing itself, on the same connection:
            # whatever the session bound must be gone.
            async with engine.connect() as conn, conn.begin():
                assert await _backend_pid(conn) == pid
                assert await _settings_now(conn) == dict.fromkeys(SETTINGS, "")
                assert await count(conn, "memberships") == 0
                await assert_sees_exactly(conn, owner_engine, None)
            # Then a session without a scope.
            async with open_session(sessions, NO_SCOPE) as session:
                conn = await session.connection()
                assert await _backend_pid(conn) == pid
                assert await _settings_now(conn) == dict.fromkeys(SETTINGS, "")
                await assert_sees_exactly(conn, owner_engine, None)
    finally:
        await engine.dispose()


# --- 4. the platform scope -------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["set_config", "session"])
async def test_platform_scope_sees_every_tenant(app_state, owner_engine, mode) -> None:
    world = await populated_world(app_state, owner_engine)
    await assert_seeded(owner_engine, world)
    async with scope_of(mode, app_state, None, platform=True) as conn:
        for table in await tenant_tables(owner_engine):
            seen = await by_tenant(conn, table)
            assert seen[world.a.id] > 0 and seen[world.b.id] > 0, table
        for table in await public_tables(owner_engine):
            expected = await expected_rows(owner_engine, table, "true")
            assert sum(expected.values()) > 0, table
            assert await seen_rows(conn, table) == expected, table
