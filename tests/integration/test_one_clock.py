"""One clock per transaction: every time a use case writes in one transaction is PostgreSQL's
transaction_timestamp(), the value now() gives the columns that default to it. A deal's
creation, its consent, its first timeline entry, its audit row and its outbox event carry the
same instant; its submission, the submit entry's."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text

from domain.kernel.clock import transaction_now
from tests.collateral_support import session_of
from tests.deals_support import apply, market, pledge_deal, submit


async def _one(owner_engine: Any, sql: str, **params: Any) -> Any:
    async with owner_engine.connect() as conn:
        rows = (await conn.execute(text(sql), params)).all()
    assert len(rows) == 1, (sql, rows)
    return rows[0]


async def _times(owner_engine: Any, deal_id: uuid.UUID, action: str, event: str) -> set[datetime]:
    """The times of the deal's timeline entry, audit row and outbox event for ``action``."""
    timeline = await _one(
        owner_engine,
        "select occurred_at from deal_events where deal_id = :d and action = :a",
        d=deal_id,
        a=action,
    )
    audit = await _one(
        owner_engine,
        "select occurred_at from audit_log where object_id = :d and action = :a",
        d=str(deal_id),
        a=action,
    )
    outbox = await _one(
        owner_engine,
        "select occurred_at from events where aggregate_id = :d and type = :e",
        d=str(deal_id),
        e=event,
    )
    return {timeline[0], audit[0], outbox[0]}


async def test_a_deal_and_its_records_carry_one_instant(app_state, owner_engine) -> None:
    m = await market(app_state)
    owner = m.chain.owner_user.actor()
    deal_id = (await apply(app_state, owner, **pledge_deal(m, "a"))).deal.id

    created, updated, consent = await _one(
        owner_engine,
        "select created_at, updated_at, consent_given_at from deals where id = :d",
        d=deal_id,
    )
    first = await _one(
        owner_engine,
        "select action, occurred_at from deal_events where deal_id = :d order by id limit 1",
        d=deal_id,
    )
    assert first[0] == "deal.create"
    # The consent was given with no time of its own: it is the deal's instant too.
    assert {created, updated, consent, first[1]} == {created}
    assert await _times(owner_engine, deal_id, "deal.create", "deal.created") == {created}

    outcome, errors = await submit(app_state, owner, deal_id)
    assert errors == [] and outcome is not None
    submitted, updated_after, created_after = await _one(
        owner_engine,
        "select submitted_at, updated_at, created_at from deals where id = :d",
        d=deal_id,
    )
    assert submitted == updated_after
    assert await _times(owner_engine, deal_id, "deal.submit", "deal.submitted") == {submitted}
    # Another transaction, another instant; the creation's stays as it was.
    assert created_after == created
    assert submitted > created


async def test_transaction_now_is_fixed_within_a_transaction_and_new_in_the_next(
    app_state,
) -> None:
    m = await market(app_state)
    actor = m.chain.owner_user.actor()
    async with session_of(app_state, actor) as session:
        first = await transaction_now(session)
        async with session.begin_nested():
            in_savepoint = await transaction_now(session)
        database = (await session.execute(text("select now()"))).scalar_one()
        await session.commit()
        after_commit = await transaction_now(session)
        database_after = (await session.execute(text("select now()"))).scalar_one()
        await session.rollback()
    assert first == in_savepoint == database
    assert after_commit == database_after
    assert after_commit > first
