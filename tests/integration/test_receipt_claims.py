"""A warehouse receipt backs at most one live deal: the partial unique index on receipt_claims
decides between concurrent claims, whichever funders make them, on separate connections."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import text

from domain.collateral import service
from domain.collateral.models import ReceiptClaim
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.money import Money
from tests.collateral_support import issue_receipt, session_of, supply_chain, tenant_session
from tests.deals_support import let_go, stub_deal
from tests.support import seed_world, wait_until_blocked

LIVE_CLAIMS = (
    "select tenant_id, deal_id from receipt_claims where receipt_id = :r and released_at is null"
)


async def _live(owner_engine, receipt_id: uuid.UUID) -> list[tuple[uuid.UUID, uuid.UUID]]:
    async with owner_engine.connect() as conn:
        rows = await conn.execute(text(LIVE_CLAIMS), {"r": receipt_id})
        return [(r[0], r[1]) for r in rows]


async def _claim_at_once(
    app_state,
    barrier: asyncio.Barrier,
    tenant_id: uuid.UUID,
    receipt_id: uuid.UUID,
    deal_id: uuid.UUID,
) -> tuple[uuid.UUID, ReceiptClaim | DomainError]:
    """Open a transaction bound to the funder, wait until the rival has too, claim, commit."""
    async with tenant_session(app_state, tenant_id) as session:
        await session.connection()  # begin and bind the tenant now, on a connection of its own
        await barrier.wait()
        try:
            claim = await service.claim_receipt(
                session, receipt_id=receipt_id, tenant_id=tenant_id, deal_id=deal_id
            )
        except DomainError as refusal:
            await session.rollback()
            return deal_id, refusal
        await session.commit()
        return deal_id, claim


async def test_two_funders_claiming_one_receipt_at_once_exactly_one_wins(
    app_state, owner_engine
) -> None:
    world = await seed_world(app_state)
    chain = await supply_chain(app_state, world)
    receipt_id = await issue_receipt(app_state, chain)

    barrier = asyncio.Barrier(2)
    results = await asyncio.gather(
        _claim_at_once(
            app_state,
            barrier,
            world.a.id,
            receipt_id,
            await stub_deal(owner_engine, world.a.id, receipt_id),
        ),
        _claim_at_once(
            app_state,
            barrier,
            world.b.id,
            receipt_id,
            await stub_deal(owner_engine, world.b.id, receipt_id),
        ),
    )

    won = [(deal, r) for deal, r in results if isinstance(r, ReceiptClaim)]
    lost = [r for _, r in results if isinstance(r, DomainError)]
    assert len(won) == 1 and len(lost) == 1, results
    assert lost[0].code is ErrorCode.RECEIPT_ALREADY_PLEDGED
    assert lost[0].field == "receiptId"
    winner_deal, winner = won[0]
    assert await _live(owner_engine, receipt_id) == [(winner.tenant_id, winner_deal)]

    # The winner releases; the loser's funder can now claim it for a new deal.
    loser_tenant = world.b.id if winner.tenant_id == world.a.id else world.a.id
    await let_go(owner_engine, winner_deal)
    async with tenant_session(app_state, winner.tenant_id) as s:
        released = await service.release_receipt(
            s, receipt_id=receipt_id, tenant_id=winner.tenant_id, deal_id=winner_deal
        )
        await s.commit()
    assert released.released_at is not None
    assert await _live(owner_engine, receipt_id) == []
    new_deal = await stub_deal(owner_engine, loser_tenant, receipt_id)
    async with tenant_session(app_state, loser_tenant) as s:
        claim = await service.claim_receipt(
            s, receipt_id=receipt_id, tenant_id=loser_tenant, deal_id=new_deal
        )
        await s.commit()
    assert claim.released_at is None
    assert await _live(owner_engine, receipt_id) == [(loser_tenant, new_deal)]


async def test_a_claim_waits_for_an_uncommitted_rival(app_state, owner_engine) -> None:
    """The index, not a read-then-write check: a second claim blocks on the first's
    uncommitted row, and wins if that one rolls back."""
    world = await seed_world(app_state)
    chain = await supply_chain(app_state, world)
    receipt_id = await issue_receipt(app_state, chain)

    deal_a = await stub_deal(owner_engine, world.a.id, receipt_id)
    deal_b = await stub_deal(owner_engine, world.b.id, receipt_id)
    first = tenant_session(app_state, world.a.id)
    await service.claim_receipt(first, receipt_id=receipt_id, tenant_id=world.a.id, deal_id=deal_a)

    async def second() -> ReceiptClaim:
        async with tenant_session(app_state, world.b.id) as s:
            claim = await service.claim_receipt(
                s, receipt_id=receipt_id, tenant_id=world.b.id, deal_id=deal_b
            )
            await s.commit()
            return claim

    waiting = asyncio.create_task(second())
    await wait_until_blocked(owner_engine)
    assert not waiting.done(), "the second claim did not wait for the first"
    await first.rollback()
    await first.close()
    claim = await asyncio.wait_for(waiting, timeout=10)
    assert claim.tenant_id == world.b.id
    assert [t for t, _ in await _live(owner_engine, receipt_id)] == [world.b.id]


async def test_claiming_again_for_the_same_deal_is_idempotent(app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    chain = await supply_chain(app_state, world)
    receipt_id = await issue_receipt(app_state, chain)
    deal = await stub_deal(owner_engine, world.a.id, receipt_id)
    async with tenant_session(app_state, world.a.id) as s:
        one = await service.claim_receipt(
            s, receipt_id=receipt_id, tenant_id=world.a.id, deal_id=deal
        )
        two = await service.claim_receipt(
            s, receipt_id=receipt_id, tenant_id=world.a.id, deal_id=deal
        )
        assert one.id == two.id
        # Another deal of the same funder is refused like anyone else's.
        with pytest.raises(DomainError) as caught:
            await service.claim_receipt(
                s, receipt_id=receipt_id, tenant_id=world.a.id, deal_id=uuid.uuid4()
            )
        assert caught.value.code is ErrorCode.RECEIPT_ALREADY_PLEDGED
        # The refusal ran in a savepoint: the transaction goes on and keeps the claim.
        await s.commit()
    assert await _live(owner_engine, receipt_id) == [(world.a.id, deal)]


async def test_claims_are_the_claiming_funders_own(app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    chain = await supply_chain(app_state, world)
    receipt_id = await issue_receipt(app_state, chain)
    deal = await stub_deal(owner_engine, world.a.id, receipt_id)
    async with tenant_session(app_state, world.a.id) as s:
        await service.claim_receipt(s, receipt_id=receipt_id, tenant_id=world.a.id, deal_id=deal)
        # A claim for another funder than the bound one is refused by row-level security.
        with pytest.raises(DomainError) as caught:
            await service.claim_receipt(
                s, receipt_id=receipt_id, tenant_id=world.b.id, deal_id=uuid.uuid4()
            )
        assert caught.value.code is ErrorCode.FORBIDDEN
        await s.commit()

    async with tenant_session(app_state, world.b.id) as s:
        # B neither sees A's claim nor can release it, nor sees the receipt.
        assert (await s.execute(text("select count(*) from receipt_claims"))).scalar_one() == 0
        with pytest.raises(DomainError) as caught:
            await service.release_receipt(
                s, receipt_id=receipt_id, tenant_id=world.a.id, deal_id=deal
            )
        assert caught.value.code is ErrorCode.NOT_FOUND
        with pytest.raises(DomainError) as caught:
            await service.receipt_valuation_inputs(s, receipt_id=receipt_id)
        assert caught.value.code is ErrorCode.NOT_FOUND
    assert await _live(owner_engine, receipt_id) == [(world.a.id, deal)]

    await let_go(owner_engine, deal)
    async with tenant_session(app_state, world.a.id) as s:
        # The claimant reads the valuation inputs: 25.5 t x 68,000.00 = 1,734,000.00 CNY.
        inputs = await service.receipt_valuation_inputs(s, receipt_id=receipt_id)
        assert inputs.quantity == Decimal("25.5")
        assert inputs.unit == "t"
        assert inputs.unit_price == Money.parse("68000", "CNY")
        assert inputs.declared_value == Money.parse("1734000", "CNY")
        # Releasing twice: the second finds no live claim.
        await service.release_receipt(s, receipt_id=receipt_id, tenant_id=world.a.id, deal_id=deal)
        with pytest.raises(DomainError) as caught:
            await service.release_receipt(
                s, receipt_id=receipt_id, tenant_id=world.a.id, deal_id=deal
            )
        assert caught.value.code is ErrorCode.NOT_FOUND
        await s.commit()


async def test_a_released_claim_stays_released(app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    chain = await supply_chain(app_state, world)
    receipt_id = await issue_receipt(app_state, chain)
    deal = await stub_deal(owner_engine, world.a.id, receipt_id)
    async with tenant_session(app_state, world.a.id) as s:
        await service.claim_receipt(s, receipt_id=receipt_id, tenant_id=world.a.id, deal_id=deal)
        await s.commit()
    await let_go(owner_engine, deal)
    async with tenant_session(app_state, world.a.id) as s:
        await service.release_receipt(s, receipt_id=receipt_id, tenant_id=world.a.id, deal_id=deal)
        await s.commit()
    async with tenant_session(app_state, world.a.id) as s:
        with pytest.raises(Exception, match="released and cannot change"):
            await s.execute(text("update receipt_claims set released_at = null"))


async def test_a_cancelled_receipt_cannot_be_claimed(app_state) -> None:
    world = await seed_world(app_state)
    chain = await supply_chain(app_state, world)
    receipt_id = await issue_receipt(app_state, chain)
    warehouse = chain.warehouse_user.actor()
    async with session_of(app_state, warehouse) as s:
        await service.cancel_warehouse_receipt(s, warehouse, receipt_id=receipt_id, reason="void")
        await s.commit()
    async with tenant_session(app_state, world.a.id) as s:
        with pytest.raises(DomainError) as caught:
            await service.claim_receipt(
                s, receipt_id=receipt_id, tenant_id=world.a.id, deal_id=uuid.uuid4()
            )
        assert caught.value.code is ErrorCode.RECEIPT_CANCELLED
        with pytest.raises(DomainError) as caught:
            await service.claim_receipt(
                s, receipt_id=uuid.uuid4(), tenant_id=world.a.id, deal_id=uuid.uuid4()
            )
        assert caught.value.code is ErrorCode.NOT_FOUND


async def test_a_pledged_receipt_cannot_be_cancelled(app_state, owner_engine) -> None:
    world = await seed_world(app_state)
    chain = await supply_chain(app_state, world)
    receipt_id = await issue_receipt(app_state, chain)
    deal = await stub_deal(owner_engine, world.a.id, receipt_id)
    async with tenant_session(app_state, world.a.id) as s:
        await service.claim_receipt(s, receipt_id=receipt_id, tenant_id=world.a.id, deal_id=deal)
        await s.commit()
    warehouse = chain.warehouse_user.actor()
    async with session_of(app_state, warehouse) as s:
        with pytest.raises(DomainError) as caught:
            await service.cancel_warehouse_receipt(
                s, warehouse, receipt_id=receipt_id, reason="void"
            )
        assert caught.value.code is ErrorCode.RECEIPT_ALREADY_PLEDGED
        await s.rollback()
    await let_go(owner_engine, deal)
    async with tenant_session(app_state, world.a.id) as s:
        await service.release_receipt(s, receipt_id=receipt_id, tenant_id=world.a.id, deal_id=deal)
        await s.commit()
    async with session_of(app_state, warehouse) as s:
        cancelled = await service.cancel_warehouse_receipt(
            s, warehouse, receipt_id=receipt_id, reason="goods released"
        )
        await s.commit()
    assert cancelled.cancelled_at is not None


async def test_a_claim_and_a_cancellation_racing_are_serialised(app_state, owner_engine) -> None:
    """Each order of the race: the later one waits on the receipt's row lock and then sees
    the earlier one's committed outcome."""
    world = await seed_world(app_state)
    chain = await supply_chain(app_state, world)
    warehouse = chain.warehouse_user.actor()

    # Claim first (uncommitted), cancel waits, claim commits: the cancellation is refused.
    receipt_id = await issue_receipt(app_state, chain, "WR-RACE-1")
    claimer = tenant_session(app_state, world.a.id)
    await service.claim_receipt(
        claimer,
        receipt_id=receipt_id,
        tenant_id=world.a.id,
        deal_id=await stub_deal(owner_engine, world.a.id, receipt_id),
    )

    async def cancel(rid: uuid.UUID) -> object:
        async with session_of(app_state, warehouse) as s:
            try:
                result = await service.cancel_warehouse_receipt(
                    s, warehouse, receipt_id=rid, reason="void"
                )
            except DomainError as refusal:
                return refusal
            await s.commit()
            return result

    waiting = asyncio.create_task(cancel(receipt_id))
    await wait_until_blocked(owner_engine)
    assert not waiting.done()
    await claimer.commit()
    await claimer.close()
    refusal = await asyncio.wait_for(waiting, timeout=10)
    assert isinstance(refusal, DomainError) and refusal.code is ErrorCode.RECEIPT_ALREADY_PLEDGED

    # Cancel first (uncommitted), the claim waits, the cancellation commits: claim refused.
    receipt_id = await issue_receipt(app_state, chain, "WR-RACE-2")
    canceller = session_of(app_state, warehouse)
    await service.cancel_warehouse_receipt(canceller, warehouse, receipt_id=receipt_id, reason="x")

    async def claim() -> object:
        async with tenant_session(app_state, world.b.id) as s:
            try:
                return await service.claim_receipt(
                    s, receipt_id=receipt_id, tenant_id=world.b.id, deal_id=uuid.uuid4()
                )
            except DomainError as refusal:
                return refusal

    waiting = asyncio.create_task(claim())
    await wait_until_blocked(owner_engine)
    assert not waiting.done()
    await canceller.commit()
    await canceller.close()
    refusal = await asyncio.wait_for(waiting, timeout=10)
    assert isinstance(refusal, DomainError) and refusal.code is ErrorCode.RECEIPT_CANCELLED
    assert await _live(owner_engine, receipt_id) == []


async def test_the_live_claim_index_is_global(owner_engine) -> None:
    """The guarantee is the database's: a partial unique index, not a policy."""
    async with owner_engine.connect() as conn:
        definition = (
            await conn.execute(
                text("select indexdef from pg_indexes where indexname = 'uq_receipt_claims_live'")
            )
        ).scalar_one()
    assert "UNIQUE INDEX" in definition
    assert "(receipt_id)" in definition
    assert "WHERE (released_at IS NULL)" in definition
