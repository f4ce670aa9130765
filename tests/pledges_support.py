"""Warehouse-receipt deals taken from SIGNED to pledges registered and custody-confirmed.

A pledge deal of bank A (the market's issued receipt, 25.5 t of copper at 68,000.00 CNY/t:
a declared value of 1,734,000.00) for 1,000,000.00 over 90 days is approved through the review
use cases and set SIGNING -> SIGNED by the owner in SQL (signing is exercised elsewhere); the
pledges are then requested as the SIGNED transition requests them
(:func:`request_pledges`), filed at the sandbox registry over HTTP (:func:`file_pledges`) and
confirmed by the warehouse's user (:func:`confirm_custody`). :func:`pledged_deal` does all of
it: the entry point for a test of the whole lifecycle.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.errors import run_use_case
from api.state import AppState
from domain.deals import repository as deals_repository
from domain.deals.models import DealStatus
from domain.kernel.actor import Actor
from domain.persistence.after_commit import NoJobQueue
from domain.persistence.scope import PLATFORM_SCOPE
from domain.persistence.unit_of_work import unit_of_work
from domain.pledges import repository as pledge_repository
from domain.pledges import service as pledges
from domain.pledges.models import Pledge
from domain.pledges.ports import PledgeRegistry
from domain.reviews import service as reviews
from domain.reviews.models import ReviewDecision
from integrations.pledge_registry.client import pledge_registry
from integrations.sandboxes import SandboxServer
from tests.collateral_support import session_of, tenant_session
from tests.deals_support import apply, pledge_deal, submit
from tests.disbursement_support import World, platform
from tests.integrations.conftest import sandbox_settings


def immediate(attempt: int) -> int:
    return 1


async def signed_pledge_deal(
    state: AppState, owner: AsyncEngine, w: World, **overrides: Any
) -> uuid.UUID:
    """The cargo owner's pledge deal of the market's receipt (``overrides`` to createDeal),
    approved as requested by bank A's reviewers, then SIGNED (without its pledges)."""
    m = w.market
    applicant = m.chain.owner_user.actor()
    deal_id = (await apply(state, applicant, **pledge_deal(m, **overrides))).deal.id
    outcome, errors = await submit(state, applicant, deal_id)
    assert outcome is not None, errors
    async with tenant_session(state, w.a) as s:
        deal = await deals_repository.deal(s, deal_id, for_update=True)
        assert deal is not None and deal.status is DealStatus.SUBMITTED
        deal.status = DealStatus.FIRST_REVIEW
        await s.flush()
        await reviews.open_first_review(s, deal)
        await s.commit()
    for actor, decide in (
        (w.staff.first, reviews.decide_first_review),
        (w.staff.second, reviews.decide_second_review),
    ):
        async with session_of(state, actor) as s:
            await decide(s, actor, deal_id=deal_id, decision=ReviewDecision.APPROVE, notes="Fine")
            await s.commit()
    async with owner.begin() as conn:
        await conn.execute(text("select set_config('app.platform', 'on', true)"))
        for status in ("SIGNING", "SIGNED"):
            await conn.execute(
                text("update deals set status = :s where id = :d"), {"s": status, "d": deal_id}
            )
    return deal_id


async def request_pledges(state: AppState, deal_id: uuid.UUID) -> list[uuid.UUID]:
    """What the SIGNED transition does for a pledge deal (in the e-signature callback's
    platform scope), committed: the IDs of the pledges requested."""
    async with platform(state) as s:
        deal = await deals_repository.deal(s, deal_id)
        assert deal is not None
        return await pledges.request_pledges(s, deal)


def platform_units(state: AppState) -> pledges.UnitOfWork:
    """Units of work as the filing worker opens them."""
    return lambda: unit_of_work(state.sessions, PLATFORM_SCOPE, NoJobQueue())


async def file_pledges(
    state: AppState, registry: PledgeRegistry, tenant_id: uuid.UUID, pledge_ids: list[uuid.UUID]
) -> list[pledges.FileResult]:
    """One delivery of the filing job for each pledge."""
    return [
        await pledges.register_pledge(
            platform_units(state),
            registry,
            tenant_id=tenant_id,
            pledge_id=p,
            backoff_ms=immediate,
        )
        for p in pledge_ids
    ]


async def confirm_custody(state: AppState, actor: Actor, receipt_id: uuid.UUID) -> Any:
    """confirmPledgeCustody as the API runs it: ``(pledge, errors)``, committed."""
    async with session_of(state, actor) as s:
        result = await run_use_case(
            s, actor, lambda s, a: pledges.confirm_custody(s, a, receipt_id=receipt_id)
        )
        await s.commit()
    return result


async def release(state: AppState, actor: Actor, deal_id: uuid.UUID, receipt_id: uuid.UUID) -> Any:
    """releasePledge as the API runs it: ``(pledge, errors)``, committed."""
    async with session_of(state, actor) as s:
        result = await run_use_case(
            s,
            actor,
            lambda s, a: pledges.release_pledge(s, a, deal_id=deal_id, receipt_id=receipt_id),
        )
        await s.commit()
    return result


async def pledges_of(state: AppState, tenant_id: uuid.UUID, deal_id: uuid.UUID) -> list[Pledge]:
    async with platform(state) as s:
        return await pledge_repository.of_deal(s, tenant_id=tenant_id, deal_id=deal_id)


@asynccontextmanager
async def sandbox_registry(**options: Any) -> AsyncIterator[tuple[SandboxServer, Any]]:
    """The sandbox registry served on loopback, and a client of it."""
    with SandboxServer(**{"latency": 0.0, **options}) as sandbox:
        client = pledge_registry(sandbox_settings(sandbox))
        try:
            yield sandbox, client
        finally:
            await client.aclose()


async def pledged_deal(
    state: AppState, owner: AsyncEngine, w: World, registry: PledgeRegistry
) -> uuid.UUID:
    """A pledge deal SIGNED, its pledge filed at ``registry`` and its custody confirmed by the
    warehouse: ready to disburse."""
    deal_id = await signed_pledge_deal(state, owner, w)
    requested = await request_pledges(state, deal_id)
    results = await file_pledges(state, registry, w.a, requested)
    assert [r.outcome for r in results] == ["REGISTERED"] * len(requested), results
    pledge, errors = await confirm_custody(
        state, w.market.chain.warehouse_user.actor(), w.market.receipt
    )
    assert pledge is not None, errors
    return deal_id


__all__ = [
    "confirm_custody",
    "file_pledges",
    "platform_units",
    "pledged_deal",
    "pledges_of",
    "release",
    "request_pledges",
    "sandbox_registry",
    "signed_pledge_deal",
]
