"""Idempotency keys on PostgreSQL, below the API: a key held by a running transaction is
answered IN_PROGRESS at once (never waited for), an answered key replays its stored answer,
a rolled-back request leaves its key free, keys belong to their principal, and keys older than
24 hours are purged by the scheduled job - which is the only way the application can delete
one."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.state import AppState
from domain.idempotency import service as idempotency
from domain.kernel.actor import Actor
from domain.kernel.errors import DomainError, ErrorCode
from domain.persistence.engine import open_session
from domain.persistence.scope import DbScope
from tests.collateral_support import session_of

T = TypeVar("T")

# Client-only principals (a partner app acting for itself): no rows needed behind them.
SHOP = Actor(user_id=None, client_id="shop-app", tenant_id=None)
OTHER_SHOP = Actor(user_id=None, client_id="other-shop-app", tenant_id=None)
BODY = '{"data":{"deal":{"id":"RGVhbDox"}},"errors":[]}'


async def _promptly(awaitable: Awaitable[T]) -> T:
    # A guard, not a timing assertion: a begin() that waited for the other transaction would
    # wait for ever here (the test holds that transaction open), so fail instead of hanging.
    return await asyncio.wait_for(awaitable, timeout=60)


async def _begin(
    session: AsyncSession, actor: Actor = SHOP, *, key: str = "k-1", hash: str = "h1"
) -> idempotency.Fresh | idempotency.Replay:
    return await idempotency.begin(
        session, actor, operation="createDeal", key=key, request_hash=hash
    )


async def _keys(owner: AsyncEngine) -> list[tuple[Any, ...]]:
    async with owner.connect() as conn:
        rows = await conn.execute(
            text("select client_id, key, response from idempotency_keys order by created_at, key")
        )
        return [tuple(r) for r in rows]


async def _advisory_locks_held(owner: AsyncEngine) -> int:
    async with owner.connect() as conn:
        found = await conn.scalar(
            text(
                # pg_locks is the whole server's: only this test database's count (tests
                # running at once in other databases take advisory locks of their own).
                "select count(*) from pg_locks where locktype = 'advisory' and granted"
                " and pid <> pg_backend_pid()"
                " and database = (select oid from pg_database where datname = current_database())"
            )
        )
        return int(found or 0)


async def test_a_running_first_request_makes_others_answer_in_progress_at_once(
    app_state, owner_engine
) -> None:
    first = session_of(app_state, SHOP)
    try:
        started = await _begin(first)
        assert isinstance(started, idempotency.Fresh)
        # The first transaction holds the key's lock while it acts ...
        assert await _advisory_locks_held(owner_engine) == 1
        # ... and a duplicate is answered at once, neither waiting for it nor acting.
        async with session_of(app_state, SHOP) as second:
            with pytest.raises(DomainError) as caught:
                await _promptly(_begin(second))
            await second.rollback()
        assert caught.value.code is ErrorCode.IDEMPOTENCY_IN_PROGRESS
        assert caught.value.field == "idempotencyKey"
        # So is a duplicate with another body: the key is taken either way.
        async with session_of(app_state, SHOP) as second:
            with pytest.raises(DomainError) as caught:
                await _promptly(_begin(second, hash="h2"))
        assert caught.value.code is ErrorCode.IDEMPOTENCY_IN_PROGRESS
        assert await idempotency.complete(first, started, BODY)
        await first.commit()
    finally:
        await first.close()
    assert await _advisory_locks_held(owner_engine) == 0

    # Once the first has committed, the same request replays its answer; another is refused.
    async with session_of(app_state, SHOP) as again:
        assert await _begin(again) == idempotency.Replay(BODY)
        with pytest.raises(DomainError) as caught:
            await _begin(again, hash="h2")
    assert caught.value.code is ErrorCode.IDEMPOTENCY_KEY_REUSED
    assert await _keys(owner_engine) == [("shop-app", "k-1", BODY)]


async def test_a_replay_takes_no_lock(app_state, owner_engine) -> None:
    async with session_of(app_state, SHOP) as s:
        started = await _begin(s)
        assert isinstance(started, idempotency.Fresh)
        await idempotency.complete(s, started, BODY)
        await s.commit()
    # Two replays in open transactions at once: neither makes the other wait or refuses it.
    async with session_of(app_state, SHOP) as one, session_of(app_state, SHOP) as two:
        assert await _promptly(_begin(one)) == idempotency.Replay(BODY)
        assert await _promptly(_begin(two)) == idempotency.Replay(BODY)
        assert await _advisory_locks_held(owner_engine) == 0


async def test_the_key_twice_in_one_transaction_is_in_progress(app_state) -> None:
    async with session_of(app_state, SHOP) as s:
        assert isinstance(await _begin(s), idempotency.Fresh)
        with pytest.raises(DomainError) as caught:
            await _begin(s)
        assert caught.value.code is ErrorCode.IDEMPOTENCY_IN_PROGRESS
        with pytest.raises(DomainError) as caught:
            await _begin(s, hash="h2")
        assert caught.value.code is ErrorCode.IDEMPOTENCY_KEY_REUSED


async def test_a_rolled_back_request_leaves_its_key_free(app_state, owner_engine) -> None:
    async with session_of(app_state, SHOP) as s:
        assert isinstance(await _begin(s), idempotency.Fresh)
        await s.rollback()
    assert await _keys(owner_engine) == []
    async with session_of(app_state, SHOP) as s:
        started = await _promptly(_begin(s, hash="h2"))
        assert isinstance(started, idempotency.Fresh)
        await idempotency.complete(s, started, BODY)
        await s.commit()
    assert await _keys(owner_engine) == [("shop-app", "k-1", BODY)]


async def test_a_key_belongs_to_its_principal(app_state, owner_engine) -> None:
    async with session_of(app_state, SHOP) as s:
        started = await _begin(s)
        assert isinstance(started, idempotency.Fresh)
        await idempotency.complete(s, started, BODY)
        await s.commit()
    # The same string from another client is another key, and it cannot see the first.
    async with session_of(app_state, OTHER_SHOP) as s:
        assert isinstance(await _begin(s, OTHER_SHOP, hash="h2"), idempotency.Fresh)
        await s.commit()
    assert [k[:2] for k in await _keys(owner_engine)] == [
        ("shop-app", "k-1"),
        ("other-shop-app", "k-1"),
    ]


@pytest.mark.parametrize("key", ["", " padded", "x" * 201, "naïve"])
async def test_a_key_is_printable_ascii_of_at_most_200(app_state, key: str) -> None:
    async with session_of(app_state, SHOP) as s:
        with pytest.raises(DomainError) as caught:
            await _begin(s, key=key)
    assert (caught.value.code, caught.value.field) == (ErrorCode.INVALID, "idempotencyKey")


# -- expiry ---------------------------------------------------------------------------------------


async def _answered(app_state: AppState, key: str) -> None:
    async with session_of(app_state, SHOP) as s:
        started = await _begin(s, key=key)
        assert isinstance(started, idempotency.Fresh)
        await idempotency.complete(s, started, BODY)
        await s.commit()


async def _age(owner: AsyncEngine, key: str, age: timedelta) -> None:
    async with owner.begin() as conn:
        await conn.execute(
            text(
                "update idempotency_keys set created_at = now() - cast(:age as interval)"
                " where key = :key"
            ),
            {"age": age, "key": key},
        )


async def test_the_scheduled_purge_deletes_keys_older_than_24_hours(
    app_state, owner_engine, monkeypatch
) -> None:
    from workers import resources, scheduler
    from workers.actors import maintenance

    for key in ("old", "nearly", "fresh"):
        await _answered(app_state, key)
    await _age(owner_engine, "old", timedelta(hours=24, minutes=1))
    await _age(owner_engine, "nearly", timedelta(hours=23, minutes=59))

    # The actor's own function, on this test's database.
    monkeypatch.setattr(resources, "session", lambda scope: open_session(app_state.sessions, scope))
    purge = inspect.unwrap(maintenance.purge_idempotency_keys.fn)
    await purge()
    assert sorted(k[1] for k in await _keys(owner_engine)) == ["fresh", "nearly"]
    await purge()  # a second run has nothing more to do
    assert sorted(k[1] for k in await _keys(owner_engine)) == ["fresh", "nearly"]

    # A purged key is free again: a retry after expiry acts afresh.
    async with session_of(app_state, SHOP) as s:
        assert isinstance(await _begin(s, key="old"), idempotency.Fresh)

    # And the scheduler enqueues the purge every hour.
    jobs = {job.name: job for job in scheduler.default_jobs()}
    assert jobs["purge_idempotency_keys"].every_seconds == 3600
    assert jobs["purge_idempotency_keys"].enqueue == maintenance.purge_idempotency_keys.send


async def test_the_application_deletes_keys_only_through_the_purge(app_state, owner_engine) -> None:
    await _answered(app_state, "live")
    for scope in (DbScope(client_id="shop-app"), DbScope(platform=True)):
        async with open_session(app_state.sessions, scope) as s:
            with pytest.raises(DBAPIError) as caught:
                await s.execute(text("delete from idempotency_keys"))
        assert "permission denied" in str(caught.value)
    # The purge function deletes nothing younger than 24 hours, whoever calls it.
    async with open_session(app_state.sessions, DbScope(platform=True)) as s:
        assert await idempotency.purge_expired(s) == 0
        await s.commit()
    assert [k[1] for k in await _keys(owner_engine)] == ["live"]
