"""Submitting deals on PostgreSQL: collateral backs at most one live deal even when two
submissions race (two funders, two connections), a refused submission writes nothing,
and withdrawing releases the collateral. (Idempotency keys, which the API puts around these use
cases, are tested in test_idempotency.py.)"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from api.errors import run_use_case
from domain.deals import service
from domain.deals.models import DealStatus
from domain.kernel.actor import Actor
from domain.kernel.errors import DomainError, ErrorCode
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from tests.collateral_support import issue_receipt, session_of
from tests.deals_support import (
    apply,
    counts,
    live_claims,
    market,
    order_deal,
    pledge_deal,
    status_of,
    submit,
    withdraw,
)


async def _submit_at_once(
    app_state: Any, barrier: asyncio.Barrier, actor: Actor, deal_id: uuid.UUID
) -> tuple[uuid.UUID, Any, list[Any]]:
    """Open a transaction of its own, wait until the rival has too, submit (as the API does, in
    a savepoint) and commit whatever the answer."""
    async with session_of(app_state, actor) as session:
        await session.connection()  # begin and bind the scope now, on a connection of its own
        await barrier.wait()
        outcome, errors = await run_use_case(
            session,
            actor,
            lambda s, a: service.submit_deal(s, a, app_state.cipher, deal_id=deal_id),
        )
        await session.commit()
        return deal_id, outcome, errors


async def _race(app_state: Any, actor: Actor, deals: list[uuid.UUID]) -> tuple[Any, Any]:
    barrier = asyncio.Barrier(2)
    results = await asyncio.gather(*(_submit_at_once(app_state, barrier, actor, d) for d in deals))
    won = [r for r in results if r[1] is not None]
    lost = [r for r in results if r[1] is None]
    assert len(won) == 1 and len(lost) == 1, results
    return won[0], lost[0]


async def _submit_events(owner_engine: Any, deal_id: uuid.UUID) -> int:
    async with owner_engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    text(
                        "select (select count(*) from deal_events where deal_id = :d"
                        " and action = 'deal.submit')"
                        " + (select count(*) from audit_log where object_id = :t"
                        " and action = 'deal.submit')"
                        " + (select count(*) from events where aggregate_id = :t"
                        " and type = 'deal.submitted')"
                    ),
                    {"d": deal_id, "t": str(deal_id)},
                )
            ).scalar_one()
        )


async def test_two_funders_submitting_one_receipt_at_once_exactly_one_wins(
    app_state, owner_engine
) -> None:
    m = await market(app_state)
    owner = m.chain.owner_user.actor()
    deal_a = (await apply(app_state, owner, **pledge_deal(m, "a"))).deal.id
    deal_b = (await apply(app_state, owner, **pledge_deal(m, "b"))).deal.id
    before = await counts(owner_engine)

    (winner, _, _), (loser, _, errors) = await _race(app_state, owner, [deal_a, deal_b])

    assert [e.code.value for e in errors] == ["RECEIPT_ALREADY_PLEDGED"], errors
    assert errors[0].field == "warehouseReceiptIds.0"
    assert await status_of(owner_engine, winner) == "SUBMITTED"
    assert await status_of(owner_engine, loser) == "DRAFT"
    # One claim, the winner's; the loser left no claim, timeline entry, audit row or event.
    assert await live_claims(owner_engine) == [("receipt", winner)]
    after = await counts(owner_engine)
    assert after["receipt_claims"] == before["receipt_claims"] + 1
    assert await _submit_events(owner_engine, loser) == 0
    assert await _submit_events(owner_engine, winner) == 3
    for table in ("deal_events", "audit_log", "events"):
        assert after[table] == before[table] + 1, table
    assert after["deals"] == before["deals"]
    # The winner's bureau, identity and valuation calls; none for the loser.
    assert after["integration_calls"] == before["integration_calls"] + 2  # bureau, valuation


async def test_two_funders_submitting_one_order_at_once_exactly_one_wins(
    app_state, owner_engine
) -> None:
    m = await market(app_state)
    seller = m.chain.seller_user.actor()
    deal_a = (await apply(app_state, seller, **order_deal(m, "a"))).deal.id
    deal_b = (await apply(app_state, seller, **order_deal(m, "b"))).deal.id
    before = await counts(owner_engine)

    (winner, _, _), (loser, _, errors) = await _race(app_state, seller, [deal_a, deal_b])

    assert [e.code.value for e in errors] == ["PURCHASE_ORDER_ALREADY_FINANCED"], errors
    assert await status_of(owner_engine, winner) == "SUBMITTED"
    assert await status_of(owner_engine, loser) == "DRAFT"
    assert await live_claims(owner_engine) == [("order", winner)]
    after = await counts(owner_engine)
    assert after["purchase_order_claims"] == before["purchase_order_claims"] + 1
    assert after["receipt_claims"] == before["receipt_claims"]
    assert await _submit_events(owner_engine, loser) == 0


async def test_withdrawing_releases_the_collateral_for_another_deal(
    app_state, owner_engine
) -> None:
    m = await market(app_state)
    owner = m.chain.owner_user.actor()
    first = (await apply(app_state, owner, **pledge_deal(m, "a"))).deal.id
    second = (await apply(app_state, owner, **pledge_deal(m, "b"))).deal.id
    assert (await submit(app_state, owner, first))[1] == []
    _, errors = await submit(app_state, owner, second)
    assert [e.code.value for e in errors] == ["RECEIPT_ALREADY_PLEDGED"]

    withdrawn, errors = await withdraw(app_state, owner, first)
    assert errors == [] and withdrawn.deal.status is DealStatus.WITHDRAWN
    assert await live_claims(owner_engine) == []
    outcome, errors = await submit(app_state, owner, second)
    assert errors == [] and outcome is not None
    assert await live_claims(owner_engine) == [("receipt", second)]
    # A withdrawn deal is final.
    _, errors = await submit(app_state, owner, first)
    assert [e.code.value for e in errors] == ["INVALID_TRANSITION"]


async def test_demo_seeds_deals_in_several_states_for_both_funders(app_state, owner_engine) -> None:
    from lendgraph import demo

    for expected in (True, False):
        async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
            assert await demo.seed(s, app_state.cipher) is expected
            await s.commit()
    async with owner_engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "select t.slug, d.product_line, d.status, d.channel from deals d"
                    " join tenants t on t.id = d.tenant_id"
                )
            )
        ).all()
        orders = dict(
            (await conn.execute(text("select number, status from purchase_orders"))).all()
        )
        receipts = (await conn.execute(text("select count(*) from warehouse_receipts"))).scalar()
        live = (
            await conn.execute(
                text(
                    "select (select count(*) from receipt_claims where released_at is null),"
                    " (select count(*) from purchase_order_claims where released_at is null)"
                )
            )
        ).one()
    assert set(orders.values()) == {"CONFIRMED", "PENDING_CONFIRMATION"}
    assert receipts == 4
    for funder in demo.FUNDERS:
        mine = [r for r in rows if r[0] == funder.slug]
        assert {r[2] for r in mine} >= {"DRAFT", "SUBMITTED", "WITHDRAWN"}, (funder, mine)
        assert {r[1] for r in mine} == {
            "CONSUMER_CREDIT",
            "ORDER_FINANCING",
            "WAREHOUSE_RECEIPT_PLEDGE",
        }
        assert {r[3] for r in mine} >= {"DIRECT", "PARTNER_APP"}
    # Submitted deals hold their collateral; the withdrawn pledge released its receipt.
    assert tuple(live) == (2, 2)


async def test_a_submission_refused_part_way_takes_back_its_own_claims(
    app_state, owner_engine
) -> None:
    """The use case is atomic by itself (not only inside the API's savepoint): a pledge of two
    receipts whose second is taken keeps no claim on the first, even when the caller commits
    after the refusal."""
    m = await market(app_state)
    owner = m.chain.owner_user.actor()
    second = await issue_receipt(app_state, m.chain, number="WR-0002")
    taken = await apply(app_state, owner, **pledge_deal(m, "b", warehouse_receipt_ids=[second]))
    assert (await submit(app_state, owner, taken.deal.id))[1] == []
    both = pledge_deal(m, "a", warehouse_receipt_ids=[m.receipt, second])
    deal = (await apply(app_state, owner, **both)).deal.id
    before = await counts(owner_engine)
    async with session_of(app_state, owner) as s:
        with pytest.raises(DomainError) as caught:
            await service.submit_deal(s, owner, app_state.cipher, deal_id=deal)
        await s.commit()
    assert caught.value.code is ErrorCode.RECEIPT_ALREADY_PLEDGED
    assert caught.value.field == "warehouseReceiptIds.1"
    assert await counts(owner_engine) == before
    assert await live_claims(owner_engine) == [("receipt", taken.deal.id)]
    assert await status_of(owner_engine, deal) == "DRAFT"
