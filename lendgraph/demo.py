"""Demo marketplace for ``lendgraph dev`` and ``lendgraph seed-demo``: an operator, two funders
with staff and a published product of each line, supply-chain parties, a borrower, a partner
app (with marketplace:read) and a first-party console client.
Running it again changes nothing. The credentials below are for local demos only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from domain.kernel.actor import Actor
from domain.kernel.crypto import PersonalDataCipher
from domain.kernel.daycount import DayCountConvention
from domain.kernel.money import Money
from domain.kernel.scopes import Scope
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
        scopes=["viewer:read", "marketplace:read"],
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
