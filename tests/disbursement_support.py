"""Signed deals to disburse, and the payment rail's sandbox calling back a served app.

A deal is approved through the review use cases and then set SIGNING -> SIGNED by the owner
in SQL, the one step of its set-up taken outside the use cases: signing itself is exercised by
tests/integration/test_signing.py, and these tests are about what follows it.

The world: bank A's consumer product with a 2 % origination fee, withheld, lends 1,000.00 to
200,000.00 CNY at 12 %; the young borrower applies for 100,000.00 over 12 months, approved as
requested. Bank A's staff: a first reviewer, a second reviewer who is also a finance officer
(four eyes), two finance officers; bank B's finance officer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.app import build_state, create_app
from api.context import db_scope
from api.state import AppState
from domain.deals import repository as deals_repository
from domain.deals.models import DealStatus
from domain.kernel.actor import Actor
from domain.kernel.scopes import Role, scopes_for_roles
from domain.payouts import service as payouts
from domain.persistence.after_commit import JobQueue, NoJobQueue
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE, DbScope
from domain.persistence.unit_of_work import unit_of_work
from domain.products.models import FeeKind, ProductLine
from domain.products.policy import OriginationFee
from domain.reviews import service as reviews
from domain.reviews.models import ReviewDecision
from integrations.payments.client import payout_rail
from integrations.sandboxes import LoopbackServer, SandboxServer
from lendgraph.demo import SEEDER
from lendgraph.settings import Settings
from tenants import service as tenant_service
from tests.collateral_support import session_of, tenant_session
from tests.deals_support import CONSENT, Market, apply, market, publish, submit
from tests.integrations.conftest import sandbox_settings
from tests.products_support import consumer_terms
from tests.support import PASSWORD

PAYMENTS = "/webhooks/payments"
#: An account the sandbox accepts (8 to 32 digits) and a CNAPS bank code (12 digits).
ACCOUNT = "6222020200112233445"
BANK = "102100099996"


def beneficiary(outcome: str = "") -> payouts.BeneficiaryInput:
    """The young borrower's account; ``outcome`` is the sandbox's magic last word."""
    name = f"Wang Fang {outcome}".strip()
    return payouts.BeneficiaryInput(name=name, account_number=ACCOUNT, bank_code=BANK)


@dataclass(frozen=True)
class Staff:
    first: Actor
    #: The second reviewer, who is also a finance officer.
    second: Actor
    finance: Actor
    other_finance: Actor
    b_finance: Actor


@dataclass(frozen=True)
class World:
    market: Market
    staff: Staff
    #: Bank A's consumer product with the 2 % fee.
    product: uuid.UUID

    @property
    def a(self) -> uuid.UUID:
        return self.market.world.a.id


def _actor(user_id: uuid.UUID, tenant_id: uuid.UUID, *roles: Role) -> Actor:
    return Actor(
        user_id=user_id,
        client_id="test-console",
        tenant_id=tenant_id,
        scopes=frozenset(s.value for s in scopes_for_roles(set(roles))),
        roles=frozenset(roles),
    )


async def build_world(state: AppState) -> World:
    m = await market(state)
    wanted = {
        "first": (m.world.a.id, [Role.FIRST_REVIEWER]),
        "second": (m.world.a.id, [Role.SECOND_REVIEWER, Role.FINANCE_OFFICER]),
        "finance": (m.world.a.id, [Role.FINANCE_OFFICER]),
        "other_finance": (m.world.a.id, [Role.FINANCE_OFFICER]),
        "b_finance": (m.world.b.id, [Role.FINANCE_OFFICER]),
    }
    made: dict[str, Actor] = {}
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        for name, (tenant, roles) in wanted.items():
            created = await tenant_service.create_user(
                s,
                SEEDER,
                email=f"{name.replace('_', '-')}@disburse.test",
                display_name=name,
                roles=[r.value for r in roles],
                tenant_id=tenant,
                password=PASSWORD,
            )
            made[name] = _actor(created.user.id, tenant, *roles)
        await s.commit()
    fee = OriginationFee(kind=FeeKind.PERCENT, rate=Decimal("0.02"))
    product = await publish(
        state, m.world.a.id, ProductLine.CONSUMER_CREDIT, consumer_terms(origination_fee=fee)
    )
    return World(market=m, staff=Staff(**made), product=product)


async def signed_deal(state: AppState, owner: AsyncEngine, w: World) -> uuid.UUID:
    """A consumer deal of 100,000.00 over 12 months approved as requested, then SIGNED."""
    from domain.kernel.money import Money

    young = w.market.young.actor()
    deal_id = (
        await apply(
            state,
            young,
            product_id=w.product,
            amount=Money.parse("100000.00", "CNY"),
            term=12,
            purpose="Home renovation",
            consent=CONSENT,
        )
    ).deal.id
    outcome, errors = await submit(state, young, deal_id)
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
    # Set-up outside the use cases: no e-signature step exists yet to sign the contract.
    async with owner.begin() as conn:
        # The deals' guard lets only the funder or the platform move a deal along.
        await conn.execute(text("select set_config('app.platform', 'on', true)"))
        for status in ("SIGNING", "SIGNED"):
            await conn.execute(
                text("update deals set status = :s where id = :d"), {"s": status, "d": deal_id}
            )
    return deal_id


async def disburse(
    state: AppState,
    actor: Actor,
    deal_id: uuid.UUID,
    key: str,
    *,
    jobs: JobQueue | None = None,
    **kw: Any,
) -> payouts.DisburseOutcome:
    """The use case in the actor's own unit of work, committed, its jobs sent to ``jobs``."""
    kw.setdefault("beneficiary", beneficiary())
    async with unit_of_work(state.sessions, db_scope(actor), jobs or NoJobQueue()) as s:
        return await payouts.disburse(
            s, actor, state.cipher, deal_id=deal_id, idempotency_key=key, **kw
        )


def tenant_units(state: AppState, tenant_id: uuid.UUID) -> payouts.UnitOfWork:
    """Units of work in a funder's scope, as the worker opens them."""
    scope = DbScope(tenant_id=tenant_id)
    return lambda: unit_of_work(state.sessions, scope, NoJobQueue())


async def rows(owner: AsyncEngine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async with owner.connect() as conn:
        return [tuple(r) for r in (await conn.execute(text(sql), params)).all()]


async def ledger_lines(owner: AsyncEngine, tenant_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """Every journal line of the tenant: entry reference, cause, account kind, signed amount."""
    return await rows(
        owner,
        "select e.idempotency_reference, e.cause, a.code, l.amount_minor from journal_lines l"
        " join journal_entries e on e.tenant_id = l.tenant_id and e.id = l.entry_id"
        " join ledger_accounts a on a.tenant_id = l.tenant_id and a.id = l.account_id"
        " where l.tenant_id = :t order by e.posted_at, l.line_no",
        t=tenant_id,
    )


@dataclass
class Rail:
    """The sandbox rail and the app it calls back, served on loopback."""

    sandbox: SandboxServer
    callback_url: str

    @property
    def app_url(self) -> str:
        """The served app's base URL (the issuer a worker builds the callback URL from)."""
        return self.callback_url.removesuffix(PAYMENTS)

    def client(self) -> Any:
        return payout_rail(sandbox_settings(self.sandbox))

    async def wait(self, reference: uuid.UUID, within: float = 15.0) -> Any:
        """The sandbox's payout of ``reference``, once every callback of it was delivered."""
        (record,) = self.sandbox.payouts.payouts(str(reference))
        assert await asyncio.to_thread(self.sandbox.payouts.wait_done, record.payout_id, within)
        (record,) = self.sandbox.payouts.payouts(str(reference))
        return record


@contextmanager
def served_rail(settings: Settings, **options: Any) -> Iterator[Rail]:
    """The sandbox rail (``options`` its settings) and the app (its own engine: it runs on the
    server thread's loop), the app verifying the rail's callbacks with the rail's secret."""
    with SandboxServer(**{"latency": 0.0, **options}) as sandbox:
        app_settings = settings.model_copy(
            update={"payments_callback_secret": SecretStr(sandbox.payouts.callback_secret)}
        )
        state = build_state(app_settings)
        try:
            with LoopbackServer(create_app(app_settings, state=state)) as served:
                yield Rail(sandbox, served.base_url + PAYMENTS)
        finally:
            state.engine.sync_engine.dispose(close=False)


@asynccontextmanager
async def platform(state: AppState) -> AsyncIterator[AsyncSession]:
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        yield s
        await s.commit()


def immediate_backoff(attempt: int) -> int:
    return 1


__all__ = [
    "ACCOUNT",
    "BANK",
    "Rail",
    "Staff",
    "World",
    "beneficiary",
    "build_world",
    "disburse",
    "immediate_backoff",
    "ledger_lines",
    "platform",
    "rows",
    "served_rail",
    "signed_deal",
    "tenant_units",
]
