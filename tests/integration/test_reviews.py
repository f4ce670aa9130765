"""The first and the second review of deals on PostgreSQL: the approval path and its timeline,
rejection and return, notes, four eyes (refused by the use cases and, for the same write as
plain SQL of the application role, by the database), another funder's deals, the approved
terms' limits, the queues and the expiry of approvals.

The world: bank A's consumer product lends 1,000.00 to 200,000.00 CNY at 12 %; the young
borrower applies for 50,000.00 over 12 months; order financing of the confirmed order asks
800,000.00 and claims the order. Bank A's reviewers are made here: two first reviewers, a
second reviewer and one person with both roles."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.deals import repository as deals_repository
from domain.deals.models import DealStatus
from domain.kernel.actor import Actor
from domain.kernel.errors import DomainError, ErrorCode, ValidationErrors
from domain.kernel.money import Money
from domain.kernel.scopes import Role, scopes_for_roles
from domain.persistence.constraints import Violation, refusing, violation_of
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from domain.products.models import ProductLine
from domain.reviews import repository, service
from domain.reviews.models import ReviewDecision, ReviewStage
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

APPROVE, REJECT, RETURN = ReviewDecision.APPROVE, ReviewDecision.REJECT, ReviewDecision.RETURN
FIRST, SECOND = ReviewStage.FIRST, ReviewStage.SECOND


@dataclass(frozen=True)
class Staff:
    """Bank A's reviewers, and bank B's first reviewer."""

    first: Actor
    other_first: Actor
    second: Actor
    both: Actor
    b_first: Actor


def _actor(user_id: uuid.UUID, tenant_id: uuid.UUID, *roles: Role) -> Actor:
    return Actor(
        user_id=user_id,
        client_id="test-console",
        tenant_id=tenant_id,
        scopes=frozenset(s.value for s in scopes_for_roles(set(roles))),
        roles=frozenset(roles),
    )


async def _staff(state: Any, m: Market) -> Staff:
    made: dict[str, Actor] = {}
    wanted = {
        "first": (m.world.a.id, [Role.FIRST_REVIEWER]),
        "other_first": (m.world.a.id, [Role.FIRST_REVIEWER]),
        "second": (m.world.a.id, [Role.SECOND_REVIEWER]),
        "both": (m.world.a.id, [Role.FIRST_REVIEWER, Role.SECOND_REVIEWER]),
        "b_first": (m.world.b.id, [Role.FIRST_REVIEWER]),
    }
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        for name, (tenant, roles) in wanted.items():
            created = await tenant_service.create_user(
                s,
                SEEDER,
                email=f"{name.replace('_', '-')}@reviews.test",
                display_name=name,
                roles=[r.value for r in roles],
                tenant_id=tenant,
                password=PASSWORD,
            )
            made[name] = _actor(created.user.id, tenant, *roles)
        await s.commit()
    return Staff(**made)


async def _in_first_review(state: Any, m: Market, deal_id: uuid.UUID) -> None:
    """SUBMITTED (or resubmitted) -> FIRST_REVIEW in the funder's scope, and its first
    review opened in the same transaction (intake's step, which has no use case yet)."""
    async with tenant_session(state, m.world.a.id) as s:
        deal = await deals_repository.deal(s, deal_id, for_update=True)
        assert deal is not None and deal.status is DealStatus.SUBMITTED
        deal.status = DealStatus.FIRST_REVIEW
        await s.flush()
        await service.open_first_review(s, deal)
        await s.commit()


async def _consumer_in_review(state: Any, m: Market, **kw: Any) -> uuid.UUID:
    deal_id = (await apply(state, m.young.actor(), **consumer_deal(m, **kw))).deal.id
    outcome, errors = await submit(state, m.young.actor(), deal_id)
    assert outcome is not None, errors
    await _in_first_review(state, m, deal_id)
    return deal_id


async def _order_in_review(state: Any, m: Market) -> uuid.UUID:
    seller = m.chain.seller_user.actor()
    deal_id = (await apply(state, seller, **order_deal(m))).deal.id
    outcome, errors = await submit(state, seller, deal_id)
    assert outcome is not None, errors
    await _in_first_review(state, m, deal_id)
    return deal_id


async def _run(state: Any, actor: Actor, use_case: Any, **kw: Any) -> Any:
    """One use case in the actor's scope, committed."""
    async with session_of(state, actor) as s:
        result = await use_case(s, actor, **kw)
        await s.commit()
    return result


async def _refused(state: Any, actor: Actor, use_case: Any, **kw: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await _run(state, actor, use_case, **kw)
    return caught.value


async def _rows(owner: AsyncEngine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async with owner.connect() as conn:
        return [tuple(r) for r in (await conn.execute(text(sql), params)).all()]


async def _reviews(owner: AsyncEngine, deal_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return await _rows(
        owner,
        "select stage, round, assignee_id, decision, notes, decided_by, system_decision,"
        " approved_amount_minor, approved_currency, approved_rate"
        " from deal_reviews where deal_id = :d order by round, stage",
        d=deal_id,
    )


async def _timeline(owner: AsyncEngine, deal_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return await _rows(
        owner,
        "select action, from_status, to_status, actor_user_id, note from deal_events"
        " where deal_id = :d order by id",
        d=deal_id,
    )


async def _event_types(owner: AsyncEngine, deal_id: uuid.UUID) -> list[str]:
    rows = await _rows(
        owner, "select type from events where aggregate_id = :d order by id", d=str(deal_id)
    )
    return [r[0] for r in rows]


@pytest.fixture
async def world(app_state) -> tuple[Market, Staff]:  # type: ignore[no-untyped-def]
    m = await market(app_state)
    return m, await _staff(app_state, m)


# -- the approval path ----------------------------------------------------------------------------


async def test_first_then_second_approval(app_state, owner_engine, world) -> None:
    m, staff = world
    deal_id = await _consumer_in_review(app_state, m)
    assert await _reviews(owner_engine, deal_id) == [
        ("FIRST", 1, None, None, None, None, False, None, None, None)
    ]

    # Deciding an unclaimed first review claims it.
    first = await _run(
        app_state,
        staff.first,
        service.decide_first_review,
        deal_id=deal_id,
        decision=APPROVE,
        notes="Income and identity verified",
    )
    assert first.deal.status is DealStatus.SECOND_REVIEW
    assert first.opened is not None and first.opened.stage is SECOND
    second = await _run(
        app_state,
        staff.second,
        service.decide_second_review,
        deal_id=deal_id,
        decision=APPROVE,
        notes="Approved as requested",
    )
    assert second.deal.status is DealStatus.APPROVED
    r1, r2 = staff.first.user_id, staff.second.user_id
    # As requested: 50,000.00 CNY at the product's 12 %.
    assert await _reviews(owner_engine, deal_id) == [
        ("FIRST", 1, r1, "APPROVE", "Income and identity verified", r1, False, None, None, None),
        (
            "SECOND",
            1,
            r2,
            "APPROVE",
            "Approved as requested",
            r2,
            False,
            5_000_000,
            "CNY",
            Decimal("0.12000000"),
        ),
    ]
    # The approval stands 30 days from the decision.
    [(decided_at, expires_at)] = await _rows(
        owner_engine,
        "select decided_at, expires_at from deal_reviews where deal_id = :d and stage = 'SECOND'",
        d=deal_id,
    )
    assert expires_at - decided_at == timedelta(days=30)
    young = m.young.user_id
    assert await _timeline(owner_engine, deal_id) == [
        ("deal.create", None, "DRAFT", young, None),
        ("deal.submit", "DRAFT", "SUBMITTED", young, None),
        # The notes are the funder's (the reviews keep them), not the applicant's timeline's.
        ("deal.pass_first_review", "FIRST_REVIEW", "SECOND_REVIEW", r1, None),
        ("deal.approve", "SECOND_REVIEW", "APPROVED", r2, None),
    ]
    assert await _event_types(owner_engine, deal_id) == [
        "deal.created",
        "deal.submitted",
        "deal.first_review_passed",
        "deal.approved",
    ]
    # The funder's staff read the reviews; the applicant's side does not.
    reviews = await _run(app_state, staff.first, service.reviews_of_deal, deal_id=deal_id)
    assert [(r.stage, r.round, r.decided_by) for r in reviews] == [(FIRST, 1, r1), (SECOND, 1, r2)]
    refused = await _refused(app_state, m.young.actor(), service.reviews_of_deal, deal_id=deal_id)
    assert refused.code is ErrorCode.NOT_FOUND
    audit = await _rows(
        owner_engine,
        "select action, actor_user_id from audit_log where object_id = :d order by id",
        d=str(deal_id),
    )
    assert audit[-2:] == [("deal.pass_first_review", r1), ("deal.approve", r2)]


async def test_the_scorecard_approves_a_first_review(app_state, owner_engine, world) -> None:
    m, staff = world
    deal_id = await _consumer_in_review(app_state, m)
    async with tenant_session(app_state, m.world.a.id) as s:
        deal = await deals_repository.deal(s, deal_id)
        assert deal is not None
        outcome = await service.record_system_first_approval(s, deal, "Score 742, all rules pass")
        await s.commit()
    assert outcome.deal.status is DealStatus.SECOND_REVIEW
    # Any second reviewer may take the second review, even one who is a first reviewer too.
    await _run(
        app_state,
        staff.both,
        service.decide_second_review,
        deal_id=deal_id,
        decision=APPROVE,
        notes="ok",
        amount=Money(4_000_000, "CNY"),
    )
    rows = await _reviews(owner_engine, deal_id)
    assert rows[0] == (
        "FIRST",
        1,
        None,
        "APPROVE",
        "Score 742, all rules pass",
        None,
        True,
        None,
        None,
        None,
    )
    assert rows[1][7] == 4_000_000
    assert (await _timeline(owner_engine, deal_id))[2] == (
        "deal.pass_first_review",
        "FIRST_REVIEW",
        "SECOND_REVIEW",
        None,
        None,
    )


# -- rejection and return -------------------------------------------------------------------------


async def test_rejection_at_first_review_releases_the_order(app_state, owner_engine, world) -> None:
    m, staff = world
    deal_id = await _order_in_review(app_state, m)
    assert await live_claims(owner_engine) == [("order", deal_id)]
    outcome = await _run(
        app_state,
        staff.first,
        service.decide_first_review,
        deal_id=deal_id,
        decision=REJECT,
        notes="Buyer concentration too high",
    )
    assert outcome.deal.status is DealStatus.REJECTED and outcome.opened is None
    assert await live_claims(owner_engine) == []
    assert (await _timeline(owner_engine, deal_id))[-1][:3] == (
        "deal.reject",
        "FIRST_REVIEW",
        "REJECTED",
    )
    assert (await _event_types(owner_engine, deal_id))[-1] == "deal.rejected"


async def test_rejection_at_second_review(app_state, owner_engine, world) -> None:
    m, staff = world
    deal_id = await _order_in_review(app_state, m)
    await _run(
        app_state,
        staff.first,
        service.decide_first_review,
        deal_id=deal_id,
        decision=APPROVE,
        notes="fine",
    )
    await _run(
        app_state,
        staff.second,
        service.decide_second_review,
        deal_id=deal_id,
        decision=REJECT,
        notes="Order disputed",
    )
    assert await status_of(owner_engine, deal_id) == "REJECTED"
    assert await live_claims(owner_engine) == []
    assert [r[3] for r in await _reviews(owner_engine, deal_id)] == ["APPROVE", "REJECT"]


async def test_a_returned_deal_resubmitted_starts_round_two(app_state, owner_engine, world) -> None:
    m, staff = world
    deal_id = await _order_in_review(app_state, m)
    await _run(
        app_state,
        staff.first,
        service.decide_first_review,
        deal_id=deal_id,
        decision=RETURN,
        notes="Attach the delivery note",
    )
    # Returned: the applicant completes it and keeps its claim on the order; what to amend
    # is on the timeline, which the applicant reads.
    assert await status_of(owner_engine, deal_id) == "RETURNED"
    assert (await _timeline(owner_engine, deal_id))[-1][-1] == "Attach the delivery note"
    assert await live_claims(owner_engine) == [("order", deal_id)]
    outcome, errors = await submit(app_state, m.chain.seller_user.actor(), deal_id)
    assert outcome is not None, errors
    await _in_first_review(app_state, m, deal_id)
    # Round 2; the first reviewer of round 1 may review round 2's first stage again, and the
    # second reviewer returns it once more.
    await _run(
        app_state,
        staff.first,
        service.decide_first_review,
        deal_id=deal_id,
        decision=APPROVE,
        notes="Delivery note attached",
    )
    await _run(
        app_state,
        staff.second,
        service.decide_second_review,
        deal_id=deal_id,
        decision=RETURN,
        notes="Buyer's confirmation is stale",
    )
    r1, r2 = staff.first.user_id, staff.second.user_id
    assert [(r[0], r[1], r[3], r[5]) for r in await _reviews(owner_engine, deal_id)] == [
        ("FIRST", 1, "RETURN", r1),
        ("FIRST", 2, "APPROVE", r1),
        ("SECOND", 2, "RETURN", r2),
    ]
    assert [r[:3] for r in (await _timeline(owner_engine, deal_id))[2:]] == [
        ("deal.return", "FIRST_REVIEW", "RETURNED"),
        ("deal.submit", "RETURNED", "SUBMITTED"),
        ("deal.pass_first_review", "FIRST_REVIEW", "SECOND_REVIEW"),
        ("deal.return", "SECOND_REVIEW", "RETURNED"),
    ]


async def test_notes_are_required(app_state, owner_engine, world) -> None:
    m, staff = world
    deal_id = await _consumer_in_review(app_state, m)
    for notes in (None, "   "):
        refused = await _refused(
            app_state,
            staff.first,
            service.decide_first_review,
            deal_id=deal_id,
            decision=REJECT,
            notes=notes,
        )
        assert (refused.code, refused.field) == (ErrorCode.REQUIRED, "notes")
    refused = await _refused(
        app_state,
        staff.first,
        service.decide_first_review,
        deal_id=deal_id,
        decision=REJECT,
        notes="x" * 501,
    )
    assert (refused.code, refused.field) == (ErrorCode.TOO_LONG, "notes")
    assert await status_of(owner_engine, deal_id) == "FIRST_REVIEW"
    assert await _reviews(owner_engine, deal_id) == [
        ("FIRST", 1, None, None, None, None, False, None, None, None)
    ]


async def test_scopes_and_the_status_are_checked(app_state, world) -> None:
    m, staff = world
    deal_id = await _consumer_in_review(app_state, m)
    # A first reviewer cannot decide a second review, nor a second reviewer a first one.
    refused = await _refused(
        app_state, staff.second, service.claim_review, deal_id=deal_id, stage=FIRST
    )
    assert refused.code is ErrorCode.FORBIDDEN
    # The deal is in first review: its second review is not open.
    refused = await _refused(
        app_state,
        staff.both,
        service.decide_second_review,
        deal_id=deal_id,
        decision=APPROVE,
        notes="too early",
    )
    assert refused.code is ErrorCode.INVALID_TRANSITION


# -- claims ---------------------------------------------------------------------------------------


async def test_claim_and_release(app_state, owner_engine, world) -> None:
    m, staff = world
    deal_id = await _consumer_in_review(app_state, m)
    claim = {"deal_id": deal_id, "stage": FIRST}
    await _run(app_state, staff.first, service.claim_review, **claim)
    # Claiming again changes nothing; another reviewer finds it taken and cannot release it.
    await _run(app_state, staff.first, service.claim_review, **claim)
    refused = await _refused(app_state, staff.other_first, service.claim_review, **claim)
    assert refused.code is ErrorCode.REVIEW_TAKEN
    refused = await _refused(app_state, staff.other_first, service.release_review, **claim)
    assert refused.code is ErrorCode.FORBIDDEN
    refused = await _refused(
        app_state,
        staff.other_first,
        service.decide_first_review,
        deal_id=deal_id,
        decision=APPROVE,
        notes="mine now",
    )
    assert refused.code is ErrorCode.REVIEW_TAKEN
    released = await _run(app_state, staff.first, service.release_review, **claim)
    assert released.review.assignee_id is None
    taken = await _run(app_state, staff.other_first, service.claim_review, **claim)
    assert taken.review.assignee_id == staff.other_first.user_id
    assert (await _reviews(owner_engine, deal_id))[0][2] == staff.other_first.user_id


# -- four eyes ------------------------------------------------------------------------------------


async def _passed_first(state: Any, m: Market, staff: Staff) -> uuid.UUID:
    """A deal whose first review ``staff.both`` approved."""
    deal_id = await _consumer_in_review(state, m)
    await _run(
        state,
        staff.both,
        service.decide_first_review,
        deal_id=deal_id,
        decision=APPROVE,
        notes="Looks fine",
    )
    return deal_id


async def test_four_eyes_in_the_use_cases(app_state, owner_engine, world) -> None:
    m, staff = world
    deal_id = await _passed_first(app_state, m, staff)
    refused = await _refused(
        app_state, staff.both, service.claim_review, deal_id=deal_id, stage=SECOND
    )
    assert refused.code is ErrorCode.FOUR_EYES
    refused = await _refused(
        app_state,
        staff.both,
        service.decide_second_review,
        deal_id=deal_id,
        decision=APPROVE,
        notes="Approving my own",
    )
    assert refused.code is ErrorCode.FOUR_EYES
    assert await status_of(owner_engine, deal_id) == "SECOND_REVIEW"
    second = (await _reviews(owner_engine, deal_id))[1]
    assert (second[0], second[2], second[3]) == ("SECOND", None, None)
    # Someone else may.
    await _run(
        app_state,
        staff.second,
        service.decide_second_review,
        deal_id=deal_id,
        decision=APPROVE,
        notes="Second pair of eyes",
    )
    assert await status_of(owner_engine, deal_id) == "APPROVED"


@asynccontextmanager
async def as_app(state: Any, **values: str) -> AsyncIterator[AsyncConnection]:
    """A transaction of the application role with these ``app.*`` settings, rolled back."""
    async with state.engine.connect() as conn:
        tx = await conn.begin()
        try:
            for name, value in values.items():
                await conn.execute(
                    text("select set_config(:n, :v, true)"), {"n": f"app.{name}", "v": value}
                )
            yield conn
        finally:
            if tx.is_active:
                await tx.rollback()


async def test_four_eyes_in_the_database(app_state, owner_engine, world) -> None:
    m, staff = world
    deal_id = await _passed_first(app_state, m, staff)
    me = str(staff.both.user_id)
    scope = {"tenant_id": str(m.world.a.id), "user_id": me}
    writes = [
        # Claiming the second review.
        "update deal_reviews set assignee_id = :me, claimed_at = now()"
        " where deal_id = :d and stage = 'SECOND'",
        # Deciding it, unclaimed.
        "update deal_reviews set decision = 'APPROVE', notes = 'x', decided_by = :me,"
        " decided_at = now(), approved_amount_minor = 5000000, approved_currency = 'CNY',"
        " approved_rate = 0.12, expires_at = now() + interval '30 days'"
        " where deal_id = :d and stage = 'SECOND'",
    ]
    for sql in writes:
        with pytest.raises(DBAPIError) as caught:
            async with as_app(app_state, **scope) as conn:
                await conn.execute(text(sql), {"me": me, "d": deal_id})
        assert "four eyes" in str(caught.value)
        assert violation_of(caught.value) == Violation("23514", "ck_deal_reviews_four_eyes")
    # The first stage, decided, never changes, whoever writes it.
    await _run(app_state, staff.second, service.claim_review, deal_id=deal_id, stage=SECOND)
    r2 = str(staff.second.user_id)
    with pytest.raises(DBAPIError) as caught:
        async with as_app(app_state, tenant_id=str(m.world.a.id), user_id=r2) as conn:
            await conn.execute(
                text(
                    "update deal_reviews set notes = 'edited' where deal_id = :d"
                    " and stage = 'FIRST'"
                ),
                {"d": deal_id},
            )
    assert violation_of(caught.value) == Violation("23514", "ck_deal_reviews_decided_once")
    # Naming someone else as the reviewer is refused by row-level security.
    with pytest.raises(DBAPIError) as caught:
        async with as_app(app_state, **scope) as conn:
            await conn.execute(
                text(
                    "update deal_reviews set assignee_id = :other, claimed_at = now()"
                    " where deal_id = :d and stage = 'SECOND'"
                ),
                {"other": str(staff.other_first.user_id), "d": deal_id},
            )
    assert "row-level security" in str(caught.value)
    # Control: the second reviewer's own write goes through.
    async with as_app(app_state, tenant_id=str(m.world.a.id), user_id=r2) as conn:
        result = await conn.execute(
            text(
                "update deal_reviews set assignee_id = null, claimed_at = null"
                " where deal_id = :d and stage = 'SECOND'"
            ),
            {"d": deal_id},
        )
        assert result.rowcount == 1


async def test_the_database_trigger_maps_to_four_eyes(app_state, world) -> None:
    """A write that a use case's own check missed (say, a stale read) still meets the
    trigger, and is answered FOUR_EYES: the first stage's decider staged as the second
    stage's assignee, flushed as the use cases flush."""
    m, staff = world
    deal_id = await _passed_first(app_state, m, staff)
    async with session_of(app_state, staff.both) as s:
        deal = await deals_repository.deal(s, deal_id)
        review = await repository.review(
            s, tenant_id=m.world.a.id, deal_id=deal_id, stage=SECOND, round=1
        )
        assert deal is not None and review is not None
        with pytest.raises(DomainError) as caught:
            async with refusing(s, service._refusals(deal)):
                review.assignee_id = staff.both.user_id
                review.claimed_at = review.created_at
        assert caught.value.code is ErrorCode.FOUR_EYES


# -- another funder -------------------------------------------------------------------------------


async def test_another_funders_deal_is_not_found(app_state, owner_engine, world) -> None:
    m, staff = world
    deal_id = await _consumer_in_review(app_state, m)
    for use_case, kw in (
        (service.claim_review, {"stage": FIRST}),
        (service.decide_first_review, {"decision": APPROVE, "notes": "not mine"}),
    ):
        refused = await _refused(app_state, staff.b_first, use_case, deal_id=deal_id, **kw)
        assert (refused.code, refused.field) == (ErrorCode.NOT_FOUND, "dealId")
    # A deal of bank A named by a bank A reviewer through a token of bank B: not found either.
    stray = Actor(
        user_id=staff.first.user_id,
        client_id="test-console",
        tenant_id=m.world.b.id,
        scopes=staff.first.scopes,
    )
    refused = await _refused(app_state, stray, service.claim_review, deal_id=deal_id, stage=FIRST)
    assert refused.code is ErrorCode.NOT_FOUND
    assert await _reviews(owner_engine, deal_id) == [
        ("FIRST", 1, None, None, None, None, False, None, None, None)
    ]


# -- the approved terms ---------------------------------------------------------------------------


async def test_second_review_terms_limits(app_state, owner_engine, world) -> None:
    m, staff = world
    deal_id = await _consumer_in_review(app_state, m)
    await _run(
        app_state,
        staff.first,
        service.decide_first_review,
        deal_id=deal_id,
        decision=APPROVE,
        notes="ok",
    )
    decide = {"deal_id": deal_id, "decision": APPROVE, "notes": "on terms"}
    cases = [
        # 50,000.01: one fen above the 50,000.00 requested.
        ({"amount": Money(5_000_001, "CNY")}, [(ErrorCode.AMOUNT_ABOVE_REQUEST, "amount")]),
        # 999.99: one fen under the product's 1,000.00.
        ({"amount": Money(99_999, "CNY")}, [(ErrorCode.AMOUNT_NOT_OFFERED, "amount")]),
        # 12.5 % is above the product's 12 %.
        ({"rate": Decimal("0.125")}, [(ErrorCode.ANNUAL_RATE_OUT_OF_RANGE, "rate")]),
        (
            {"amount": Money(3_000_000, "USD"), "rate": Decimal("-0.01")},
            [
                (ErrorCode.CURRENCY_MISMATCH, "amount.currency"),
                (ErrorCode.ANNUAL_RATE_OUT_OF_RANGE, "rate"),
            ],
        ),
    ]
    for terms, expected in cases:
        refused = await _refused(
            app_state, staff.second, service.decide_second_review, **decide, **terms
        )
        errors = refused.errors if isinstance(refused, ValidationErrors) else [refused]
        assert [(e.code, e.field) for e in errors] == expected, terms
    # Terms with a rejection are refused too.
    refused = await _refused(
        app_state,
        staff.second,
        service.decide_second_review,
        deal_id=deal_id,
        decision=REJECT,
        notes="no",
        amount=Money(3_000_000, "CNY"),
    )
    assert refused.code is ErrorCode.INVALID
    assert await status_of(owner_engine, deal_id) == "SECOND_REVIEW"
    # 30,000.00 at 9.5 %.
    await _run(
        app_state,
        staff.second,
        service.decide_second_review,
        **decide,
        amount=Money(3_000_000, "CNY"),
        rate=Decimal("0.095"),
    )
    second = (await _reviews(owner_engine, deal_id))[1]
    assert second[7:] == (3_000_000, "CNY", Decimal("0.09500000"))


# -- queues ---------------------------------------------------------------------------------------


async def test_the_queues(app_state, owner_engine, world) -> None:
    m, staff = world
    deals = [await _consumer_in_review(app_state, m) for _ in range(3)]
    order = await _order_in_review(app_state, m)
    await _run(app_state, staff.first, service.claim_review, deal_id=deals[1], stage=FIRST)
    queue = service.review_queue

    async def ids(actor: Actor, **kw: Any) -> list[uuid.UUID]:
        async with session_of(app_state, actor) as s:
            page = await queue(s, actor, **kw)
        return [e.deal_id for e in page.entries]

    assert await ids(staff.first, stage=FIRST) == [*deals, order]
    assert await ids(staff.first, stage=FIRST, assignee="me") == [deals[1]]
    assert await ids(staff.other_first, stage=FIRST, assignee="me") == []
    assert await ids(staff.first, stage=FIRST, assignee="unassigned") == [
        deals[0],
        deals[2],
        order,
    ]
    assert await ids(staff.first, stage=FIRST, line=ProductLine.ORDER_FINANCING) == [order]
    # Pages of two, by keyset.
    async with session_of(app_state, staff.first) as s:
        page = await queue(s, staff.first, stage=FIRST, first=2)
        assert [e.deal_id for e in page.entries] == deals[:2] and page.has_next
        rest = await queue(s, staff.first, stage=FIRST, first=2, after=page.entries[-1].keyset)
        assert [e.deal_id for e in rest.entries] == [deals[2], order] and not rest.has_next
        entry = page.entries[0]
        assert (entry.stage, entry.round, entry.amount, entry.product_line) == (
            FIRST,
            1,
            Money(5_000_000, "CNY"),
            ProductLine.CONSUMER_CREDIT,
        )
        # Older than the third deal's review: the first two.
        older = await queue(s, staff.first, stage=FIRST, older_than=rest.entries[0].created_at)
        assert [e.deal_id for e in older.entries] == deals[:2]
    # A decided review leaves the first queue; the second queue lists its second review.
    await _run(
        app_state,
        staff.first,
        service.decide_first_review,
        deal_id=deals[1],
        decision=APPROVE,
        notes="ok",
    )
    assert await ids(staff.first, stage=FIRST) == [deals[0], deals[2], order]
    assert await ids(staff.second, stage=SECOND) == [deals[1]]
    # Bank B's queue is empty; a first reviewer may not read the second queue.
    assert await ids(staff.b_first, stage=FIRST) == []
    with pytest.raises(DomainError) as caught:
        await ids(staff.first, stage=SECOND)
    assert caught.value.code is ErrorCode.FORBIDDEN
    with pytest.raises(DomainError) as caught:
        await ids(staff.first, stage=FIRST, first=101)
    assert caught.value.code is ErrorCode.INVALID


# -- expiry ---------------------------------------------------------------------------------------


async def _backdate(owner: AsyncEngine, deal_id: uuid.UUID) -> None:
    """The approval expired a minute ago (below the triggers: a decided review never
    changes through the application)."""
    async with owner.begin() as conn:
        await conn.execute(text("set local session_replication_role = replica"))
        await conn.execute(
            text(
                "update deal_reviews set expires_at = now() - interval '1 minute'"
                " where deal_id = :d and stage = 'SECOND'"
            ),
            {"d": deal_id},
        )


async def test_expiry_is_idempotent(app_state, owner_engine, world) -> None:
    m, staff = world
    deal_id = await _order_in_review(app_state, m)
    await _run(
        app_state,
        staff.first,
        service.decide_first_review,
        deal_id=deal_id,
        decision=APPROVE,
        notes="ok",
    )
    await _run(
        app_state,
        staff.second,
        service.decide_second_review,
        deal_id=deal_id,
        decision=APPROVE,
        notes="ok",
    )

    async def sweep() -> list[tuple[uuid.UUID, uuid.UUID]]:
        async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
            now = (await s.execute(text("select now()"))).scalar_one()
            return await repository.expired_approvals(s, now=now, limit=10)

    async def expire() -> service.ExpiryOutcome:
        async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
            outcome = await service.expire_approval(s, deal_id)
            await s.commit()
        return outcome

    # Still standing: nothing to sweep, and expiring it now is refused.
    assert await sweep() == []
    with pytest.raises(DomainError) as caught:
        await expire()
    assert caught.value.code is ErrorCode.INVALID_TRANSITION

    await _backdate(owner_engine, deal_id)
    assert await sweep() == [(m.world.a.id, deal_id)]
    assert await live_claims(owner_engine) == [("order", deal_id)]
    first = await expire()
    assert first.expired and first.deal.status is DealStatus.EXPIRED
    assert await live_claims(owner_engine) == []
    events = len(await _timeline(owner_engine, deal_id))
    again = await expire()
    assert not again.expired and again.deal.status is DealStatus.EXPIRED
    assert len(await _timeline(owner_engine, deal_id)) == events
    assert await sweep() == []
    assert (await _timeline(owner_engine, deal_id))[-1] == (
        "deal.expire",
        "APPROVED",
        "EXPIRED",
        None,
        None,
    )
    assert (await _event_types(owner_engine, deal_id))[-1] == "deal.expired"
