"""Demo marketplace for ``lendgraph dev`` and ``lendgraph seed-demo``: an operator, two funders
with staff and a published product of each line, supply-chain parties, borrowers, a partner
app (marketplace and deals scopes) and a first-party console client; purchase orders
(confirmed and pending) and warehouse receipts; and, at each funder, one deal of every line
in each of the DRAFT, SUBMITTED and WITHDRAWN states (:data:`DEALS`, 18 in all), made through
the real use cases by the borrowers and the partner app.
Running it again changes nothing; a database seeded by an older version gets what it lacks.
The credentials below are for local demos only."""

from __future__ import annotations

import enum
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
    registration_number: str


FUNDERS = (
    DemoFunder("east-river-bank", "East River Bank", TenantKind.BANK, "91110000100011743X"),
    DemoFunder(
        "jade-capital", "Jade Capital Lending", TenantKind.PRIVATE_LENDER, "91310000MA1FL8Y2BY"
    ),
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
            registration_number=funder.registration_number,
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
    ("HX-PO-1021", "1200000.00", 120, True),
)
#: Receipts the bonded warehouse issues to Golden Grain: number, goods, quantity, unit price.
#: Number, goods, tonnes, declared price a tonne, exchange commodity code (the price feed
#: quotes soybeans and corn; wheat and rapeseed are left to a funder's own prices).
RECEIPTS = (
    ("BLW-WR-0101", "Soybeans, grade 2", "1200", "4300.00", "A"),
    ("BLW-WR-0102", "Yellow corn", "2000", "2650.00", "C"),
    ("BLW-WR-0103", "Wheat, grade 1", "800", "2900.00", "WH"),
    ("BLW-WR-0104", "Rapeseed, grade 1", "600", "5200.00", "RS"),
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
    """Huaxin's orders to Minghai (three confirmed, one pending) and the bonded warehouse's
    receipts for Golden Grain, submitted, decided and issued by the parties' own users. Each
    is created only when no order or receipt has its number yet."""
    core = await parties.organization_by_code(session, ORGANIZATIONS[0][2])
    cargo = await parties.organization_by_code(session, ORGANIZATIONS[4][2])
    seller_user = await tenancy.user_by_email(session, BORROWER_USERS[0][0])
    core_user = await tenancy.user_by_email(session, "ops@huaxin.dev")
    warehouse_user = await tenancy.user_by_email(session, "desk@bonded-warehouse.dev")
    if None in (core, cargo, seller_user, core_user, warehouse_user):
        return False
    assert core is not None and cargo is not None and warehouse_user is not None
    seller = _user_actor(seller_user, Role.BORROWER)
    buyer = _user_actor(core_user, Role.CORE_ENTERPRISE_USER)
    warehouse = _user_actor(warehouse_user, Role.WAREHOUSE_USER)
    orders = await collateral_repository.purchase_orders_page(
        session, organization_id=core.id, limit=1000
    )
    have_orders = {o.number for o in orders}
    receipts = await collateral_repository.receipts_page(
        session, organization_id=cargo.id, limit=1000
    )
    have_receipts = {r.number for r in receipts}
    created = False
    today = utcnow().date()
    for number, amount, days, confirmed in ORDERS:
        if number in have_orders:
            continue
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
        created = True
    if not receipts:
        # Golden Grain keeps its goods at the bonded warehouse, which may then issue it
        # receipts.
        await party_service.authorize_agent(
            session,
            SEEDER,
            agent=party_service.Agent(organization_id=warehouse_user.organization_id),
            party=party_service.Party(organization_id=cargo.id),
        )
    for number, goods, quantity, price, code in RECEIPTS:
        if number in have_receipts:
            continue
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
            commodity_code=code,
        )
        created = True
    await session.flush()
    return created


class Ending(enum.Enum):
    """What happens to a demo deal after it is created."""

    DRAFT = "left as a draft"
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn as a draft"
    SUBMITTED_THEN_WITHDRAWN = "submitted, then withdrawn (its claims released)"


@dataclass(frozen=True)
class DemoDeal:
    """One demo application. ``applicant``: ``seller`` (Minghai), ``owner`` (Golden Grain),
    ``young`` (Zhang Min, directly) or ``partner`` (the partner app, for Zhang Min). The
    purpose identifies the deal at its funder, so a second run does not make it again."""

    funder: str
    line: ProductLine
    ending: Ending
    applicant: str
    amount: str
    term: int
    purpose: str
    order: str | None = None
    receipt: str | None = None
    consent: bool = True
    reason: str = ""


_EAST, _JADE = FUNDERS[0].slug, FUNDERS[1].slug
_OF, _WRP, _CC = (
    ProductLine.ORDER_FINANCING,
    ProductLine.WAREHOUSE_RECEIPT_PLEDGE,
    ProductLine.CONSUMER_CREDIT,
)

#: The demo deals in the order they are made: at each funder one of every line in each of
#: DRAFT, SUBMITTED and WITHDRAWN. An order or receipt backs one live (submitted) deal, so
#: the submitted ones name different collateral; drafts and withdrawn deals hold no claim.
DEALS = (
    # East River Bank.
    DemoDeal(_EAST, _OF, Ending.SUBMITTED, "seller", "1900000.00", 6,
             "Steel plate for the Huaxin order HX-PO-0815", order="HX-PO-0815"),  # 80 % of 2.4M
    DemoDeal(_EAST, _WRP, Ending.SUBMITTED, "owner", "3000000.00", 180,
             "Soybean inventory through the crush season", receipt="BLW-WR-0101"),
    DemoDeal(_EAST, _CC, Ending.SUBMITTED, "partner", "30000.00", 12, "Furniture for a new flat"),
    DemoDeal(_EAST, _CC, Ending.DRAFT, "young", "8000.00", 6, "Language course", consent=False),
    DemoDeal(_EAST, _CC, Ending.WITHDRAWN, "partner", "5000.00", 3, "New phone",
             reason="paid in cash"),
    DemoDeal(_EAST, _OF, Ending.DRAFT, "seller", "900000.00", 6,
             "Castings for the Huaxin order HX-PO-1021", order="HX-PO-1021"),
    DemoDeal(_EAST, _OF, Ending.WITHDRAWN, "seller", "600000.00", 3,
             "Bearings for the Huaxin order HX-PO-0930", order="HX-PO-0930",
             reason="the order is still unconfirmed"),
    DemoDeal(_EAST, _WRP, Ending.DRAFT, "owner", "1800000.00", 90,
             "Rapeseed stock for the autumn pressing", receipt="BLW-WR-0104"),
    DemoDeal(_EAST, _WRP, Ending.WITHDRAWN, "owner", "1000000.00", 90,
             "Wheat stock bridge", receipt="BLW-WR-0103", reason="applied at another funder"),
    # Jade Capital Lending.
    DemoDeal(_JADE, _OF, Ending.SUBMITTED, "seller", "1400000.00", 3,
             "Components for the Huaxin order HX-PO-0902", order="HX-PO-0902"),  # 80 % of 1.8M
    DemoDeal(_JADE, _OF, Ending.DRAFT, "seller", "700000.00", 3,
             "Fittings for the Huaxin order HX-PO-0930 (awaiting confirmation)",
             order="HX-PO-0930"),
    DemoDeal(_JADE, _WRP, Ending.SUBMITTED_THEN_WITHDRAWN, "owner", "2500000.00", 90,
             "Corn inventory", receipt="BLW-WR-0102", reason="financed from cash flow instead"),
    DemoDeal(_JADE, _CC, Ending.WITHDRAWN, "partner", "20000.00", 6, "Wedding expenses",
             reason="duplicate"),
    DemoDeal(_JADE, _OF, Ending.WITHDRAWN, "seller", "800000.00", 6,
             "Gearboxes for the Huaxin order HX-PO-1021", order="HX-PO-1021",
             reason="financed at East River Bank instead"),
    # 800 t x 2,900.00 x (1 - 10 % haircut) x 70 % LTV = 1,461,600.00 at most.
    DemoDeal(_JADE, _WRP, Ending.SUBMITTED, "owner", "1400000.00", 90,
             "Wheat stock for the flour mill contract", receipt="BLW-WR-0103"),
    DemoDeal(_JADE, _WRP, Ending.DRAFT, "owner", "2000000.00", 180,
             "Corn inventory, second season", receipt="BLW-WR-0102"),
    DemoDeal(_JADE, _CC, Ending.SUBMITTED, "partner", "15000.00", 6,
             "Driving lessons and a car deposit"),
    DemoDeal(_JADE, _CC, Ending.DRAFT, "young", "6000.00", 3, "Laptop for studies",
             consent=False),
)  # fmt: skip


async def _seed_deals(session: AsyncSession, cipher: PersonalDataCipher) -> bool:
    """The deals of :data:`DEALS` that their funder does not have yet (by purpose), through
    the use cases, as the borrowers and the partner app make them."""
    tenants = {f.slug: await tenancy.tenant_by_slug(session, f.slug) for f in FUNDERS}
    users = [await tenancy.user_by_email(session, email) for email, *_ in BORROWER_USERS]
    partner_org = await parties.organization_by_code(session, ORGANIZATIONS[2][2])
    core = await parties.organization_by_code(session, ORGANIZATIONS[0][2])
    cargo = await parties.organization_by_code(session, ORGANIZATIONS[4][2])
    if None in (*tenants.values(), *users, partner_org, core, cargo):
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
    actors = {"seller": seller, "owner": owner, "young": young, "partner": partner}
    young_person = users[2].person_id if users[2] is not None else None
    orders = {
        o.number: o.id
        for o in await collateral_repository.purchase_orders_page(
            session, organization_id=core.id, limit=1000
        )
    }
    receipts = {
        r.number: r.id
        for r in await collateral_repository.receipts_page(
            session, organization_id=cargo.id, limit=1000
        )
    }
    products: dict[tuple[str, ProductLine], uuid.UUID] = {}
    existing: set[tuple[str, str]] = set()
    for slug, tenant in tenants.items():
        assert tenant is not None
        for p in await product_repository.tenant_products_page(
            session, tenant_id=tenant.id, limit=100
        ):
            products[(slug, p.product.product_line)] = p.product.id
        for d in await deal_repository.funder_deals_page(
            session, tenant_id=tenant.id, limit=10_000
        ):
            existing.add((slug, d.purpose))
    consent = deal_service.ConsentInput(
        text_version="credit-consent-2026-01", method=ConsentMethod.ONLINE_CHECKBOX
    )
    created = False
    for spec in DEALS:
        if (spec.funder, spec.purpose) in existing or (spec.funder, spec.line) not in products:
            continue
        actor = actors[spec.applicant]
        outcome = await deal_service.create_deal(
            session,
            actor,
            product_id=products[(spec.funder, spec.line)],
            amount=Money.parse(spec.amount, "CNY"),
            term=spec.term,
            purpose=spec.purpose,
            applicant_person_id=young_person if spec.applicant == "partner" else None,
            consent=consent if spec.consent else None,
            purchase_order_id=orders[spec.order] if spec.order else None,
            warehouse_receipt_ids=[receipts[spec.receipt]] if spec.receipt else [],
            # A consumer applicant declares an income and completes the identity provider's
            # face capture, so the demo's risk checks have what they need.
            monthly_income=Money.parse("18000.00", "CNY")
            if spec.line is ProductLine.CONSUMER_CREDIT
            else None,
            liveness_session=f"demo-liveness-{spec.funder}-{len(spec.purpose)}"
            if spec.line is ProductLine.CONSUMER_CREDIT
            else None,
        )
        deal_id = outcome.deal.id
        if spec.ending in (Ending.SUBMITTED, Ending.SUBMITTED_THEN_WITHDRAWN):
            await deal_service.submit_deal(session, actor, cipher, deal_id=deal_id)
        if spec.ending in (Ending.WITHDRAWN, Ending.SUBMITTED_THEN_WITHDRAWN):
            await deal_service.withdraw_deal(session, actor, deal_id=deal_id, reason=spec.reason)
        created = True
    await session.flush()
    return created
