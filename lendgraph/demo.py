"""Demo marketplace for ``lendgraph dev`` and ``lendgraph seed-demo``: an operator, two funders
with staff, supply-chain parties, a borrower, a partner app and a first-party console client.
Running it again changes nothing. The credentials below are for local demos only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from domain.kernel.actor import Actor
from domain.kernel.crypto import PersonalDataCipher
from domain.kernel.scopes import Scope
from domain.parties import service as party_service
from domain.parties.models import OrganizationKind
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
    """Create the demo data unless it exists; True when something was created."""
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
        scopes=["viewer:read"],
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
