"""The migrations: idempotent upgrade, models that agree with the migrated schema, and the
health endpoints that report the revision."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import pprint
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import domain
import domain.audit.models
import domain.events.models
import domain.parties.models
import tenants
import tenants.models
from domain.persistence.base import Base
from domain.persistence.migrate import current_revision, head_revision, upgrade_to_head


def _import_all_models() -> set[str]:
    """Import every ``models`` module of the domain and tenancy packages, so that a table
    added by a new context is compared too (a table with no model shows as a difference)."""
    found = {
        info.name
        for package in (domain, tenants)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
        if info.name.rsplit(".", 1)[-1] == "models"
    }
    for name in found:
        importlib.import_module(name)
    return found


# A fingerprint of what the migrations create, to see that a second upgrade changes nothing.
SCHEMA_SQL = """
select 'column', format('%s.%s %s %s %s', table_name, column_name, data_type, is_nullable,
                        coalesce(column_default, ''))
from information_schema.columns where table_schema = 'public'
union all
select 'policy', format('%s.%s %s %s %s', tablename, policyname, cmd, qual, with_check)
from pg_policies where schemaname = 'public'
union all
select 'index', indexdef from pg_indexes where schemaname = 'public'
union all
select 'function', p.oid::regprocedure::text from pg_proc p
join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public'
union all
select 'grant', format('%s %s %s', grantee, table_name, privilege_type)
from information_schema.role_table_grants where table_schema = 'public'
order by 1, 2
"""


async def _schema(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(SCHEMA_SQL))).all())


async def _revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await current_revision(conn)


async def test_database_is_at_head(owner_engine) -> None:
    head = head_revision()
    assert head is not None
    assert await _revision(owner_engine) == head


async def test_upgrading_again_is_a_no_op(owner_url, owner_engine, settings) -> None:
    before_revision = await _revision(owner_engine)
    before_schema = await _schema(owner_engine)
    assert before_revision == head_revision()
    assert len(before_schema) > 50  # the fingerprint is not vacuous

    # Alembic's env runs its own event loop: call it from a thread, as the CLI would.
    await asyncio.to_thread(upgrade_to_head, owner_url, settings.app_db_role)

    assert await _revision(owner_engine) == before_revision
    assert await _schema(owner_engine) == before_schema
    async with owner_engine.connect() as conn:
        rows = (await conn.execute(text("select version_num from alembic_version"))).all()
    assert [r[0] for r in rows] == [before_revision]


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_models_match_the_migrated_schema(owner_engine) -> None:
    modules = _import_all_models()
    assert {
        "tenants.models",
        "domain.parties.models",
        "domain.audit.models",
        "domain.events.models",
    } <= modules
    expected_tables = {
        "tenants",
        "organizations",
        "persons",
        "users",
        "memberships",
        "oauth_clients",
        "refresh_tokens",
        "audit_log",
        "events",
    }
    assert expected_tables <= set(Base.metadata.tables)
    async with owner_engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == [], "models and migrations disagree:\n" + pprint.pformat(diff)


async def test_healthz(client) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_the_head_revision(client, owner_engine) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "migrations": {"current": head_revision()}}


async def test_readyz_is_unavailable_when_the_schema_is_behind(client, owner_engine) -> None:
    """Control for the test above: /readyz really compares the revision."""
    head = head_revision()
    async with owner_engine.begin() as conn:
        await conn.execute(text("update alembic_version set version_num = 'older'"))
    try:
        response = await client.get("/readyz")
    finally:
        async with owner_engine.begin() as conn:
            await conn.execute(text("update alembic_version set version_num = :h"), {"h": head})
    assert response.status_code == 503, response.text
    assert response.json()["migrations"] == {"current": "older", "head": head}
    assert (await client.get("/readyz")).status_code == 200
