"""``seed-demo`` connects with the owner's URL only, and writes as the application role: each of
its transactions runs ``SET LOCAL ROLE``, so the application role's grants and row-level
security apply to what it writes, as they do to every request. Shown by contrast: the same
insert that the owner (here the server's superuser) makes below RLS is refused once the
session acts as the application role."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from domain.persistence.engine import create_engine, open_session, session_factory
from domain.persistence.scope import NO_SCOPE, PLATFORM_SCOPE
from lendgraph.cli import act_as, may_act_as

APP_ROLE = "lendgraph_app"
INSERT_TENANT = text(
    "insert into tenants (id, name, slug, kind, time_zone, currency, status)"
    " values (:id, 'Seeded', :slug, 'BANK', 'Asia/Shanghai', 'CNY', 'ACTIVE')"
)


def _tenant() -> dict[str, object]:
    tag = uuid.uuid4()
    return {"id": tag, "slug": f"seeded-{tag.hex[:8]}"}


async def test_every_transaction_runs_as_the_app_role(owner_url: URL) -> None:
    engine = create_engine(owner_url, pool_size=1)
    try:
        session = open_session(session_factory(engine), PLATFORM_SCOPE)
        act_as(session, APP_ROLE)
        async with session:
            for _ in range(2):  # the role is set again in each new transaction
                row = (await session.execute(text("select current_user, session_user"))).one()
                assert tuple(row) == (APP_ROLE, owner_url.username)
                await session.commit()
    finally:
        await engine.dispose()


async def test_writes_acting_as_the_app_role_go_through_row_level_security(
    owner_url: URL,
) -> None:
    engine = create_engine(owner_url, pool_size=1)
    try:
        # Without a scope, the owner's own session writes a tenant: superusers skip RLS.
        async with open_session(session_factory(engine), NO_SCOPE) as below:
            await below.execute(INSERT_TENANT, _tenant())
            await below.rollback()
        # Acting as the application role, the tenants policy (platform scope only) refuses it...
        refused = open_session(session_factory(engine), NO_SCOPE)
        act_as(refused, APP_ROLE)
        async with refused:
            with pytest.raises(DBAPIError, match="row-level security"):
                await refused.execute(INSERT_TENANT, _tenant())
        # ...and allows it in the platform scope, as seed-demo writes.
        allowed = open_session(session_factory(engine), PLATFORM_SCOPE)
        act_as(allowed, APP_ROLE)
        async with allowed:
            await allowed.execute(INSERT_TENANT, _tenant())
            await allowed.rollback()
    finally:
        await engine.dispose()


async def test_may_act_as(owner_url: URL) -> None:
    engine = create_engine(owner_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            assert await may_act_as(connection, APP_ROLE) is True
            assert await may_act_as(connection, "no_such_role_here") is None
    finally:
        await engine.dispose()
