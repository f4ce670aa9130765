"""The expiry of approvals: the actor's own function on this test's database (no broker)
expires an APPROVED deal whose approval has lapsed - its collateral released, the transition
on its timeline - and leaves one whose approval still stands; a second run changes nothing.
The scheduler enqueues it every minute.

The world (tests.deals_support.market): order financing of bank A's confirmed order, 800,000.00
CNY, and the young borrower's consumer deal of 50,000.00, both approved by bank A's first and
second reviewers."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.state import AppState
from domain.deals import repository as deals_repository
from domain.deals.models import DealStatus
from domain.kernel.actor import Actor
from domain.kernel.scopes import Role, scopes_for_roles
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE, DbScope
from domain.persistence.unit_of_work import unit_of_work
from domain.reviews import service
from domain.reviews.models import ReviewDecision
from lendgraph.demo import SEEDER
from tenants import service as tenant_service
from tests.collateral_support import session_of, tenant_session
from tests.deals_support import (
    Market,
    apply,
    consumer_deal,
    live_claims,
    market,
    order_deal,
    status_of,
    submit,
)
from tests.support import PASSWORD
from workers import resources, scheduler
from workers.actors import reviews


async def _reviewer(state: AppState, m: Market, email: str, role: Role) -> Actor:
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        made = await tenant_service.create_user(
            s,
            SEEDER,
            email=email,
            display_name=email,
            roles=[role.value],
            tenant_id=m.world.a.id,
            password=PASSWORD,
        )
        await s.commit()
    return Actor(
        user_id=made.user.id,
        client_id="test-console",
        tenant_id=m.world.a.id,
        scopes=frozenset(s.value for s in scopes_for_roles({role})),
        roles=frozenset({role}),
    )


async def _approved(
    state: AppState, m: Market, applicant: Actor, kw: dict[str, Any], *, by: tuple[Actor, Actor]
) -> uuid.UUID:
    """A deal applied for, submitted, moved to FIRST_REVIEW by hand (intake has no use case
    yet) and approved by both reviews."""
    deal_id = (await apply(state, applicant, **kw)).deal.id
    outcome, errors = await submit(state, applicant, deal_id)
    assert outcome is not None, errors
    async with tenant_session(state, m.world.a.id) as s:
        deal = await deals_repository.deal(s, deal_id, for_update=True)
        assert deal is not None
        deal.status = DealStatus.FIRST_REVIEW
        await s.flush()
        await service.open_first_review(s, deal)
        await s.commit()
    decisions = zip(by, (service.decide_first_review, service.decide_second_review), strict=True)
    for actor, decide in decisions:
        async with session_of(state, actor) as s:
            await decide(s, actor, deal_id=deal_id, decision=ReviewDecision.APPROVE, notes="ok")
            await s.commit()
    return deal_id


async def _lapse(owner: AsyncEngine, deal_id: uuid.UUID) -> None:
    """The approval expired a minute ago (below the triggers, as the owner: a decided review
    never changes through the application)."""
    async with owner.begin() as conn:
        await conn.execute(text("set local session_replication_role = replica"))
        await conn.execute(
            text(
                "update deal_reviews set expires_at = now() - interval '1 minute'"
                " where deal_id = :d and stage = 'SECOND'"
            ),
            {"d": deal_id},
        )


async def _timeline(owner: AsyncEngine, deal_id: uuid.UUID) -> list[tuple[Any, ...]]:
    async with owner.connect() as conn:
        rows = await conn.execute(
            text(
                "select action, from_status, to_status, actor_user_id from deal_events"
                " where deal_id = :d order by id"
            ),
            {"d": deal_id},
        )
        return [tuple(r) for r in rows]


@pytest.fixture
def scopes_used(app_state: AppState, monkeypatch: pytest.MonkeyPatch) -> list[DbScope]:
    """The actor's units of work on this test's database, and the scope of each."""
    used: list[DbScope] = []

    @asynccontextmanager
    async def on_test_database(scope: DbScope) -> AsyncIterator[AsyncSession]:
        used.append(scope)
        async with unit_of_work(app_state.sessions, scope, app_state.jobs) as session:
            yield session

    monkeypatch.setattr(resources, "unit_of_work", on_test_database)
    return used


async def test_the_actor_expires_lapsed_approvals_once(
    app_state: AppState, owner_engine: AsyncEngine, scopes_used: list[DbScope]
) -> None:
    m = await market(app_state)
    first = await _reviewer(app_state, m, "first@expiry.test", Role.FIRST_REVIEWER)
    second = await _reviewer(app_state, m, "second@expiry.test", Role.SECOND_REVIEWER)
    seller = m.chain.seller_user.actor()
    lapsed = await _approved(app_state, m, seller, order_deal(m), by=(first, second))
    standing = await _approved(app_state, m, m.young.actor(), consumer_deal(m), by=(first, second))
    expire = inspect.unwrap(reviews.expire_approvals.fn)

    # Nothing has lapsed: a run changes nothing.
    await expire()
    assert [await status_of(owner_engine, d) for d in (lapsed, standing)] == [
        "APPROVED",
        "APPROVED",
    ]
    assert scopes_used == [PLATFORM_SCOPE]

    await _lapse(owner_engine, lapsed)
    assert await live_claims(owner_engine) == [("order", lapsed)]
    await expire()
    assert await status_of(owner_engine, lapsed) == "EXPIRED"
    assert await status_of(owner_engine, standing) == "APPROVED"
    # The order is free again, and the system's transition is on the timeline.
    assert await live_claims(owner_engine) == []
    timeline = await _timeline(owner_engine, lapsed)
    assert timeline[-1] == ("deal.expire", "APPROVED", "EXPIRED", None)
    # Listed across funders, expired in bank A's own scope.
    assert scopes_used[1:] == [PLATFORM_SCOPE, DbScope(tenant_id=m.world.a.id)]

    # Level-triggered: a second run finds nothing and writes nothing.
    await expire()
    assert await _timeline(owner_engine, lapsed) == timeline
    assert await status_of(owner_engine, lapsed) == "EXPIRED"
    assert await status_of(owner_engine, standing) == "APPROVED"
    assert scopes_used[3:] == [PLATFORM_SCOPE]


def test_the_scheduler_runs_the_expiry_every_minute() -> None:
    jobs = {job.name: job for job in scheduler.default_jobs()}
    assert jobs["expire_approvals"].every_seconds == 60
    assert jobs["expire_approvals"].enqueue == reviews.expire_approvals.send
    # SIGNING deals lapse the same way, and envelopes are swept like payouts.
    from workers.actors import signing

    assert jobs["expire_signing"].every_seconds == 60
    assert jobs["expire_signing"].enqueue == signing.expire_signing.send
    assert jobs["sweep_envelopes"].every_seconds == 15
    assert jobs["sweep_envelopes"].enqueue == signing.sweep_envelopes.send
