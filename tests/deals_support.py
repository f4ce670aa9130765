"""Helpers for deal tests: both banks publish a product of each line around seed_world's supply
chain, a young borrower (the world's Li Wei, born 1949, is too old for consumer credit), partner
apps that may apply, and deals made through the real use cases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from stdnum.cn import ric

from api.errors import run_use_case
from api.state import AppState
from domain.collateral import service as collateral_service
from domain.deals import service
from domain.deals.models import ConsentMethod
from domain.deals.service import ConsentInput, DealOutcome
from domain.kernel.actor import Actor
from domain.kernel.money import Money
from domain.kernel.scopes import PARTNER_APP_SCOPES, Role, scopes_for_roles
from domain.parties import service as party_service
from domain.parties.models import OrganizationKind
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from domain.products import service as product_service
from domain.products.models import ProductLine
from lendgraph.demo import SEEDER
from tenants import service as tenant_service
from tenants.models import ClientKind
from tests.collateral_support import (
    Chain,
    issue_receipt,
    session_of,
    social_credit_code,
    submit_order,
    supply_chain,
)
from tests.products_support import cny, consumer_terms, order_terms, warehouse_terms
from tests.support import PASSWORD, World, relate, seed_world

CONSENT = ConsentInput(text_version="credit-consent-v3", method=ConsentMethod.ONLINE_CHECKBOX)
PARTNER_SCOPES = sorted(s.value for s in PARTNER_APP_SCOPES)


def resident_id(birth: str, n: int = 1) -> str:
    """A valid resident ID of someone born on ``birth`` (YYYYMMDD)."""
    base = f"110105{birth}{n:03d}"
    return base + str(ric.calc_check_digit(base + "0"))


@dataclass(frozen=True)
class App:
    """A partner app: its organization and credentials."""

    organization_id: uuid.UUID
    credentials: tuple[str, str]

    def actor(self) -> Actor:
        return Actor(
            user_id=None,
            client_id=self.credentials[0],
            tenant_id=None,
            scopes=frozenset(PARTNER_SCOPES),
            organization_id=self.organization_id,
        )


@dataclass(frozen=True)
class Borrower:
    """A person with a BORROWER user."""

    person_id: uuid.UUID
    user_id: uuid.UUID
    email: str

    def actor(self) -> Actor:
        return Actor(
            user_id=self.user_id,
            client_id="test-console",
            tenant_id=None,
            scopes=frozenset(s.value for s in scopes_for_roles({Role.BORROWER})),
            roles=frozenset({Role.BORROWER}),
            person_id=self.person_id,
        )


@dataclass(frozen=True)
class Market:
    """seed_world, its supply chain, a product of each line from each bank, a young borrower,
    two partner apps (of two partner organizations), a confirmed order and an issued receipt."""

    world: World
    chain: Chain
    products: dict[tuple[str, ProductLine], uuid.UUID]
    young: Borrower
    partner: App
    other_partner: App
    order: uuid.UUID
    receipt: uuid.UUID

    def product(self, bank: str, line: ProductLine) -> uuid.UUID:
        return self.products[(bank, line)]


# Products: amounts up to 2,000,000.00 so the order's and the receipt's limits bind first.
def line_terms(line: ProductLine, world: World, chain: Chain) -> Any:
    wide = {"max_amount": cny("2000000.00")}
    if line is ProductLine.CONSUMER_CREDIT:
        return consumer_terms()
    if line is ProductLine.ORDER_FINANCING:
        return order_terms([world.core_enterprise_id], **wide)
    return warehouse_terms([chain.warehouse_id], **wide)


async def publish(
    state: AppState, tenant_id: uuid.UUID, line: ProductLine, terms: Any
) -> uuid.UUID:
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        found = await product_service.create_product(
            s,
            SEEDER,
            product_line=line,
            name=f"{line.value} offer",
            terms=terms,
            tenant_id=tenant_id,
        )
        await product_service.publish_product(s, SEEDER, product_id=found.product.id)
        await s.commit()
    return found.product.id


async def confirm_order(state: AppState, chain: Chain, order: uuid.UUID) -> None:
    actor = chain.core_user.actor()
    async with session_of(state, actor) as s:
        await collateral_service.confirm_purchase_order(s, actor, purchase_order_id=order)
        await s.commit()


async def market(state: AppState) -> Market:
    world = await seed_world(state)
    chain = await supply_chain(state, world)
    products = {}
    for bank, tenant in (("a", world.a.id), ("b", world.b.id)):
        for line in ProductLine:
            products[(bank, line)] = await publish(
                state, tenant, line, line_terms(line, world, chain)
            )
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        person = await party_service.create_person(
            s,
            SEEDER,
            state.cipher,
            full_name="Wang Fang",
            resident_id=resident_id("19900307"),
            phone="13900139000",
        )
        user = await tenant_service.create_user(
            s,
            SEEDER,
            email="wang.fang@borrower.test",
            display_name="Wang Fang",
            roles=["BORROWER"],
            tenant_id=None,
            password=PASSWORD,
            person_id=person.id,
        )
        apps = []
        for n, name in enumerate(("Loan Mall", "Other Mall")):
            org = (
                await party_service.create_organization(
                    s,
                    SEEDER,
                    kind=OrganizationKind.PARTNER,
                    name=name,
                    social_credit_code=social_credit_code(50 + n),
                )
                if n
                else None
            )
            org_id = org.id if org is not None else await _world_partner_org(s, world)
            creds = (f"deal-partner-{n}", f"deal-partner-{n}-secret")
            await tenant_service.create_client(
                s,
                SEEDER,
                name=name,
                kind=ClientKind.PARTNER_APP,
                scopes=PARTNER_SCOPES,
                organization_id=org_id,
                credentials=creds,
            )
            apps.append(App(org_id, creds))
        await s.commit()
    # Both partner apps act for the young borrower; the first also for the trading company
    # and the cargo owner. Both funders' own apps act for all three.
    for n, app in enumerate(apps):
        await relate(state, agent_organization_id=app.organization_id, person_id=person.id)
        if n == 0:
            for org_id in (world.borrower_org_id, chain.cargo_owner_id):
                await relate(
                    state, agent_organization_id=app.organization_id, organization_id=org_id
                )
    for tenant in (world.a.id, world.b.id):
        await relate(state, agent_tenant_id=tenant, person_id=person.id)
        for org_id in (world.borrower_org_id, chain.cargo_owner_id):
            await relate(state, agent_tenant_id=tenant, organization_id=org_id)
    order = await submit_order(state, world, chain)
    await confirm_order(state, chain, order)
    return Market(
        world=world,
        chain=chain,
        products=products,
        young=Borrower(person.id, user.user.id, "wang.fang@borrower.test"),
        partner=apps[0],
        other_partner=apps[1],
        order=order,
        receipt=await issue_receipt(state, chain),
    )


async def _world_partner_org(s: AsyncSession, world: World) -> uuid.UUID:
    row = (
        await s.execute(
            text("select organization_id from oauth_clients where id = :id"),
            {"id": world.partner_client_pk},
        )
    ).scalar_one()
    return uuid.UUID(str(row))


# -- deals through the use cases ------------------------------------------------------------------


async def apply(state: AppState, actor: Actor, **kw: Any) -> DealOutcome:
    """createDeal as the API runs it (a savepoint), committed; raises the refusal if any."""
    async with session_of(state, actor) as s:
        outcome, errors = await run_use_case(s, actor, lambda s, a: service.create_deal(s, a, **kw))
        await s.commit()
    assert outcome is not None, errors
    return outcome


async def submit(
    state: AppState, actor: Actor, deal_id: uuid.UUID
) -> tuple[DealOutcome | None, list[Any]]:
    """submitDeal as the API runs it: a savepoint, then commit whatever the answer."""
    async with session_of(state, actor) as s:
        outcome, errors = await run_use_case(
            s, actor, lambda s, a: service.submit_deal(s, a, state.cipher, deal_id=deal_id)
        )
        await s.commit()
    return outcome, errors


async def withdraw(state: AppState, actor: Actor, deal_id: uuid.UUID) -> tuple[Any, list[Any]]:
    async with session_of(state, actor) as s:
        outcome, errors = await run_use_case(
            s,
            actor,
            lambda s, a: service.withdraw_deal(s, a, deal_id=deal_id, reason="changed mind"),
        )
        await s.commit()
    return outcome, errors


def order_deal(m: Market, bank: str = "a", **overrides: Any) -> dict[str, Any]:
    """createDeal arguments for order financing of the confirmed order (limit 1,000,000.00)."""
    kw: dict[str, Any] = {
        "product_id": m.product(bank, ProductLine.ORDER_FINANCING),
        "amount": Money.parse("800000.00", "CNY"),
        "term": 3,
        "purpose": "Working capital for the Huaxin order",
        "consent": CONSENT,
        "purchase_order_id": m.order,
    }
    kw.update(overrides)
    return kw


def pledge_deal(m: Market, bank: str = "a", **overrides: Any) -> dict[str, Any]:
    """createDeal arguments for a pledge of the issued receipt (limit 1,092,420.00)."""
    kw: dict[str, Any] = {
        "product_id": m.product(bank, ProductLine.WAREHOUSE_RECEIPT_PLEDGE),
        "amount": Money.parse("1000000.00", "CNY"),
        "term": 90,
        "purpose": "Copper inventory finance",
        "consent": CONSENT,
        "warehouse_receipt_ids": [m.receipt],
    }
    kw.update(overrides)
    return kw


def consumer_deal(m: Market, bank: str = "a", **overrides: Any) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "product_id": m.product(bank, ProductLine.CONSUMER_CREDIT),
        "amount": Money.parse("50000.00", "CNY"),
        "term": 12,
        "purpose": "Home renovation",
        "consent": CONSENT,
    }
    kw.update(overrides)
    return kw


_STUB_VERSION = (
    "insert into product_versions (tenant_id, id, product_id, version, currency,"
    " min_amount_minor, max_amount_minor, term_unit, allowed_terms, annual_rate,"
    " repayment_method, day_count, origination_fee_kind, late_penalty_daily_rate,"
    " late_penalty_basis, late_penalty_grace_days, prepayment_penalty_rate,"
    " prepayment_free_allowance, min_borrower_age, max_borrower_age, min_credit_score)"
    " values (:t, :v, :p, 1, 'CNY', 100000, 5000000, 'MONTH', '{6,12}', 0.12,"
    " 'EQUAL_INSTALLMENT', 'ACT_365', 'NONE', 0.0005, 'OVERDUE_PRINCIPAL', 3, 0, 0, 22, 55, 600)"
)


async def stub_deal(
    owner: AsyncEngine, tenant_id: uuid.UUID, receipt_id: uuid.UUID | None = None
) -> uuid.UUID:
    """A DRAFT deal of ``tenant_id``, written below row-level security with a stub product, for
    tests of what refers to deals (collateral claims, row-level security): a consumer loan,
    or, given a receipt, a pledge of it by its owner (a claim holds what its deal names)."""
    async with owner.begin() as conn:
        product = (
            await conn.execute(
                text("select id from products where tenant_id = :t and name = 'stub'"),
                {"t": tenant_id},
            )
        ).scalar_one_or_none()
        if product is None:
            product = uuid.uuid4()
            await conn.execute(
                text(
                    "insert into products (tenant_id, id, product_line, name, status,"
                    " current_version) values (:t, :p, 'CONSUMER_CREDIT', 'stub', 'DRAFT', 1)"
                ),
                {"t": tenant_id, "p": product},
            )
            await conn.execute(
                text(_STUB_VERSION), {"t": tenant_id, "v": uuid.uuid4(), "p": product}
            )
        deal = uuid.uuid4()
        if receipt_id is not None:
            owner_org = (
                await conn.execute(
                    text("select owner_organization_id from warehouse_receipts where id = :r"),
                    {"r": receipt_id},
                )
            ).scalar_one()
            await conn.execute(
                text(
                    "insert into deals (tenant_id, id, product_id, product_version, product_line,"
                    " status, channel, channel_client_id, applicant_organization_id, currency,"
                    " amount_minor, term, term_unit, purpose, warehouse_receipt_ids) values"
                    " (:t, :d, :p, 1, 'WAREHOUSE_RECEIPT_PLEDGE', 'DRAFT', 'DIRECT',"
                    " 'stub-client', :o, 'CNY', 100000, 90, 'DAY', 'stub', array[cast(:r as uuid)])"
                ),
                {"t": tenant_id, "d": deal, "p": product, "o": owner_org, "r": receipt_id},
            )
            return deal
        person = (
            await conn.execute(text("select id from persons order by created_at limit 1"))
        ).scalar_one()
        await conn.execute(
            text(
                "insert into deals (tenant_id, id, product_id, product_version, product_line,"
                " status, channel, channel_client_id, applicant_person_id, currency,"
                " amount_minor, term, term_unit, purpose) values (:t, :d, :p, 1,"
                " 'CONSUMER_CREDIT', 'DRAFT', 'DIRECT', 'stub-client', :person, 'CNY', 100000,"
                " 6, 'MONTH', 'stub')"
            ),
            {"t": tenant_id, "d": deal, "p": product, "person": person},
        )
    return deal


async def let_go(owner: AsyncEngine, deal_id: uuid.UUID) -> None:
    """The stub draft stops naming its collateral (as an edit would), so that its claims may
    be released: the database releases a claim only together with its deal letting go."""
    async with owner.begin() as conn:
        await conn.execute(
            text(
                "update deals set warehouse_receipt_ids = '{}', purchase_order_id = null"
                " where id = :d"
            ),
            {"d": deal_id},
        )


COUNTED = (
    "deals",
    "deal_events",
    "receipt_claims",
    "purchase_order_claims",
    "idempotency_keys",
    "integration_calls",
    "audit_log",
    "events",
)


async def counts(owner: AsyncEngine) -> dict[str, int]:
    """Row counts of every table a deal use case writes, read below row-level security."""
    async with owner.connect() as conn:
        return {
            t: int((await conn.execute(text(f"select count(*) from {t}"))).scalar_one())
            for t in COUNTED
        }


async def status_of(owner: AsyncEngine, deal_id: uuid.UUID) -> str:
    async with owner.connect() as conn:
        return str(
            (
                await conn.execute(text("select status from deals where id = :i"), {"i": deal_id})
            ).scalar_one()
        )


async def live_claims(owner: AsyncEngine) -> list[tuple[str, uuid.UUID]]:
    """Every live claim: (kind, deal_id)."""
    async with owner.connect() as conn:
        rows = await conn.execute(
            text(
                "select 'receipt', deal_id from receipt_claims where released_at is null"
                " union all select 'order', deal_id from purchase_order_claims"
                " where released_at is null"
            )
        )
        return [(r[0], r[1]) for r in rows]


__all__ = [
    "CONSENT",
    "App",
    "Borrower",
    "Market",
    "apply",
    "confirm_order",
    "consumer_deal",
    "counts",
    "let_go",
    "live_claims",
    "market",
    "order_deal",
    "pledge_deal",
    "publish",
    "resident_id",
    "status_of",
    "stub_deal",
    "submit",
    "withdraw",
]
