"""The unit of work of api/context.py without a transport: a context without a session (a
subscription's) makes every ``db()`` use a short unit of work of its own; the active-principal
check opens a short session and gives the connection back; and the pure helpers of
api/websocket.py."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from strawberry.types.graphql import OperationType

from api.context import Context, PrincipalInactive, principal_still_active
from api.websocket import bearer_token, operation_type
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from lendgraph.demo import SEEDER
from tenants import service as tenant_service
from tenants.tokens import TokenRejected
from tests.support import access_token, seed_world


async def _subscription_context(client, app_state, email: str) -> Context:  # type: ignore[no-untyped-def]
    principal = app_state.validator.principal(await access_token(client, email))
    return Context(state=app_state, principal=principal, actor=principal.actor(None))


def _checked_out(app_state) -> int:  # type: ignore[no-untyped-def]
    return int(app_state.engine.pool.checkedout())


async def test_each_use_is_committed_and_returns_its_connection(
    client, app_state, owner_engine
) -> None:
    world = await seed_world(app_state)
    context = await _subscription_context(client, app_state, world.admin_email)
    async with context.db() as session:
        await tenant_service.disable_user(session, context.actor, user_id=world.a.admin_user_id)
        assert _checked_out(app_state) == 1
    assert _checked_out(app_state) == 0
    async with owner_engine.connect() as conn:
        status = await conn.scalar(
            text("select status from users where id = :id"), {"id": world.a.admin_user_id}
        )
    assert status == "DISABLED"


async def test_a_use_that_raises_is_rolled_back(client, app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    context = await _subscription_context(client, app_state, world.admin_email)
    with pytest.raises(RuntimeError, match="after writing"):
        async with context.db() as session:
            await tenant_service.disable_user(session, context.actor, user_id=world.a.admin_user_id)
            await session.flush()
            raise RuntimeError("after writing")
    assert _checked_out(app_state) == 0
    async with owner_engine.connect() as conn:
        status = await conn.scalar(
            text("select status from users where id = :id"), {"id": world.a.admin_user_id}
        )
    assert status == "ACTIVE"


async def test_each_use_binds_the_scope_in_a_transaction_of_its_own(client, app_state) -> None:
    world = await seed_world(app_state)
    context = await _subscription_context(client, app_state, world.a.admin_email)
    seen = []
    for _ in range(2):
        async with context.db() as session:
            row = await session.execute(
                text("select current_setting('app.tenant_id', true), txid_current()")
            )
            seen.append(tuple(row.one()))
    assert [tenant for tenant, _ in seen] == [str(world.a.id)] * 2
    assert seen[0][1] != seen[1][1]


async def test_a_use_by_a_disabled_principal_is_refused(client, app_state) -> None:
    world = await seed_world(app_state)
    context = await _subscription_context(client, app_state, world.a.admin_email)
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        await tenant_service.disable_user(s, SEEDER, user_id=world.a.admin_user_id)
        await s.commit()
    with pytest.raises(PrincipalInactive):
        async with context.db():
            pytest.fail("the block must not run")
    assert _checked_out(app_state) == 0


async def test_loaders_of_a_subscription_context_do_not_cache(
    client, app_state, owner_engine
) -> None:
    # Rows change between a subscription's events; each event must read them afresh.
    world = await seed_world(app_state)
    context = await _subscription_context(client, app_state, world.admin_email)
    assert (await context.loaders.tenants.load(world.a.id)).name == "Bank A"
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("update tenants set name = 'Renamed' where id = :id"), {"id": world.a.id}
        )
    assert (await context.loaders.tenants.load(world.a.id)).name == "Renamed"


async def test_principal_check_gives_its_connection_back(client, app_state) -> None:
    world = await seed_world(app_state)
    principal = app_state.validator.principal(await access_token(client, world.a.admin_email))
    assert await principal_still_active(app_state, principal) is True
    assert _checked_out(app_state) == 0
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        await tenant_service.disable_user(s, SEEDER, user_id=world.a.admin_user_id)
        await s.commit()
    assert await principal_still_active(app_state, principal) is False
    assert _checked_out(app_state) == 0


@pytest.mark.parametrize(
    ("payload", "token"),
    [
        ({"Authorization": "Bearer abc"}, "abc"),
        ({"authorization": "bearer  abc "}, "abc"),
        ({"token": "abc"}, "abc"),
        ({"Authorization": "Bearer abc", "token": "other"}, "abc"),
        ({}, None),
        ({"other": "Bearer abc"}, None),
    ],
)
def test_bearer_token_from_connection_init(payload, token) -> None:
    assert bearer_token(payload) == token


@pytest.mark.parametrize(
    "payload",
    [
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer   "},
        {"Authorization": 5},
        {"authorization": None},
        {"token": ""},
        {"token": ["abc"]},
    ],
)
def test_malformed_bearer_token_is_rejected(payload) -> None:
    with pytest.raises(TokenRejected):
        bearer_token(payload)


@pytest.mark.parametrize(
    ("query", "name", "expected"),
    [
        ("subscription { probe }", None, OperationType.SUBSCRIPTION),
        ("{ viewer { subject } }", None, OperationType.QUERY),
        ("mutation M { x } subscription S { y }", "S", OperationType.SUBSCRIPTION),
        ("mutation M { x } subscription S { y }", "M", OperationType.MUTATION),
        ("mutation M { x }", "Other", None),
        ("subscription {", None, None),
        (42, None, None),
        ("subscription { probe }", ["S"], None),
    ],
)
def test_operation_type(query, name, expected) -> None:
    assert operation_type(query, name, max_tokens=100) == expected


def test_operation_type_respects_the_token_limit() -> None:
    # A document past the limit is not parsed here; execution refuses it.
    assert operation_type("subscription { a b c d e }", None, max_tokens=4) is None
    assert operation_type("subscription { a b c d e }", None, max_tokens=100) == (
        OperationType.SUBSCRIPTION
    )
