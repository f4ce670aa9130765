"""Demo marketplace for ``lendgraph dev`` and ``lendgraph seed-demo``: an operator, two funders
with staff and a published product of each line, supply-chain parties, borrowers, a partner
app (marketplace and deals scopes) and a first-party console client; purchase orders
(confirmed and pending) and warehouse receipts; and deals of every line in several states
(DRAFT, SUBMITTED, WITHDRAWN) for both funders, made through the real use cases by the
borrowers and the partner app.
Running it again changes nothing. The credentials below are for local demos only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.collateral import repository as collateral_repository
from domain.collateral import service as collateral_service
from domain.deals import repository as deal_repository
from domain.deals import service as deal_service
from domain.deals.models import ConsentMethod
from domain.kernel.actor import Actor
from domain.kernel.clock import utcnow
from domain.kernel.crypto import PersonalDataCipher
from domain.kernel.daycount import DayCountConvention
from domain.kernel.money import Money
from domain.kernel.scopes import PARTNER_APP_SCOPES, Role, Scope, scopes_for_roles
from domain.loans.policy import RepaymentMethod
from domain.parties import repository as parties
from domain.parties import service as party_service
from domain.parties.models import OrganizationKind
from domain.products import repository as product_repository
from domain.products import service as product_service
from domain.products.models import FeeKind, PenaltyBasis, ProductLine, TermUnit
from domain.products.policy import (
    ConsumerEligibility,
    LatePenalty,
    OrderFinancingTerms,
    OriginationFee,
    PrepaymentPenalty,
    ProductTerms,
    WarehousePledgeTerms,
)
from tenants import repository as tenancy
from tenants import service as tenant_service
from tenants.models import ClientKind, TenantKind

SEEDER = Actor(
    user_id=None,
    client_id="lendgraph-seed",
    tenant_id=None,
    scopes=frozenset(s.value for s in Scope),
)

DEMO_PASSWORD = "demo-password-123"  # noqa: S105 - documented demo credential
PARTNER_CLIENT = ("demo-partner-app", "demo-partner-secret")
CONSOLE_CLIENT = ("demo-console", "demo-console-secret")


@dataclass(frozen=True)
class DemoFunder:
    slug: str
    name: str
    kind: TenantKind


FUNDERS = (
    DemoFunder("east-river-bank", "East River Bank", TenantKind.BANK),
    DemoFunder("jade-capital", "Jade Capital Lending", TenantKind.PRIVATE_LENDER),
)

ORGANIZATIONS = (
    (OrganizationKind.CORE_ENTERPRISE, "Huaxin Heavy Industries Co., Ltd.", "91110000600037341L"),
    (OrganizationKind.WAREHOUSE, "Bonded Logistics Warehousing Co., Ltd.", "91310115MA1H8E5A44"),
    (OrganizationKind.PARTNER, "QuickLoan Marketplace Ltd.", "91440300MA5G0W9T8T"),
    (OrganizationKind.TRADE_ENTERPRISE, "Minghai Trading Co., Ltd.", "91330200MA2H1Y5X3X"),
    (OrganizationKind.CARGO_OWNER, "Golden Grain Commodities Co., Ltd.", "91370200MA3C2K6U1D"),
)


async def seed(session: AsyncSession, cipher: PersonalDataCipher) -> bool:
    """Create the demo data unless it exists; True when something was created. Each part is
    created only when missing, so a database seeded before products existed gets them."""
    created = await _seed_parties_and_access(session, cipher)
    created = await _seed_products(session) or created
    created = await _seed_borrowers(session, cipher) or created
    created = await _seed_supply_chain(session) or created
    created = await _seed_deals(session, cipher) or created
    await session.flush()
    return created


async def _seed_parties_and_access(session: AsyncSession, cipher: PersonalDataCipher) -> bool:
    if await tenancy.tenant_by_slug(session, FUNDERS[0].slug) is not None:
        return False
    tenants = {}
    for funder in FUNDERS:
        tenants[funder.slug] = await tenant_service.create_tenant(
            session,
            SEEDER,
            name=funder.name,
            slug=funder.slug,
            kind=funder.kind,
            time_zone="Asia/Shanghai",
            currency="CNY",
        )
    orgs = {}
    for kind, name, code in ORGANIZATIONS:
        orgs[kind] = await party_service.create_organization(
            session, SEEDER, kind=kind, name=name, social_credit_code=code
        )
    person = await party_service.create_person(
        session,
        SEEDER,
        cipher,
        full_name="Li Wei",
        resident_id="11010519491231002X",
        phone="13800138000",
    )
    await tenant_service.create_user(
        session,
        SEEDER,
        email="admin@lendgraph.dev",
        display_name="Platform Admin",
        roles=["PLATFORM_ADMIN"],
        tenant_id=None,
        password=DEMO_PASSWORD,
    )
    for funder in FUNDERS:
        tenant = tenants[funder.slug]
        for role, who in (
            ("FUNDER_ADMIN", "admin"),
            ("FIRST_REVIEWER", "reviewer1"),
            ("SECOND_REVIEWER", "reviewer2"),
            ("FINANCE_OFFICER", "finance"),
        ):
            await tenant_service.create_user(
                session,
                SEEDER,
                email=f"{who}@{funder.slug}.dev",
                display_name=f"{funder.name} {who}",
                roles=[role],
                tenant_id=tenant.id,
                password=DEMO_PASSWORD,
            )
    await tenant_service.create_user(
        session,
        SEEDER,
        email="li.wei@example.com",
        display_name="Li Wei",
        roles=["BORROWER"],
        tenant_id=None,
        password=DEMO_PASSWORD,
        person_id=person.id,
    )
    await tenant_service.create_user(
        session,
        SEEDER,
        email="ops@huaxin.dev",
        display_name="Huaxin confirmations",
        roles=["CORE_ENTERPRISE_USER"],
        tenant_id=None,
        password=DEMO_PASSWORD,
        organization_id=orgs[OrganizationKind.CORE_ENTERPRISE].id,
    )
    await tenant_service.create_user(
        session,
        SEEDER,
        email="desk@bonded-warehouse.dev",
        display_name="Warehouse desk",
        roles=["WAREHOUSE_USER"],
        tenant_id=None,
        password=DEMO_PASSWORD,
        organization_id=orgs[OrganizationKind.WAREHOUSE].id,
    )
    await tenant_service.create_client(
        session,
        SEEDER,
        name="QuickLoan partner app",
        kind=ClientKind.PARTNER_APP,
        scopes=sorted(s.value for s in PARTNER_APP_SCOPES),
        organization_id=orgs[OrganizationKind.PARTNER].id,
        credentials=PARTNER_CLIENT,
    )
    await tenant_service.create_client(
        session,
        SEEDER,
        name="lendgraph console",
        kind=ClientKind.FIRST_PARTY,
        scopes=sorted(s.value for s in Scope),
        credentials=CONSOLE_CLIENT,
    )
    await session.flush()
    return True


def _demo_products(
    core: uuid.UUID, warehouse: uuid.UUID
) -> list[tuple[str, ProductLine, ProductTerms]]:
    """One product of each line: a consumer instalment loan, order financing for Huaxin's
    suppliers and a grain-receipt pledge at the bonded warehouse."""
    cny = partial(Money.parse, currency="CNY")
    late = LatePenalty(
        daily_rate=Decimal("0.0005"), basis=PenaltyBasis.OVERDUE_INSTALLMENT, grace_days=3
    )
    return [
        (
            "Salary Advance 12",
            ProductLine.CONSUMER_CREDIT,
            ProductTerms(
                currency="CNY",
                min_amount=cny("1000.00"),
                max_amount=cny("200000.00"),
                term_unit=TermUnit.MONTH,
                allowed_terms=(3, 6, 12, 24),
                annual_rate=Decimal("0.12"),
                repayment_method=RepaymentMethod.EQUAL_INSTALLMENT,
                day_count=DayCountConvention.ACT_365,
                late_penalty=late,
                prepayment_penalty=PrepaymentPenalty(
                    rate=Decimal("0.01"), free_allowance=Decimal("0.10")
                ),
                origination_fee=OriginationFee(kind=FeeKind.PERCENT, rate=Decimal("0.005")),
                consumer_eligibility=ConsumerEligibility(
                    min_age=22, max_age=55, min_credit_score=600
                ),
            ),
        ),
        (
            "Supplier Order Finance",
            ProductLine.ORDER_FINANCING,
            ProductTerms(
                currency="CNY",
                min_amount=cny("100000.00"),
                max_amount=cny("10000000.00"),
                term_unit=TermUnit.MONTH,
                allowed_terms=(3, 6, 12),
                annual_rate=Decimal("0.065"),
                repayment_method=RepaymentMethod.INTEREST_ONLY,
                day_count=DayCountConvention.ACT_360,
                late_penalty=late,
                prepayment_penalty=PrepaymentPenalty(rate=Decimal(0), free_allowance=Decimal(1)),
                origination_fee=OriginationFee(kind=FeeKind.FLAT, flat=cny("2000.00")),
                order_financing=OrderFinancingTerms(
                    max_advance_rate=Decimal("0.80"), eligible_core_enterprise_ids=(core,)
                ),
            ),
        ),
        (
            "Grain Receipt Pledge 90/180",
            ProductLine.WAREHOUSE_RECEIPT_PLEDGE,
            ProductTerms(
                currency="CNY",
                min_amount=cny("500000.00"),
                max_amount=cny("20000000.00"),
                term_unit=TermUnit.DAY,
                allowed_terms=(90, 180),
                annual_rate=Decimal("0.072"),
                repayment_method=RepaymentMethod.BULLET,
                day_count=DayCountConvention.ACT_365,
                late_penalty=late,
                prepayment_penalty=PrepaymentPenalty(rate=Decimal(0), free_allowance=Decimal(1)),
                warehouse_pledge=WarehousePledgeTerms(
                    max_ltv=Decimal("0.70"),
                    haircut=Decimal("0.10"),
                    accepted_warehouse_ids=(warehouse,),
                ),
            ),
        ),
    ]


async def _seed_products(session: AsyncSession) -> bool:
    """Publish one product of each line for every demo funder that has no products yet."""
    core = await parties.organization_by_code(session, ORGANIZATIONS[0][2])
    warehouse = await parties.organization_by_code(session, ORGANIZATIONS[1][2])
    if core is None or warehouse is None:
        return False
    created = False
    for funder in FUNDERS:
        tenant = await tenancy.tenant_by_slug(session, funder.slug)
        if tenant is None or await product_repository.count_of_tenant(session, tenant.id) > 0:
            continue
        for name, line, terms in _demo_products(core.id, warehouse.id):
            draft = await product_service.create_product(
                session,
                SEEDER,
                product_line=line,
                name=f"{name} ({funder.name})",
                terms=terms,
                tenant_id=tenant.id,
            )
            await product_service.publish_product(session, SEEDER, product_id=draft.product.id)
        created = True
    return created


# -- borrowers, supply chain and deals ------------------------------------------------------------

#: The demo's borrowers: e-mail, display name, role, and the social credit code of the
#: organization the user acts for (None: the young borrower, a person).
YOUNG_BORROWER = ("Zhang Min", "110105199208150029", "13700137000")
BORROWER_USERS = (
    ("sales@minghai.dev", "Minghai sales desk", Role.BORROWER, ORGANIZATIONS[3][2]),
    ("treasury@golden-grain.dev", "Golden Grain treasury", Role.BORROWER, ORGANIZATIONS[4][2]),
    ("zhang.min@example.com", "Zhang Min", Role.BORROWER, None),
)
#: Purchase orders Huaxin owes Minghai: number, amount, days to due date, confirmed.
ORDERS = (
    ("HX-PO-0815", "2400000.00", 120, True),
    ("HX-PO-0902", "1800000.00", 150, True),
    ("HX-PO-0930", "950000.00", 90, False),
)
#: Receipts the bonded warehouse issues to Golden Grain: number, goods, quantity, unit price.
RECEIPTS = (
    ("BLW-WR-0101", "Soybeans, grade 2", "1200", "4300.00"),
    ("BLW-WR-0102", "Yellow corn", "2000", "2650.00"),
    ("BLW-WR-0103", "Wheat, grade 1", "800", "2900.00"),
)


def _user_actor(user: Any, role: Role) -> Actor:
    return Actor(
        user_id=user.id,
        client_id=CONSOLE_CLIENT[0],
        tenant_id=None,
        scopes=frozenset(s.value for s in scopes_for_roles({role})),
        roles=frozenset({role}),
        organization_id=user.organization_id,
        person_id=user.person_id,
    )


async def _seed_borrowers(session: AsyncSession, cipher: PersonalDataCipher) -> bool:
    """A young consumer borrower (Li Wei, born 1949, is past the consumer products' age
    limit) and the users of the trading company and the cargo owner."""
    created = False
    if await tenancy.user_by_email(session, BORROWER_USERS[0][0]) is not None:
        return False
    if await tenancy.tenant_by_slug(session, FUNDERS[0].slug) is None:
        return False
    name, resident_id, phone = YOUNG_BORROWER
    person = await party_service.create_person(
        session, SEEDER, cipher, full_name=name, resident_id=resident_id, phone=phone
    )
    for email, display, role, owner in BORROWER_USERS:
        org = await parties.organization_by_code(session, owner) if owner else None
        await tenant_service.create_user(
            session,
            SEEDER,
            email=email,
            display_name=display,
            roles=[role.value],
            tenant_id=None,
            password=DEMO_PASSWORD,
            organization_id=org.id if org is not None else None,
            person_id=None if org is not None else person.id,
        )
        created = True
    # The young borrower signed up through the partner's app, which acts for her.
    partner_org = await parties.organization_by_code(session, ORGANIZATIONS[2][2])
    if partner_org is not None:
        await party_service.authorize_agent(
            session,
            SEEDER,
            agent=party_service.Agent(organization_id=partner_org.id),
            party=party_service.Party(person_id=person.id),
        )
    await session.flush()
    return created


async def _seed_supply_chain(session: AsyncSession) -> bool:
    """Huaxin's orders to Minghai (two confirmed, one pending) and the bonded warehouse's
    receipts for Golden Grain, submitted, decided and issued by the parties' own users."""
    core = await parties.organization_by_code(session, ORGANIZATIONS[0][2])
    cargo = await parties.organization_by_code(session, ORGANIZATIONS[4][2])
    seller_user = await tenancy.user_by_email(session, BORROWER_USERS[0][0])
    core_user = await tenancy.user_by_email(session, "ops@huaxin.dev")
    warehouse_user = await tenancy.user_by_email(session, "desk@bonded-warehouse.dev")
    if None in (core, cargo, seller_user, core_user, warehouse_user):
        return False
    assert core is not None and cargo is not None and warehouse_user is not None
    if await collateral_repository.purchase_orders_page(session, organization_id=core.id, limit=1):
        return False
    seller = _user_actor(seller_user, Role.BORROWER)
    buyer = _user_actor(core_user, Role.CORE_ENTERPRISE_USER)
    warehouse = _user_actor(warehouse_user, Role.WAREHOUSE_USER)
    today = utcnow().date()
    for number, amount, days, confirmed in ORDERS:
        order = await collateral_service.create_purchase_order(
            session,
            seller,
            buyer_organization_id=core.id,
            number=number,
            amount=Money.parse(amount, "CNY"),
            issue_date=today - timedelta(days=30),
            due_date=today + timedelta(days=days),
        )
        if confirmed:
            await collateral_service.confirm_purchase_order(
                session, buyer, purchase_order_id=order.id, note="goods received in full"
            )
    # Golden Grain keeps its goods at the bonded warehouse, which may then issue it receipts.
    await party_service.authorize_agent(
        session,
        SEEDER,
        agent=party_service.Agent(organization_id=warehouse_user.organization_id),
        party=party_service.Party(organization_id=cargo.id),
    )
    for number, goods, quantity, price in RECEIPTS:
        await collateral_service.issue_warehouse_receipt(
            session,
            warehouse,
            owner_organization_id=cargo.id,
            number=number,
            goods_description=goods,
            quantity=quantity,
            unit="t",
            location="Bonded zone, shed 3",
            unit_price=Money.parse(price, "CNY"),
        )
    await session.flush()
    return True


async def _seed_deals(session: AsyncSession, cipher: PersonalDataCipher) -> bool:
    """Deals of every line for both funders, through the use cases, as the borrowers and the
    partner app make them. East River Bank: SUBMITTED order financing, grain pledge and
    partner consumer loan; a borrower's DRAFT; a partner application WITHDRAWN before
    submission. Jade Capital: SUBMITTED order financing; a DRAFT on an order still pending
    confirmation; a pledge submitted then WITHDRAWN (its receipt freed); a partner application
    WITHDRAWN."""
    tenants = [await tenancy.tenant_by_slug(session, f.slug) for f in FUNDERS]
    if any(t is None for t in tenants):
        return False
    ids = [t.id for t in tenants if t is not None]
    if await deal_repository.funder_deals_page(session, tenant_id=ids[0], limit=1):
        return False
    users = [await tenancy.user_by_email(session, email) for email, *_ in BORROWER_USERS]
    partner_org = await parties.organization_by_code(session, ORGANIZATIONS[2][2])
    core = await parties.organization_by_code(session, ORGANIZATIONS[0][2])
    cargo = await parties.organization_by_code(session, ORGANIZATIONS[4][2])
    if None in (*users, partner_org, core, cargo):
        return False
    assert partner_org is not None and core is not None and cargo is not None
    seller, owner, young = (_user_actor(u, Role.BORROWER) for u in users)
    partner = Actor(
        user_id=None,
        client_id=PARTNER_CLIENT[0],
        tenant_id=None,
        scopes=frozenset(s.value for s in PARTNER_APP_SCOPES),
        organization_id=partner_org.id,
    )
    orders = {
        o.number: o.id
        for o in await collateral_repository.purchase_orders_page(
            session, organization_id=core.id, limit=10
        )
    }
    receipts = {
        r.number: r.id
        for r in await collateral_repository.receipts_page(
            session, organization_id=cargo.id, limit=10
        )
    }
    products = {
        (tid, p.product.product_line): p.product.id
        for tid in ids
        for p in await product_repository.tenant_products_page(session, tenant_id=tid, limit=10)
    }
    consent = deal_service.ConsentInput(
        text_version="credit-consent-2026-01", method=ConsentMethod.ONLINE_CHECKBOX
    )
    young_person = users[2].person_id if users[2] is not None else None
    east, jade = ids
    cny = partial(Money.parse, currency="CNY")

    async def apply(actor: Actor, tenant: uuid.UUID, line: ProductLine, **kw: Any) -> uuid.UUID:
        outcome = await deal_service.create_deal(
            session, actor, product_id=products[(tenant, line)], **kw
        )
        return outcome.deal.id

    async def submit(actor: Actor, deal_id: uuid.UUID) -> None:
        await deal_service.submit_deal(session, actor, cipher, deal_id=deal_id)

    # East River Bank.
    deal = await apply(
        seller,
        east,
        ProductLine.ORDER_FINANCING,
        amount=cny("1900000.00"),  # advance 80 % of 2,400,000.00 = 1,920,000.00
        term=6,
        purpose="Steel plate for the Huaxin order HX-PO-0815",
        consent=consent,
        purchase_order_id=orders["HX-PO-0815"],
    )
    await submit(seller, deal)
    deal = await apply(
        owner,
        east,
        ProductLine.WAREHOUSE_RECEIPT_PLEDGE,
        amount=cny("3000000.00"),  # 5,160,000.00 x 0.9 x 0.7 = 3,250,800.00
        term=180,
        purpose="Soybean inventory through the crush season",
        consent=consent,
        warehouse_receipt_ids=[receipts["BLW-WR-0101"]],
    )
    await submit(owner, deal)
    deal = await apply(
        partner,
        east,
        ProductLine.CONSUMER_CREDIT,
        applicant_person_id=young_person,
        amount=cny("30000.00"),
        term=12,
        purpose="Furniture for a new flat",
        consent=consent,
    )
    await submit(partner, deal)
    await apply(
        young,
        east,
        ProductLine.CONSUMER_CREDIT,
        amount=cny("8000.00"),
        term=6,
        purpose="Language course",
    )
    deal = await apply(
        partner,
        east,
        ProductLine.CONSUMER_CREDIT,
        applicant_person_id=young_person,
        amount=cny("5000.00"),
        term=3,
        purpose="New phone",
        consent=consent,
    )
    await deal_service.withdraw_deal(session, partner, deal_id=deal, reason="paid in cash")
    # Jade Capital Lending.
    deal = await apply(
        seller,
        jade,
        ProductLine.ORDER_FINANCING,
        amount=cny("1400000.00"),  # advance 80 % of 1,800,000.00 = 1,440,000.00
        term=3,
        purpose="Components for the Huaxin order HX-PO-0902",
        consent=consent,
        purchase_order_id=orders["HX-PO-0902"],
    )
    await submit(seller, deal)
    await apply(
        seller,
        jade,
        ProductLine.ORDER_FINANCING,
        amount=cny("700000.00"),
        term=3,
        purpose="Fittings for the Huaxin order HX-PO-0930 (awaiting confirmation)",
        consent=consent,
        purchase_order_id=orders["HX-PO-0930"],
    )
    deal = await apply(
        owner,
        jade,
        ProductLine.WAREHOUSE_RECEIPT_PLEDGE,
        amount=cny("2500000.00"),
        term=90,
        purpose="Corn inventory",
        consent=consent,
        warehouse_receipt_ids=[receipts["BLW-WR-0102"]],
    )
    await submit(owner, deal)
    await deal_service.withdraw_deal(
        session, owner, deal_id=deal, reason="financed from cash flow instead"
    )
    deal = await apply(
        partner,
        jade,
        ProductLine.CONSUMER_CREDIT,
        applicant_person_id=young_person,
        amount=cny("20000.00"),
        term=6,
        purpose="Wedding expenses",
        consent=consent,
    )
    await deal_service.withdraw_deal(session, partner, deal_id=deal, reason="duplicate")
    await session.flush()
    return True
