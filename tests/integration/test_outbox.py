"""The outbox: events appended with a transition are announced by ``pg_notify`` at commit
only (a listener on another connection hears a committed transition, never a rolled-back one),
and the relay hands each event on once, in order, marking it published."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from api.context import db_scope
from api.errors import run_use_case
from domain.deals import service
from domain.events import relay
from domain.events.listener import EventListener, Notification
from domain.events.repository import RELAY_JOB
from domain.persistence.scope import PLATFORM_SCOPE
from domain.persistence.unit_of_work import unit_of_work
from lendgraph import runtime
from tests.deals_support import apply, consumer_deal, market, order_deal
from tests.jobs_support import RecordingQueue, submit_with


def _libpq(settings) -> str:  # type: ignore[no-untyped-def]
    # The application role's own connection, as an API process would listen.
    return (
        runtime.app_url(settings).set(drivername="postgresql").render_as_string(hide_password=False)
    )


async def _next(subscription, within: float = 30.0) -> Notification:  # type: ignore[no-untyped-def]
    # A guard against a hang, not a measure: the order of arrival is what is asserted.
    return await asyncio.wait_for(subscription.get(), within)


async def test_a_committed_transition_is_heard_and_a_rolled_back_one_is_not(
    app_state, owner_engine, settings
) -> None:
    m = await market(app_state)
    actor = m.young.actor()
    rolled_back = (await apply(app_state, actor, **consumer_deal(m))).deal.id
    seller = m.chain.seller_user.actor()
    committed = (await apply(app_state, seller, **order_deal(m))).deal.id

    listener = EventListener(_libpq(settings))
    await listener.start()
    try:
        subscription = listener.subscribe()
        with pytest.raises(RuntimeError, match="rolled back"):
            async with unit_of_work(app_state.sessions, db_scope(actor), RecordingQueue()) as s:
                _, errors = await run_use_case(
                    s,
                    actor,
                    lambda s, a: service.submit_deal(s, a, app_state.cipher, deal_id=rolled_back),
                )
                assert errors == []
                await s.flush()  # the event row and its NOTIFY exist in the transaction
                raise RuntimeError("rolled back")
        assert await submit_with(app_state, seller, committed, RecordingQueue()) == []

        # Had the rolled-back submission sent anything, it would have arrived first.
        note = await _next(subscription)
        async with owner_engine.connect() as conn:
            event_id = await conn.scalar(
                text("select id from events where aggregate_id = :d and type = 'deal.submitted'"),
                {"d": str(committed)},
            )
            rolled = await conn.scalar(
                text("select count(*) from events where aggregate_id = :d and type = :t"),
                {"d": str(rolled_back), "t": "deal.submitted"},
            )
        assert rolled == 0
        assert note == Notification(
            id=event_id,
            tenant_id=m.world.a.id,
            type="deal.submitted",
            aggregate_type="Deal",
            aggregate_id=str(committed),
        )
        assert subscription.dropped == 0
    finally:
        await listener.close()


async def test_every_subscriber_hears_each_commit_and_a_slow_one_only_loses_its_own(
    app_state, settings
) -> None:
    m = await market(app_state)
    listener = EventListener(_libpq(settings), queue_size=1)
    await listener.start()
    try:
        fast, slow = listener.subscribe(), listener.subscribe()
        deals = [(await apply(app_state, m.young.actor(), **consumer_deal(m))).deal.id]
        deals.append((await apply(app_state, m.young.actor(), **consumer_deal(m))).deal.id)
        heard = []
        for deal in deals:
            assert await submit_with(app_state, m.young.actor(), deal, RecordingQueue()) == []
            heard.append((await _next(fast)).aggregate_id)
        assert heard == [str(d) for d in deals]
        # The slow one read nothing meanwhile: it keeps the latest and counts what it lost
        # (each creation and submission is an event: four, of which it keeps one).
        assert (await _next(slow)).aggregate_id == str(deals[1])
        assert slow.dropped == 3
    finally:
        await listener.close()


async def test_the_relay_hands_each_event_on_once_in_order(app_state, owner_engine) -> None:
    m = await market(app_state)
    queue = RecordingQueue()
    deal = (await apply(app_state, m.young.actor(), **consumer_deal(m))).deal.id
    assert await submit_with(app_state, m.young.actor(), deal, queue) == []
    # The committed submission rang the relay once (and its two calls).
    assert queue.sent.count(RELAY_JOB) == 1

    async with owner_engine.connect() as conn:
        expected = [
            r[0]
            for r in await conn.execute(
                text("select id from events where published_at is null order by id")
            )
        ]
    assert len(expected) >= 2
    seen: list[int] = []

    async def handler(session, event) -> None:  # type: ignore[no-untyped-def]
        seen.append(event.id)

    async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, queue) as s:
        assert await relay.relay(s, [handler]) == expected
    assert seen == expected
    async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, queue) as s:
        assert await relay.relay(s, [handler]) == []
    assert seen == expected
    async with owner_engine.connect() as conn:
        assert (
            await conn.scalar(text("select count(*) from events where published_at is null")) == 0
        )


async def test_two_relays_at_once_share_the_events(app_state, owner_engine) -> None:
    m = await market(app_state)
    deal = (await apply(app_state, m.young.actor(), **consumer_deal(m))).deal.id
    assert await submit_with(app_state, m.young.actor(), deal, RecordingQueue()) == []
    entered, release = asyncio.Event(), asyncio.Event()
    first: list[int] = []
    second: list[int] = []

    async def slow(session, event) -> None:  # type: ignore[no-untyped-def]
        first.append(event.id)
        entered.set()
        await release.wait()

    async def quick(session, event) -> None:  # type: ignore[no-untyped-def]
        second.append(event.id)

    async def run_first() -> list[int]:
        async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, RecordingQueue()) as s:
            return await relay.relay(s, [slow], limit=1)

    task = asyncio.ensure_future(run_first())
    await entered.wait()
    # The first relay holds the oldest event: the second takes the rest, without waiting.
    async with unit_of_work(app_state.sessions, PLATFORM_SCOPE, RecordingQueue()) as s:
        await relay.relay(s, [quick])
    release.set()
    await task
    assert first and second and not set(first) & set(second)
    async with owner_engine.connect() as conn:
        assert (
            await conn.scalar(text("select count(*) from events where published_at is null")) == 0
        )
