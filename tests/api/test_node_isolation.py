"""Isolation through the API (DESIGN.md section 5): every object loaded by ID - ``node``,
``nodes`` and the ID arguments of mutations - is checked against the caller, and an object of
another tenant or principal reads exactly like one that does not exist.

The table ``CASES`` holds, for every Node type, an object some principal must not see and a
principal that does see it (so a test that answered null for everything would fail). A Node
type added to the schema without a row here fails ``test_every_node_type_has_an_isolation_case``;
an ID-taking mutation argument without a row in ``ID_ARGS`` fails
``test_every_id_argument_has_a_refusal_case``. The ID arguments of the other query fields and
of subscriptions, and a deal's risk data and reviews, are in tests/api/test_query_isolation.py."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.state import AppState
from domain.collateral.models import DocumentKind
from domain.deals import repository as deals_repository
from domain.deals.models import DealStatus
from domain.kernel.actor import Actor
from domain.kernel.money import Money
from domain.kernel.scopes import (
    PARTNER_APP_SCOPES,
    SERVICE_ACCOUNT_SCOPES,
    Role,
    Scope,
    scopes_for_roles,
)
from domain.parties import service as party_service
from domain.parties.models import OrganizationKind
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from domain.products import service as product_service
from domain.products.models import ProductLine
from domain.reviews import service as review_service
from domain.reviews.models import ReviewDecision, ReviewStage
from lendgraph.demo import SEEDER
from tenants import repository as tenant_repository
from tenants import service as tenant_service
from tenants.models import ClientKind, Membership, TenantKind
from tests.collateral_support import (
    gql_upload,
    issue_receipt,
    pdf,
    session_of,
    store_document,
    stored_objects,
    submit_order,
    supply_chain,
    tenant_session,
)
from tests.deals_support import CONSENT, App, Borrower, apply, resident_id, submit
from tests.loans_support import seed_loans
from tests.products_support import cny, consumer_terms, order_terms, warehouse_terms
from tests.support import (
    World,
    access_token,
    client_token,
    global_id,
    gql,
    relate,
    seed_world,
    without_cost,
)

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename
    id
    ... on Tenant { slug name }
    ... on User { email memberships { roles tenant { slug } } }
    ... on OAuthClient { clientId scopes tenant { slug } }
    ... on Organization { name kind socialCreditCode }
    ... on Person { fullName residentIdMasked }
    ... on Product { name status funder { slug } }
    ... on PurchaseOrder { number orderStatus: status seller { name } buyer { name } }
    ... on WarehouseReceipt { number goodsDescription owner { name } warehouse { name } }
    ... on Document { fileName sha256 owner { name } purchaseOrder { number } }
    ... on Deal { dealStatus: status request { purpose } applicant { __typename } }
    ... on Loan { loanStatus: status principal { amount } borrower { __typename } deal { id } }
  }
}
"""

NODES = """
query Nodes($ids: [ID!]!) {
  nodes(ids: $ids) {
    __typename
    id
    ... on Tenant { slug }
    ... on User { email }
    ... on OAuthClient { clientId }
    ... on Organization { name }
    ... on Person { fullName }
    ... on Product { name }
    ... on PurchaseOrder { number }
    ... on WarehouseReceipt { number }
    ... on Document { fileName }
    ... on Deal { dealStatus: status }
  }
}
"""

SHARED_EMAIL = "shared@both-banks.test"
# Text of the supply chain's objects that must reach no one but their parties.
ORDER_NUMBER = "PO-HUSH-0001"
RECEIPT_NUMBER = "WR-HUSH-0001"
DOCUMENT_NAME = "hush-invoice.pdf"
# The purpose of bank B's deal, which must reach no one but its parties.
DEAL_PURPOSE = "Hush renovation"


@dataclass
class Ctx:
    """The seeded world, extra objects and a token per principal."""

    world: World
    tokens: dict[str, str]
    ids: dict[str, uuid.UUID]
    state: AppState

    def gid(self, type_name: str, key: str) -> str:
        return global_id(type_name, self.ids[key])


async def _service_account(
    client: httpx.AsyncClient,
    state: AppState,
    name: str,
    tenant_id: uuid.UUID,
    scopes: list[str],
) -> str:
    """A service account of ``tenant_id`` with exactly ``scopes``, and its access token."""
    creds = (f"sa-{name}", f"sa-{name}-secret")
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        await tenant_service.create_client(
            s,
            SEEDER,
            name=name,
            kind=ClientKind.SERVICE_ACCOUNT,
            scopes=scopes,
            tenant_id=tenant_id,
            credentials=creds,
        )
        await s.commit()
    response = await client_token(client, creds)
    assert response.status_code == 200, response.text
    token = response.json()
    assert set(token["scope"].split()) == set(scopes)
    return str(token["access_token"])


async def _partner_app(
    client: httpx.AsyncClient, state: AppState, organization_id: uuid.UUID
) -> str:
    """A partner app of ``organization_id`` with every scope a partner app may hold (it may
    submit purchase orders for trading companies), and its access token."""
    creds = ("chain-partner", "chain-partner-secret")
    scopes = sorted(s.value for s in PARTNER_APP_SCOPES)
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        await tenant_service.create_client(
            s,
            SEEDER,
            name="chain partner",
            kind=ClientKind.PARTNER_APP,
            scopes=scopes,
            organization_id=organization_id,
            credentials=creds,
        )
        await s.commit()
    response = await client_token(client, creds)
    assert response.status_code == 200, response.text
    assert set(response.json()["scope"].split()) == set(scopes)
    return str(response.json()["access_token"])


async def _products(s: Any, world: World, warehouse_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """Bank B's draft and published products; bank A's drafts with counterparties."""

    async def create(tenant: uuid.UUID, line: ProductLine, name: str, terms: Any) -> uuid.UUID:
        found = await product_service.create_product(
            s, SEEDER, product_line=line, name=name, terms=terms, tenant_id=tenant
        )
        return found.product.id

    out = {
        "product_b_draft": await create(
            world.b.id, ProductLine.CONSUMER_CREDIT, "B draft", consumer_terms()
        ),
        "product_b_published": await create(
            world.b.id, ProductLine.CONSUMER_CREDIT, "B offer", consumer_terms()
        ),
        "product_a_order": await create(
            world.a.id,
            ProductLine.ORDER_FINANCING,
            "A orders",
            order_terms([world.core_enterprise_id]),
        ),
        "product_a_warehouse": await create(
            world.a.id,
            ProductLine.WAREHOUSE_RECEIPT_PLEDGE,
            "A receipts",
            warehouse_terms([warehouse_id]),
        ),
    }
    await product_service.publish_product(s, SEEDER, product_id=out["product_b_published"])
    return out


async def _platform_ids(owner_engine: AsyncEngine, world: World) -> dict[str, uuid.UUID]:
    async with owner_engine.begin() as conn:
        await conn.execute(text("select set_config('app.platform', 'on', true)"))
        partner_org = (
            await conn.execute(
                text("select organization_id from oauth_clients where id = :id"),
                {"id": world.partner_client_pk},
            )
        ).scalar_one()
    return {"partner_org": partner_org}


APPLICANT_EMAIL = "applicant@people.test"


async def _deals(
    state: AppState, world: World, chain: Any, partner_org: uuid.UUID
) -> dict[str, uuid.UUID]:
    """Bank B's published products of each line and bank A's pledge product; a borrower (a
    person) and bank B's DRAFT consumer deal of hers; the partner app's DRAFT order-financing
    deal of bank B for the trading company, and bank A's own app's (the wide service
    account's) DRAFT pledge for the cargo owner, both without collateral yet. None of them
    names the objects of the other cases (the order, the receipt, Li Wei), and the partner
    app still sees no cargo owner."""
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        wide = {"max_amount": cny("2000000.00")}
        ids: dict[str, uuid.UUID] = {}
        for key, tenant, line, terms in (
            (
                "product_b_orders",
                world.b.id,
                ProductLine.ORDER_FINANCING,
                order_terms([world.core_enterprise_id], **wide),
            ),
            (
                "product_b_pledge",
                world.b.id,
                ProductLine.WAREHOUSE_RECEIPT_PLEDGE,
                warehouse_terms([chain.warehouse_id], **wide),
            ),
            (
                "product_a_pledge",
                world.a.id,
                ProductLine.WAREHOUSE_RECEIPT_PLEDGE,
                warehouse_terms([chain.warehouse_id], **wide),
            ),
        ):
            found = await product_service.create_product(
                s, SEEDER, product_line=line, name=key, terms=terms, tenant_id=tenant
            )
            await product_service.publish_product(s, SEEDER, product_id=found.product.id)
            ids[key] = found.product.id
        person = await party_service.create_person(
            s,
            SEEDER,
            state.cipher,
            full_name="Zhao Lan",
            resident_id=resident_id("19880512", 7),
            phone=None,
        )
        user = await tenant_service.create_user(
            s,
            SEEDER,
            email=APPLICANT_EMAIL,
            display_name="Zhao Lan",
            roles=["BORROWER"],
            tenant_id=None,
            password="correct-horse-battery",
            person_id=person.id,
        )
        b_offer = (
            await s.execute(
                text("select id from products where tenant_id = :t and name = 'B offer'"),
                {"t": world.b.id},
            )
        ).scalar_one()
        await s.commit()
    applicant = Borrower(person.id, user.user.id, APPLICANT_EMAIL)
    partner = App(partner_org, ("chain-partner", "chain-partner-secret"))
    # The partner acts for the trading company, bank A's own app for the cargo owner.
    await relate(state, agent_organization_id=partner_org, organization_id=world.borrower_org_id)
    await relate(state, agent_tenant_id=world.a.id, organization_id=chain.cargo_owner_id)
    money = Money.parse("50000.00", "CNY")
    ids["applicant_person"] = person.id
    ids["deal_b"] = (
        await apply(
            state,
            applicant.actor(),
            product_id=b_offer,
            amount=money,
            term=12,
            purpose=DEAL_PURPOSE,
            consent=CONSENT,
        )
    ).deal.id
    ids["deal_b_partner_order"] = (
        await apply(
            state,
            partner.actor(),
            product_id=ids["product_b_orders"],
            applicant_organization_id=world.borrower_org_id,
            amount=money,
            term=3,
            purpose="Partner application",
            consent=CONSENT,
        )
    ).deal.id
    funder_app = Actor(
        user_id=None,
        client_id="sa-wide-a",  # the wide service account's client (see ctx)
        tenant_id=world.a.id,
        scopes=frozenset(s.value for s in SERVICE_ACCOUNT_SCOPES),
    )
    ids["deal_a_app_pledge"] = (
        await apply(
            state,
            funder_app,
            product_id=ids["product_a_pledge"],
            applicant_organization_id=chain.cargo_owner_id,
            amount=money,
            term=90,
            purpose="Funder app application",
            consent=CONSENT,
        )
    ).deal.id
    return ids


@pytest.fixture
async def ctx(client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine) -> Ctx:
    world = await seed_world(app_state)
    # A user who is staff of both banks: each bank sees the user but only its own membership.
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        shared = await tenant_service.create_user(
            s,
            SEEDER,
            email=SHARED_EMAIL,
            display_name="Shared",
            roles=["FIRST_REVIEWER"],
            tenant_id=world.a.id,
            password="correct-horse-battery",
        )
        tenant_repository.add(
            s, Membership(tenant_id=world.b.id, user_id=shared.user.id, roles=["SECOND_REVIEWER"])
        )
        warehouse = await party_service.create_organization(
            s,
            SEEDER,
            kind=OrganizationKind.WAREHOUSE,
            name="Bonded Warehouse",
            social_credit_code="91310000MA1FL4RK4H",
        )
        products = await _products(s, world, warehouse.id)
        await s.commit()
    # The supply chain around the core enterprise and the trading company: an order the
    # seller submitted with its invoice attached, a receipt of the depot for the cargo owner,
    # and a document of the seller's and of the depot's attached to nothing.
    chain = await supply_chain(app_state, world)
    order = await submit_order(app_state, world, chain, ORDER_NUMBER)
    receipt = await issue_receipt(app_state, chain, RECEIPT_NUMBER)
    supply = {
        "depot": chain.warehouse_id,
        "cargo_owner": chain.cargo_owner_id,
        "other_core_org": chain.other_core_id,
        "order": order,
        "receipt": receipt,
        "document": await store_document(
            app_state, chain.seller_user, file_name=DOCUMENT_NAME, purchase_order_id=order
        ),
        "seller_doc": await store_document(app_state, chain.seller_user, file_name="loose.pdf"),
        "depot_doc": await store_document(
            app_state,
            chain.warehouse_user,
            file_name="inspection.pdf",
            kind=DocumentKind.INSPECTION_REPORT,
        ),
    }
    platform_ids = await _platform_ids(owner_engine, world)
    deals = await _deals(app_state, world, chain, platform_ids["partner_org"])
    # The partner applied for the trading company, and bank A's own app for the cargo
    # owner, while they acted for them; both parties have since revoked that, so each app
    # keeps its deal but sees nothing else of the party's. Bank B's own app acts for the
    # borrower who applied to it.
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        await party_service.revoke_agent(
            s,
            SEEDER,
            agent=party_service.Agent(organization_id=platform_ids["partner_org"]),
            party=party_service.Party(organization_id=world.borrower_org_id),
        )
        await party_service.revoke_agent(
            s,
            SEEDER,
            agent=party_service.Agent(tenant_id=world.a.id),
            party=party_service.Party(organization_id=chain.cargo_owner_id),
        )
        # A funder with no product on offer: unlisted, so nobody's but the operator's.
        unlisted = await tenant_service.create_tenant(
            s,
            SEEDER,
            name="Bank C",
            slug="bank-c",
            kind=TenantKind.BANK,
            time_zone="Asia/Shanghai",
            currency="CNY",
        )
        await s.commit()
    await relate(app_state, agent_tenant_id=world.b.id, person_id=deals["applicant_person"])
    await relate(
        app_state,
        agent_organization_id=platform_ids["partner_org"],
        person_id=deals["applicant_person"],
    )
    # Bank B's loan, on a copy of the applicant's deal made ACTIVE.
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        (loan_b,) = await seed_loans(
            s, tenant_id=world.b.id, template_deal_id=deals["deal_b"], count=1
        )
        await s.commit()
    tokens = {
        "platform": await access_token(client, world.admin_email),
        "admin_a": await access_token(client, world.a.admin_email),
        "admin_b": await access_token(client, world.b.admin_email),
        "svc_a": (await client_token(client, world.a.service_client)).json()["access_token"],
        "svc_b": (await client_token(client, world.b.service_client)).json()["access_token"],
        # Every scope a service account may hold, persons:read and organizations:read
        # included: what it may not see is then refused by visibility, not by scope.
        "svc_a_wide": await _service_account(
            client, app_state, "wide-a", world.a.id, sorted(s.value for s in SERVICE_ACCOUNT_SCOPES)
        ),
        # Write scopes without the operator's platform:admin: reaches the ID checks of
        # mutations, which must refuse what it may not see.
        "svc_a_writer": await _service_account(
            client,
            app_state,
            "writer-a",
            world.a.id,
            [
                Scope.USERS_WRITE.value,
                Scope.CLIENTS_WRITE.value,
                Scope.PRODUCTS_WRITE.value,
                Scope.TENANTS_WRITE.value,
            ],
        ),
        "shared_in_a": await access_token(client, SHARED_EMAIL, tenant="bank-a"),
        # Users of the supply chain's organizations, each with every scope of its role.
        "seller": await access_token(client, chain.seller_user.email),
        "core": await access_token(client, chain.core_user.email),
        "other_core": await access_token(client, chain.other_core_user.email),
        "depot": await access_token(client, chain.warehouse_user.email),
        "cargo_owner": await access_token(client, chain.owner_user.email),
        "partner_app": await _partner_app(client, app_state, platform_ids["partner_org"]),
        # A borrower (a person) who applied to bank B.
        "applicant": await access_token(client, APPLICANT_EMAIL),
    }
    ids = {
        "tenant_a": world.a.id,
        "tenant_b": world.b.id,
        "tenant_c": unlisted.id,
        "admin_a": world.a.admin_user_id,
        "admin_b": world.b.admin_user_id,
        "svc_client_a": world.a.service_client_pk,
        "svc_client_b": world.b.service_client_pk,
        "operator": world.admin_user_id,
        "partner_client": world.partner_client_pk,
        "trade_org": world.borrower_org_id,
        "core_org": world.core_enterprise_id,
        "person": world.person_id,
        "shared_user": shared.user.id,
        "warehouse": warehouse.id,
        **products,
        **platform_ids,
        **supply,
        **deals,
        "loan_b": loan_b,
    }
    return Ctx(world=world, tokens=tokens, ids=ids, state=app_state)


async def _node(client: httpx.AsyncClient, token: str, gid: str) -> dict[str, Any] | None:
    response = await gql(client, token, NODE, {"id": gid})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    node: dict[str, Any] | None = body["data"]["node"]
    return node


# --- node(id:) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """An object of ``type_name`` (``key`` in ``Ctx.ids``), the principals that must get null
    for it and those that must get it."""

    name: str
    type_name: str
    key: str
    strangers: tuple[str, ...]
    owners: tuple[str, ...]
    # Text of the object that must not appear anywhere in a stranger's answer.
    secret: Callable[[Ctx], str] | None = None


CASES = [
    Case(
        # A funder with an offer in the marketplace is platform-level data (the marketplace
        # shows it as a product's funder): every principal that may read funders sees it.
        "listed-tenant-of-B",
        "Tenant",
        "tenant_b",
        strangers=(),
        owners=("admin_b", "svc_b", "platform", "admin_a", "svc_a", "svc_a_wide", "shared_in_a"),
    ),
    Case(
        "unlisted-tenant",
        "Tenant",
        "tenant_c",
        strangers=("admin_a", "svc_a", "svc_a_wide", "shared_in_a", "admin_b", "applicant"),
        owners=("platform",),
        secret=lambda c: "bank-c",
    ),
    Case(
        "user-of-B",
        "User",
        "admin_b",
        strangers=("admin_a", "svc_a", "svc_a_wide", "shared_in_a"),
        owners=("admin_b", "svc_b", "platform"),
        secret=lambda c: c.world.b.admin_email,
    ),
    Case(
        "operator-user",
        "User",
        "operator",
        strangers=("admin_a", "svc_a", "svc_a_wide", "admin_b"),
        owners=("platform",),
        secret=lambda c: c.world.admin_email,
    ),
    Case(
        "oauth-client-of-B",
        "OAuthClient",
        "svc_client_b",
        strangers=("admin_a", "svc_a", "svc_a_wide"),
        owners=("admin_b", "svc_b", "platform"),
        secret=lambda c: c.world.b.service_client[0],
    ),
    Case(
        "partner-client-of-platform",
        "OAuthClient",
        "partner_client",
        strangers=("admin_a", "svc_a_wide", "admin_b"),
        owners=("platform",),
        secret=lambda c: c.world.partner_client[0],
    ),
    Case(
        # A funder sees the applicants of its own deals (bank B: the partner's application).
        "trade-enterprise",
        "Organization",
        "trade_org",
        strangers=("admin_a", "svc_a", "svc_a_wide", "partner_app", "applicant"),
        owners=("platform", "admin_b", "seller"),
        secret=lambda c: "Trader Co",
    ),
    Case(
        "draft-product-of-B",
        "Product",
        "product_b_draft",
        strangers=("admin_a", "svc_a", "svc_a_wide", "shared_in_a"),
        owners=("admin_b", "platform"),
        secret=lambda c: "B draft",
    ),
    Case(
        # Published offers are marketplace data: readable with marketplace:read only.
        "published-product-of-B",
        "Product",
        "product_b_published",
        strangers=("admin_a", "svc_a", "shared_in_a"),
        owners=("admin_b", "platform", "svc_a_wide"),
        secret=lambda c: "B offer",
    ),
    Case(
        "person",
        "Person",
        "person",
        strangers=("admin_a", "svc_a", "svc_a_wide", "admin_b", "shared_in_a"),
        owners=("platform",),
        secret=lambda c: "Li Wei",
    ),
    # Supply-chain objects belong to their parties: other organizations (even of the same
    # kind, or a party of another of the chain's objects) and funders' staff and service
    # accounts holding collateral:read and documents:read get null.
    Case(
        "purchase-order",
        "PurchaseOrder",
        "order",
        strangers=(
            "other_core",
            "depot",
            "cargo_owner",
            "partner_app",
            "admin_a",
            "svc_a_wide",
            "admin_b",
        ),
        owners=("seller", "core", "platform"),
        secret=lambda c: ORDER_NUMBER,
    ),
    Case(
        "warehouse-receipt",
        "WarehouseReceipt",
        "receipt",
        strangers=("other_core", "core", "seller", "partner_app", "admin_a", "svc_a_wide"),
        owners=("depot", "cargo_owner", "platform"),
        secret=lambda c: RECEIPT_NUMBER,
    ),
    Case(
        # A document is its owner's and, by ID too, whoever sees what it is attached to (the
        # buyer of the order).
        "document-attached-to-an-order",
        "Document",
        "document",
        strangers=("other_core", "depot", "cargo_owner", "admin_a", "svc_a_wide", "partner_app"),
        owners=("seller", "platform", "core"),
        secret=lambda c: DOCUMENT_NAME,
    ),
    Case(
        "document-of-a-warehouse",
        "Document",
        "depot_doc",
        strangers=("cargo_owner", "seller", "core", "admin_a", "svc_a_wide"),
        owners=("depot", "platform"),
        secret=lambda c: "inspection.pdf",
    ),
    # A deal is its funder's, its applicant's and its channel's: another funder (even with
    # every scope a service account may hold), a partner app it did not come through and
    # other parties get null.
    Case(
        "deal-of-B",
        "Deal",
        "deal_b",
        strangers=(
            "admin_a",
            "svc_a_wide",
            "shared_in_a",
            "partner_app",
            "seller",
            "cargo_owner",
            "core",
            "depot",
        ),
        owners=("admin_b", "platform", "applicant"),
        secret=lambda c: DEAL_PURPOSE,
    ),
    # A loan is its funder's books: another funder (with every scope a service account may
    # hold), and the borrower, who sees the deal, get null.
    Case(
        "loan-of-B",
        "Loan",
        "loan_b",
        strangers=("admin_a", "svc_a_wide", "shared_in_a", "applicant", "partner_app", "seller"),
        owners=("admin_b", "platform"),
    ),
    Case(
        "partner-deal-of-B",
        "Deal",
        "deal_b_partner_order",
        strangers=("admin_a", "svc_a_wide", "applicant", "cargo_owner", "core"),
        owners=("admin_b", "platform", "partner_app", "seller"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_node_is_null_for_strangers_and_found_by_owners(
    client: httpx.AsyncClient, ctx: Ctx, case: Case
) -> None:
    gid = ctx.gid(case.type_name, case.key)
    for owner in case.owners:
        node = await _node(client, ctx.tokens[owner], gid)
        assert node is not None, f"{owner} should see {case.name}"
        assert node["__typename"] == case.type_name
        assert node["id"] == gid
    for stranger in case.strangers:
        response = await gql(client, ctx.tokens[stranger], NODE, {"id": gid})
        assert response.status_code == 200, response.text
        assert without_cost(response.json()) == {"data": {"node": None}}, (
            f"{stranger} saw {case.name}"
        )
        if case.secret is not None:
            assert case.secret(ctx) not in response.text


async def test_every_node_type_has_an_isolation_case(client: httpx.AsyncClient, ctx: Ctx) -> None:
    query = "{ __schema { types { name kind interfaces { name } } } }"
    response = await gql(client, ctx.tokens["platform"], query)
    assert response.status_code == 200, response.text
    node_types = {
        t["name"]
        for t in response.json()["data"]["__schema"]["types"]
        if t["kind"] == "OBJECT" and any(i["name"] == "Node" for i in t["interfaces"] or [])
    }
    assert {"Tenant", "User", "OAuthClient", "Organization", "Person", "Product"} <= node_types
    covered = {c.type_name for c in CASES if c.strangers and c.owners}
    missing = node_types - covered
    assert not missing, f"Node types without a cross-tenant/cross-principal case: {missing}"
    assert not covered - node_types, f"stale cases: {covered - node_types}"


async def test_visible_objects_are_found_so_nulls_mean_refusal(
    client: httpx.AsyncClient, ctx: Ctx
) -> None:
    # Positive controls for the strangers of CASES: each does see its own objects.
    own = [
        ("admin_a", "Tenant", "tenant_a"),
        ("admin_a", "User", "admin_a"),
        ("admin_a", "User", "shared_user"),
        ("admin_a", "OAuthClient", "svc_client_a"),
        ("svc_a", "Tenant", "tenant_a"),
        ("svc_a", "User", "admin_a"),
        ("svc_a", "OAuthClient", "svc_client_a"),
        ("svc_a_wide", "Organization", "core_org"),  # public kinds are platform-level data
        ("shared_in_a", "Tenant", "tenant_a"),
        ("admin_a", "Product", "product_a_order"),
    ]
    for principal, type_name, key in own:
        node = await _node(client, ctx.tokens[principal], ctx.gid(type_name, key))
        assert node is not None, f"{principal} should see its {key}"
        assert node["id"] == ctx.gid(type_name, key)


async def test_nodes_batch_filters_each_id(client: httpx.AsyncClient, ctx: Ctx) -> None:
    keys = [
        ("Tenant", "tenant_b"),
        ("User", "admin_b"),
        ("OAuthClient", "svc_client_b"),
        ("Tenant", "tenant_a"),
        ("User", "admin_a"),
        ("OAuthClient", "svc_client_a"),
        ("Organization", "trade_org"),
        ("Person", "person"),
        ("Organization", "core_org"),
        ("Product", "product_b_draft"),
    ]
    ids = [ctx.gid(t, k) for t, k in keys]

    async def ask(principal: str) -> list[str | None]:
        response = await gql(client, ctx.tokens[principal], NODES, {"ids": ids})
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return [n["id"] if n else None for n in body["data"]["nodes"]]

    # Both banks are listed (marketplace data); a funder's staff read public organizations.
    svc_a = [ids[0], None, None, ids[3], ids[4], ids[5], None, None, None, None]
    assert await ask("svc_a") == svc_a
    assert await ask("admin_a") == [*svc_a[:8], ids[8], None]
    assert await ask("svc_a_wide") == [*svc_a[:8], ids[8], None]
    # Bank B also sees the trading company: the applicant of one of its deals.
    assert await ask("admin_b") == [*ids[:4], None, None, ids[6], None, ids[8], ids[9]]
    assert await ask("platform") == ids

    response = await gql(client, ctx.tokens["admin_a"], NODES, {"ids": ids})
    for leaked in (ctx.world.b.admin_email, "svc-b", "Trader Co", "Li Wei", "B draft"):
        assert leaked not in response.text


async def test_nodes_batch_filters_each_supply_chain_id(
    client: httpx.AsyncClient, ctx: Ctx
) -> None:
    keys = [
        ("PurchaseOrder", "order"),
        ("WarehouseReceipt", "receipt"),
        ("Document", "document"),
        ("Document", "depot_doc"),
        ("Document", "seller_doc"),
    ]
    ids: list[str | None] = [ctx.gid(t, k) for t, k in keys]
    nobody: list[str | None] = [None] * len(ids)
    expected: dict[str, list[str | None]] = {
        "platform": ids,
        "seller": [ids[0], None, ids[2], None, ids[4]],
        "core": [ids[0], None, ids[2], None, None],
        "depot": [None, ids[1], None, ids[3], None],
        "cargo_owner": [None, ids[1], None, None, None],
        "other_core": nobody,
        "partner_app": nobody,
        "admin_a": nobody,
        "svc_a_wide": nobody,
        "admin_b": nobody,
    }
    for principal, sees in expected.items():
        response = await gql(client, ctx.tokens[principal], NODES, {"ids": ids})
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        assert [n["id"] if n else None for n in body["data"]["nodes"]] == sees, principal
        if sees == nobody:
            for leaked in (ORDER_NUMBER, RECEIPT_NUMBER, DOCUMENT_NAME, "inspection.pdf"):
                assert leaked not in response.text, principal


async def test_counterparties_reach_attached_documents_through_the_order_and_by_id(
    client: httpx.AsyncClient, ctx: Ctx
) -> None:
    query = (
        "query($id: ID!) { node(id: $id) { ... on PurchaseOrder { documents { id fileName } } } }"
    )
    document = {"id": ctx.gid("Document", "document"), "fileName": DOCUMENT_NAME}
    for principal in ("core", "seller", "platform"):
        response = await gql(
            client, ctx.tokens[principal], query, {"id": ctx.gid("PurchaseOrder", "order")}
        )
        assert without_cost(response.json()) == {"data": {"node": {"documents": [document]}}}, (
            principal
        )
    # The buyer asking for the document itself by ID gets what the order showed it.
    found = await _node(client, ctx.tokens["core"], document["id"])
    assert found is not None and found["fileName"] == DOCUMENT_NAME
    # A party that does not see the order reaches the document neither way.
    assert await _node(client, ctx.tokens["other_core"], document["id"]) is None


async def test_membership_of_another_tenant_is_not_shown_through_the_user(
    client: httpx.AsyncClient, ctx: Ctx
) -> None:
    gid = ctx.gid("User", "shared_user")

    async def memberships(principal: str) -> list[tuple[str, tuple[str, ...]]]:
        node = await _node(client, ctx.tokens[principal], gid)
        assert node is not None
        return sorted((m["tenant"]["slug"], tuple(m["roles"])) for m in node["memberships"])

    assert await memberships("admin_a") == [("bank-a", ("FIRST_REVIEWER",))]
    assert await memberships("svc_a") == [("bank-a", ("FIRST_REVIEWER",))]
    assert await memberships("admin_b") == [("bank-b", ("SECOND_REVIEWER",))]
    assert await memberships("platform") == [
        ("bank-a", ("FIRST_REVIEWER",)),
        ("bank-b", ("SECOND_REVIEWER",)),
    ]
    # The same through viewer, for the shared user signed in to bank A (a reviewer has no
    # users:read, so only through viewer).
    response = await gql(
        client,
        ctx.tokens["shared_in_a"],
        "{ viewer { user { memberships { roles tenant { slug } } } } }",
    )
    assert response.json()["data"]["viewer"]["user"]["memberships"] == [
        {"roles": ["FIRST_REVIEWER"], "tenant": {"slug": "bank-a"}}
    ]
    assert "bank-b" not in response.text
    # B's own staff member's memberships are out of reach altogether for A.
    node = await gql(client, ctx.tokens["admin_a"], NODE, {"id": ctx.gid("User", "admin_b")})
    assert without_cost(node.json()) == {"data": {"node": None}}


# --- malformed, wrong-type and unknown IDs ------------------------------------------------


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _odd_ids(ctx: Ctx) -> dict[str, str]:
    """IDs that name nothing the platform operator could be shown."""
    return {
        "not-base64": "!!!",
        "empty": "",
        "plain-uuid": str(ctx.ids["tenant_a"]),
        "no-colon": _b64("Tenant"),
        "empty-node-id": _b64("Tenant:"),
        "non-uuid": _b64("Tenant:123"),
        "sql": _b64("Tenant:'; drop table tenants; --"),
        "unknown-type": _b64(f"Nope:{ctx.ids['tenant_a']}"),
        "non-node-type": _b64(f"Membership:{ctx.ids['tenant_a']}"),
        "root-type": _b64(f"Query:{ctx.ids['tenant_a']}"),
        "interface": _b64(f"Node:{ctx.ids['tenant_a']}"),
        "huge": _b64("Tenant:" + "9" * 20_000),
        # Real objects under another type's name.
        "user-as-tenant": global_id("Tenant", ctx.ids["admin_a"]),
        "tenant-as-user": global_id("User", ctx.ids["tenant_a"]),
        "person-as-client": global_id("OAuthClient", ctx.ids["person"]),
        "org-as-person": global_id("Person", ctx.ids["core_org"]),
        "person-as-org": global_id("Organization", ctx.ids["person"]),
        "order-as-receipt": global_id("WarehouseReceipt", ctx.ids["order"]),
        "receipt-as-order": global_id("PurchaseOrder", ctx.ids["receipt"]),
        "document-as-order": global_id("PurchaseOrder", ctx.ids["document"]),
        "order-as-document": global_id("Document", ctx.ids["order"]),
        # Random UUIDs of every type.
        **{
            f"random-{t}": global_id(t, uuid.uuid4())
            for t in (
                "Tenant",
                "User",
                "OAuthClient",
                "Organization",
                "Person",
                "Product",
                "PurchaseOrder",
                "WarehouseReceipt",
                "Document",
                "Deal",
            )
        },
        "deal-as-product": global_id("Product", ctx.ids["deal_b"]),
        "product-as-deal": global_id("Deal", ctx.ids["product_b_published"]),
    }


async def test_odd_ids_give_null_or_a_clear_error_never_a_500(
    client: httpx.AsyncClient, ctx: Ctx
) -> None:
    # Asked by the operator, who sees everything: a null here is the ID's fault.
    token = ctx.tokens["platform"]
    for name, gid in _odd_ids(ctx).items():
        for query, variables in (
            (NODE, {"id": gid}),
            (NODES, {"ids": [gid, ctx.gid("Tenant", "tenant_a")]}),
        ):
            response = await gql(client, token, query, variables)
            assert response.status_code in (200, 400), (name, response.text)
            body = response.json()
            data = body.get("data")
            if data is not None:
                field = data.get("node", data.get("nodes"))
                if isinstance(field, list):
                    assert field[0] is None, (name, body)
                    assert field[1] is not None, (name, body)  # the good ID still resolves
                else:
                    assert field is None, (name, body)
            for error in body.get("errors", []):
                assert error["message"] != "Unexpected error.", (name, body)
                assert error["message"], (name, body)


async def test_inline_malformed_id_is_a_clear_error(client: httpx.AsyncClient, ctx: Ctx) -> None:
    response = await gql(client, ctx.tokens["platform"], '{ node(id: "!!!") { id } }')
    assert response.status_code in (200, 400)
    body = response.json()
    assert (body.get("data") or {}).get("node") is None
    assert 'ID cannot represent "!!!": not a global ID' in body["errors"][0]["message"]


# --- ID arguments of mutations ------------------------------------------------------------

CREATE_USER = """
mutation($input: CreateUserInput!) {
  createUser(input: $input) { user { id } userErrors { field code message } }
}"""
CREATE_CLIENT = """
mutation($input: CreateOAuthClientInput!) {
  createOAuthClient(input: $input) { client { id } clientSecret userErrors { field code message } }
}"""
SET_TENANT_STATUS = """
mutation($input: SetTenantStatusInput!) {
  setTenantStatus(input: $input) { tenant { id } userErrors { field code message } }
}"""
AUTHORIZE_AGENT = """
mutation($input: AgentInput!) {
  authorizeAgent(input: $input) { authorization { id } userErrors { field code message } }
}"""
REVOKE_AGENT = """
mutation($input: AgentInput!) {
  revokeAgentAuthorization(input: $input) {
    authorization { id } userErrors { field code message }
  }
}"""
DISABLE_USER = """
mutation($input: DisableInput!) {
  disableUser(input: $input) { user { id status } userErrors { field code message } }
}"""
DISABLE_CLIENT = """
mutation($input: DisableInput!) {
  disableOAuthClient(input: $input) { client { id status } userErrors { field code message } }
}"""
PRODUCT_MUTATION = """
mutation($input: INPUT!) {
  MUTATION(input: $input) { product { id status } userErrors { field code message } }
}"""


def _product_document(mutation: str, input_type: str) -> str:
    return PRODUCT_MUTATION.replace("MUTATION", mutation).replace("INPUT", input_type)


CREATE_PRODUCT = _product_document("createProduct", "CreateProductInput")
UPDATE_PRODUCT = _product_document("updateProduct", "UpdateProductInput")
PUBLISH_PRODUCT = _product_document("publishProduct", "ProductIdInput")
RETIRE_PRODUCT = _product_document("retireProduct", "ProductIdInput")
ELIGIBLE = "terms.orderFinancing.eligibleCoreEnterpriseIds"
ACCEPTED = "terms.warehousePledge.acceptedWarehouseIds"


def _terms(line: str, org_gid: str | None = None) -> dict[str, Any]:
    """Valid product terms of ``line`` naming ``org_gid`` as its counterparty."""
    terms: dict[str, Any] = {
        "currency": "CNY",
        "minAmount": {"amount": "1000.00", "currency": "CNY"},
        "maxAmount": {"amount": "200000.00", "currency": "CNY"},
        "allowedTerms": [3, 6, 12],
        "annualRate": "0.12",
        "repaymentMethod": "EQUAL_INSTALLMENT",
        "latePenalty": {"dailyRate": "0.0005", "basis": "OVERDUE_PRINCIPAL", "graceDays": 3},
        "prepaymentPenalty": {"rate": "0.02", "freeAllowance": "0.10"},
    }
    if line == "CONSUMER_CREDIT":
        terms["consumerEligibility"] = {"minAge": 22, "maxAge": 55, "minCreditScore": 600}
    elif line == "ORDER_FINANCING":
        terms["repaymentMethod"] = "INTEREST_ONLY"
        terms["allowedTerms"] = [3, 6]
        terms["orderFinancing"] = {"maxAdvanceRate": "0.8", "eligibleCoreEnterpriseIds": [org_gid]}
    else:
        terms["termUnit"] = "DAY"
        terms["allowedTerms"] = [90, 180]
        terms["repaymentMethod"] = "BULLET"
        terms["warehousePledge"] = {
            "maxLtv": "0.7",
            "haircut": "0.1",
            "acceptedWarehouseIds": [org_gid],
        }
    return terms


@dataclass(frozen=True)
class IdArg:
    """An ID argument of a mutation (``path`` inside its input): the document, the input
    around the ID, and three IDs - one the ``stranger`` (by default bank A's writer service
    account) may not see, one of a real object under another type's name, and one the ``user``
    (by default the operator, who sees every object) may use (the positive control).
    ``error_field`` is the field the refusal names.

    ``refusal`` is the code of the refusal of an ID naming an object the caller may not use,
    hidden or not there at all (the two must read alike): NOT_FOUND, except where the use case
    refuses every ID but the caller's own organization as FORBIDDEN before looking it up. An
    ID of another type (or not a UUID) is refused by the field's ID scalar before anything
    runs (``api.ids``). ``upload`` sends the mutation as a
    multipart request with a new file as ``input.file``. ``known_bug`` marks the stranger's
    case as a strict expected failure until the application is fixed."""

    mutation: str
    path: str
    document: str
    payload: str
    input: Callable[[Ctx, str], dict[str, Any]]
    invisible: Callable[[Ctx], str]
    wrong_type: Callable[[Ctx], str]
    visible: Callable[[Ctx], str]
    error_field: str = ""
    stranger: str = "svc_a_writer"
    user: str = "platform"
    refusal: str = "NOT_FOUND"
    upload: bool = False
    known_bug: str | None = None
    # What the case needs besides ``ctx`` (a deal in review, a reviewer's token), put in
    # place by the tests that send its IDs.
    prepare: Callable[[httpx.AsyncClient, Ctx], Awaitable[None]] | None = None

    @property
    def name(self) -> str:
        return f"{self.mutation}.{self.path}"

    async def ready(self, client: httpx.AsyncClient, ctx: Ctx) -> None:
        """Put in place what the case needs besides ``ctx``."""
        if self.prepare is not None:
            await self.prepare(client, ctx)

    @property
    def field(self) -> str:
        return self.error_field or self.path

    async def send(self, client: httpx.AsyncClient, token: str, input_: dict[str, Any]) -> Any:
        """The mutation with ``input_``, as ``token``."""
        variables = {"input": input_}
        if self.upload:
            content = pdf(f"id argument {uuid.uuid4()}")  # new bytes: a new object if stored
            return await gql_upload(client, token, self.document, variables, content)
        return await gql(client, token, self.document, variables)


def _product_terms_arg(
    mutation: str, line: str, path: str, counterparty: str, product: str | None
) -> IdArg:
    """A counterparty ID inside product terms: on create (bank A's new product) or on update
    (bank A's draft ``product``)."""

    def input_(c: Ctx, gid: str) -> dict[str, Any]:
        if product is None:
            return {
                "productLine": line,
                "name": "New product",
                "terms": _terms(line, gid),
                "tenantId": c.gid("Tenant", "tenant_a"),
            }
        return {"id": c.gid("Product", product), "name": "Renamed", "terms": _terms(line, gid)}

    return IdArg(
        mutation,
        path,
        CREATE_PRODUCT if product is None else UPDATE_PRODUCT,
        "product",
        input_,
        # Trade enterprises are not platform-level data: hidden from a funder.
        invisible=lambda c: c.gid("Organization", "trade_org"),
        wrong_type=lambda c: global_id("Person", c.ids[counterparty]),
        visible=lambda c: c.gid("Organization", counterparty),
    )


def _payload_document(mutation: str, input_type: str, payload: str) -> str:
    return (
        f"mutation($input: {input_type}!) {{ {mutation}(input: $input) "
        f"{{ {payload} {{ id }} userErrors {{ field code message }} }} }}"
    )


CREATE_ORDER = _payload_document("createPurchaseOrder", "CreatePurchaseOrderInput", "purchaseOrder")
CONFIRM_ORDER = _payload_document(
    "confirmPurchaseOrder", "ConfirmPurchaseOrderInput", "purchaseOrder"
)
DISPUTE_ORDER = _payload_document(
    "disputePurchaseOrder", "DisputePurchaseOrderInput", "purchaseOrder"
)
ISSUE_RECEIPT = _payload_document(
    "issueWarehouseReceipt", "IssueWarehouseReceiptInput", "warehouseReceipt"
)
CANCEL_RECEIPT = _payload_document(
    "cancelWarehouseReceipt", "CancelWarehouseReceiptInput", "warehouseReceipt"
)
UPLOAD_DOCUMENT = _payload_document("uploadDocument", "UploadDocumentInput", "document")
ATTACH_DOCUMENT = _payload_document("attachDocument", "AttachDocumentInput", "document")


def _order_input(c: Ctx, buyer: str, seller: str) -> dict[str, Any]:
    return {
        "buyerId": buyer,
        "sellerId": seller,
        "number": "PO-NEW-0001",
        "amount": {"amount": "80000.00", "currency": "CNY"},
        "issueDate": "2026-12-01",
        "dueDate": "2027-02-28",
    }


def _receipt_input(c: Ctx, owner: str, warehouse: str | None = None) -> dict[str, Any]:
    out = {
        "ownerId": owner,
        "number": "WR-NEW-0001",
        "goodsDescription": "Cotton, 200 bales",
        "quantity": "200",
        "unit": "bale",
        "location": "Shed 2",
        "unitPrice": {"amount": "3200.00", "currency": "CNY"},
    }
    if warehouse is not None:
        out["warehouseId"] = warehouse
    return out


def _upload_input(kind: str, **ids: str) -> dict[str, Any]:
    return {"file": None, "kind": kind, **ids}


SUPPLY_CHAIN_ID_ARGS = [
    IdArg(
        "createPurchaseOrder",
        "buyerId",
        CREATE_ORDER,
        "purchaseOrder",
        lambda c, gid: _order_input(c, gid, c.gid("Organization", "trade_org")),
        # The seller submitting its own order. Core enterprises are public: a hidden
        # organization is one of another kind.
        invisible=lambda c: c.gid("Organization", "cargo_owner"),
        wrong_type=lambda c: global_id("Person", c.ids["core_org"]),
        visible=lambda c: c.gid("Organization", "core_org"),
        stranger="seller",
    ),
    IdArg(
        "createPurchaseOrder",
        "sellerId",
        CREATE_ORDER,
        "purchaseOrder",
        lambda c, gid: _order_input(c, c.gid("Organization", "core_org"), gid),
        # A partner app submits for trading companies it cannot see (by design), so the hidden
        # organization it may not name is one of another kind.
        invisible=lambda c: c.gid("Organization", "cargo_owner"),
        wrong_type=lambda c: global_id("Tenant", c.ids["trade_org"]),
        visible=lambda c: c.gid("Organization", "trade_org"),
        stranger="partner_app",
    ),
    IdArg(
        "confirmPurchaseOrder",
        "id",
        CONFIRM_ORDER,
        "purchaseOrder",
        lambda c, gid: {"id": gid, "note": "matches GRN 77"},
        invisible=lambda c: c.gid("PurchaseOrder", "order"),
        wrong_type=lambda c: global_id("WarehouseReceipt", c.ids["order"]),
        visible=lambda c: c.gid("PurchaseOrder", "order"),
        stranger="other_core",
        user="core",  # only the buyer decides; the operator does not
    ),
    IdArg(
        "disputePurchaseOrder",
        "id",
        DISPUTE_ORDER,
        "purchaseOrder",
        lambda c, gid: {"id": gid, "note": "never delivered"},
        invisible=lambda c: c.gid("PurchaseOrder", "order"),
        wrong_type=lambda c: global_id("Document", c.ids["order"]),
        visible=lambda c: c.gid("PurchaseOrder", "order"),
        stranger="other_core",
        user="core",
    ),
    IdArg(
        "cancelWarehouseReceipt",
        "id",
        CANCEL_RECEIPT,
        "warehouseReceipt",
        lambda c, gid: {"id": gid, "reason": "goods released"},
        invisible=lambda c: c.gid("WarehouseReceipt", "receipt"),
        wrong_type=lambda c: global_id("PurchaseOrder", c.ids["receipt"]),
        visible=lambda c: c.gid("WarehouseReceipt", "receipt"),
        stranger="other_core",
        user="depot",  # only the warehouse cancels; the operator does not
    ),
    IdArg(
        "issueWarehouseReceipt",
        "ownerId",
        ISSUE_RECEIPT,
        "warehouseReceipt",
        _receipt_input,
        # A warehouse issues receipts for cargo owners it cannot see yet (by design), so the
        # hidden organization it may not name is one of another kind.
        invisible=lambda c: c.gid("Organization", "trade_org"),
        wrong_type=lambda c: global_id("Person", c.ids["cargo_owner"]),
        visible=lambda c: c.gid("Organization", "cargo_owner"),
        stranger="depot",
        user="depot",
    ),
    IdArg(
        "issueWarehouseReceipt",
        "warehouseId",
        ISSUE_RECEIPT,
        "warehouseReceipt",
        lambda c, gid: _receipt_input(c, c.gid("Organization", "cargo_owner"), gid),
        # Any organization but the caller's own is FORBIDDEN, before it is looked up.
        invisible=lambda c: c.gid("Organization", "trade_org"),
        wrong_type=lambda c: global_id("Person", c.ids["depot"]),
        visible=lambda c: c.gid("Organization", "depot"),
        stranger="depot",
        user="depot",
        refusal="FORBIDDEN",
    ),
    IdArg(
        "uploadDocument",
        "ownerId",
        UPLOAD_DOCUMENT,
        "document",
        lambda c, gid: _upload_input("INVOICE", ownerId=gid),
        # Any organization but the caller's own is FORBIDDEN, before it is looked up (the
        # operator's unknown owner: test_operator_upload_for_an_unknown_owner_stores_nothing).
        invisible=lambda c: c.gid("Organization", "cargo_owner"),
        wrong_type=lambda c: global_id("Tenant", c.ids["trade_org"]),
        visible=lambda c: c.gid("Organization", "trade_org"),
        stranger="seller",
        user="seller",
        refusal="FORBIDDEN",
        upload=True,
    ),
    IdArg(
        "uploadDocument",
        "purchaseOrderId",
        UPLOAD_DOCUMENT,
        "document",
        lambda c, gid: _upload_input("PURCHASE_ORDER", purchaseOrderId=gid),
        invisible=lambda c: c.gid("PurchaseOrder", "order"),
        wrong_type=lambda c: global_id("WarehouseReceipt", c.ids["order"]),
        visible=lambda c: c.gid("PurchaseOrder", "order"),
        stranger="other_core",
        user="seller",
        upload=True,
    ),
    IdArg(
        "uploadDocument",
        "warehouseReceiptId",
        UPLOAD_DOCUMENT,
        "document",
        lambda c, gid: _upload_input("INSPECTION_REPORT", warehouseReceiptId=gid),
        invisible=lambda c: c.gid("WarehouseReceipt", "receipt"),
        wrong_type=lambda c: global_id("PurchaseOrder", c.ids["receipt"]),
        visible=lambda c: c.gid("WarehouseReceipt", "receipt"),
        stranger="seller",
        user="depot",
        upload=True,
    ),
    IdArg(
        "attachDocument",
        "documentId",
        ATTACH_DOCUMENT,
        "document",
        lambda c, gid: {"documentId": gid, "purchaseOrderId": c.gid("PurchaseOrder", "order")},
        # The buyer sees the order, not the seller's document attached to nothing.
        invisible=lambda c: c.gid("Document", "seller_doc"),
        wrong_type=lambda c: global_id("PurchaseOrder", c.ids["seller_doc"]),
        visible=lambda c: c.gid("Document", "seller_doc"),
        stranger="core",
    ),
    IdArg(
        "attachDocument",
        "purchaseOrderId",
        ATTACH_DOCUMENT,
        "document",
        lambda c, gid: {"documentId": c.gid("Document", "depot_doc"), "purchaseOrderId": gid},
        # The warehouse attaching its own document to an order it cannot see.
        invisible=lambda c: c.gid("PurchaseOrder", "order"),
        wrong_type=lambda c: global_id("Document", c.ids["order"]),
        visible=lambda c: c.gid("PurchaseOrder", "order"),
        stranger="depot",
    ),
    IdArg(
        "attachDocument",
        "warehouseReceiptId",
        ATTACH_DOCUMENT,
        "document",
        lambda c, gid: {
            "documentId": c.gid("Document", "seller_doc"),
            "warehouseReceiptId": gid,
        },
        # The seller attaching its own document to a receipt it cannot see.
        invisible=lambda c: c.gid("WarehouseReceipt", "receipt"),
        wrong_type=lambda c: global_id("Document", c.ids["receipt"]),
        visible=lambda c: c.gid("WarehouseReceipt", "receipt"),
        stranger="seller",
    ),
]

CREATE_DEAL = _payload_document("createDeal", "CreateDealInput", "deal")
UPDATE_DEAL = _payload_document("updateDeal", "UpdateDealInput", "deal")
SUBMIT_DEAL = _payload_document("submitDeal", "SubmitDealInput", "deal")
WITHDRAW_DEAL = _payload_document("withdrawDeal", "WithdrawDealInput", "deal")


def _deal_input(c: Ctx, product: str, applicant: str, **ids: Any) -> dict[str, Any]:
    """An application to bank B's ``product`` for ``applicant`` (an organization's key)."""
    return {
        "productId": c.gid("Product", product),
        "applicantId": c.gid("Organization", applicant),
        "amount": {"amount": "50000.00", "currency": "CNY"},
        "term": 90 if product == "product_b_pledge" else 3,
        "purpose": "Working capital",
        **ids,
    }


DEAL_ID_ARGS = [
    IdArg(
        "createDeal",
        "productId",
        CREATE_DEAL,
        "deal",
        lambda c, gid: {
            "productId": gid,
            "amount": {"amount": "50000.00", "currency": "CNY"},
            "term": 12,
            "purpose": "Home renovation",
        },
        # A draft of bank B is nobody's to apply for.
        invisible=lambda c: c.gid("Product", "product_b_draft"),
        wrong_type=lambda c: global_id("Tenant", c.ids["product_b_published"]),
        visible=lambda c: c.gid("Product", "product_b_published"),
        stranger="applicant",
        user="applicant",
    ),
    IdArg(
        "createDeal",
        "applicantId",
        CREATE_DEAL,
        "deal",
        lambda c, gid: {
            "productId": c.gid("Product", "product_b_published"),
            "applicantId": gid,
            "amount": {"amount": "50000.00", "currency": "CNY"},
            "term": 12,
            "purpose": "Home renovation",
        },
        # A partner app applies only for the persons it acts for (the borrower who applied to
        # bank B authorised it); to it, anyone else does not exist.
        invisible=lambda c: c.gid("Person", "person"),
        wrong_type=lambda c: global_id("Tenant", c.ids["applicant_person"]),
        visible=lambda c: c.gid("Person", "applicant_person"),
        stranger="partner_app",
        user="partner_app",
    ),
    IdArg(
        "createDeal",
        "purchaseOrderId",
        CREATE_DEAL,
        "deal",
        lambda c, gid: _deal_input(c, "product_b_orders", "trade_org", purchaseOrderId=gid),
        # The seller's own order, which the partner app did not submit.
        invisible=lambda c: c.gid("PurchaseOrder", "order"),
        wrong_type=lambda c: global_id("WarehouseReceipt", c.ids["order"]),
        visible=lambda c: c.gid("PurchaseOrder", "order"),
        stranger="partner_app",
        user="seller",
    ),
    IdArg(
        "createDeal",
        "warehouseReceiptIds",
        CREATE_DEAL,
        "deal",
        lambda c, gid: _deal_input(c, "product_b_pledge", "cargo_owner", warehouseReceiptIds=[gid]),
        invisible=lambda c: c.gid("WarehouseReceipt", "receipt"),
        wrong_type=lambda c: global_id("PurchaseOrder", c.ids["receipt"]),
        visible=lambda c: c.gid("WarehouseReceipt", "receipt"),
        error_field="warehouseReceiptIds.0",
        stranger="partner_app",
        user="cargo_owner",
    ),
    IdArg(
        "updateDeal",
        "id",
        UPDATE_DEAL,
        "deal",
        lambda c, gid: {"id": gid, "purpose": "Kitchen and bathroom"},
        invisible=lambda c: c.gid("Deal", "deal_b"),
        wrong_type=lambda c: global_id("Product", c.ids["deal_b"]),
        visible=lambda c: c.gid("Deal", "deal_b"),
        stranger="partner_app",
        user="applicant",
    ),
    IdArg(
        "updateDeal",
        "purchaseOrderId",
        UPDATE_DEAL,
        "deal",
        lambda c, gid: {"id": c.gid("Deal", "deal_b_partner_order"), "purchaseOrderId": gid},
        # The partner's own application, naming the seller's order it cannot see; the seller
        # (the applicant) may.
        invisible=lambda c: c.gid("PurchaseOrder", "order"),
        wrong_type=lambda c: global_id("Document", c.ids["order"]),
        visible=lambda c: c.gid("PurchaseOrder", "order"),
        stranger="partner_app",
        user="seller",
    ),
    IdArg(
        "updateDeal",
        "warehouseReceiptIds",
        UPDATE_DEAL,
        "deal",
        lambda c, gid: {
            "id": c.gid("Deal", "deal_a_app_pledge"),
            "warehouseReceiptIds": [gid],
        },
        # Bank A's own app's application for the cargo owner, naming the owner's receipt,
        # which the funder cannot see (yet); the owner (the applicant) may.
        invisible=lambda c: c.gid("WarehouseReceipt", "receipt"),
        wrong_type=lambda c: global_id("Deal", c.ids["receipt"]),
        visible=lambda c: c.gid("WarehouseReceipt", "receipt"),
        error_field="warehouseReceiptIds.0",
        stranger="svc_a_wide",
        user="cargo_owner",
    ),
    IdArg(
        "submitDeal",
        "id",
        SUBMIT_DEAL,
        "deal",
        lambda c, gid: {"id": gid},
        invisible=lambda c: c.gid("Deal", "deal_b"),
        wrong_type=lambda c: global_id("Person", c.ids["deal_b"]),
        visible=lambda c: c.gid("Deal", "deal_b"),
        stranger="partner_app",
        user="applicant",
    ),
    IdArg(
        "withdrawDeal",
        "id",
        WITHDRAW_DEAL,
        "deal",
        lambda c, gid: {"id": gid, "reason": "changed my mind"},
        invisible=lambda c: c.gid("Deal", "deal_b"),
        wrong_type=lambda c: global_id("Organization", c.ids["deal_b"]),
        visible=lambda c: c.gid("Deal", "deal_b"),
        stranger="seller",
        user="applicant",
    ),
]

CLAIM_REVIEW = _payload_document("claimReview", "ClaimReviewInput", "deal")
RELEASE_REVIEW = _payload_document("releaseReview", "ReleaseReviewInput", "deal")
DECIDE_FIRST_REVIEW = _payload_document("decideFirstReview", "DecideFirstReviewInput", "deal")
DECIDE_SECOND_REVIEW = _payload_document("decideSecondReview", "DecideSecondReviewInput", "deal")


async def _user_id(state: AppState, email: str) -> uuid.UUID:
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        found = await s.execute(text("select id from users where email = :e"), {"e": email})
        return uuid.UUID(str(found.scalar_one()))


async def _reviewer_tokens(client: httpx.AsyncClient, ctx: Ctx) -> None:
    """Bank B's first reviewer, and the user on both banks' staff signed in to bank B, where
    the user is a second reviewer."""
    ctx.tokens["reviewer_b"] = await access_token(client, ctx.world.b.reviewer_email)
    ctx.tokens["shared_in_b"] = await access_token(client, SHARED_EMAIL, tenant="bank-b")


async def _deal_b_in_first_review(client: httpx.AsyncClient, ctx: Ctx) -> None:
    """Bank B's consumer deal submitted by the borrower, moved to FIRST_REVIEW by hand and
    its first review opened (intake's step, which has no use case yet)."""
    await _reviewer_tokens(client, ctx)
    state = ctx.state
    applicant = Borrower(
        ctx.ids["applicant_person"], await _user_id(state, APPLICANT_EMAIL), APPLICANT_EMAIL
    )
    outcome, errors = await submit(state, applicant.actor(), ctx.ids["deal_b"])
    assert outcome is not None, errors
    async with tenant_session(state, ctx.world.b.id) as s:
        deal = await deals_repository.deal(s, ctx.ids["deal_b"], for_update=True)
        assert deal is not None
        deal.status = DealStatus.FIRST_REVIEW
        await s.flush()
        await review_service.open_first_review(s, deal)
        await s.commit()


async def _as_reviewer_b(ctx: Ctx, use_case: Any, **kw: Any) -> None:
    """A use case of bank B's first reviewer on bank B's deal, committed."""
    actor = Actor(
        user_id=await _user_id(ctx.state, ctx.world.b.reviewer_email),
        client_id="test-console",
        tenant_id=ctx.world.b.id,
        scopes=frozenset(s.value for s in scopes_for_roles({Role.FIRST_REVIEWER})),
        roles=frozenset({Role.FIRST_REVIEWER}),
    )
    async with session_of(ctx.state, actor) as s:
        await use_case(s, actor, deal_id=ctx.ids["deal_b"], **kw)
        await s.commit()


async def _deal_b_first_review_claimed(client: httpx.AsyncClient, ctx: Ctx) -> None:
    await _deal_b_in_first_review(client, ctx)
    await _as_reviewer_b(ctx, review_service.claim_review, stage=ReviewStage.FIRST)


async def _deal_b_in_second_review(client: httpx.AsyncClient, ctx: Ctx) -> None:
    await _deal_b_in_first_review(client, ctx)
    await _as_reviewer_b(
        ctx, review_service.decide_first_review, decision=ReviewDecision.APPROVE, notes="ok"
    )


FINANCE_B_EMAIL = "finance@bank-b.test"
DISBURSE = _payload_document("disburse", "DisburseInput", "deal")


async def _deal_b_signed(client: httpx.AsyncClient, ctx: Ctx) -> None:
    """Bank B's deal approved by both reviews (the second by the user on both banks' staff,
    a second reviewer in bank B), then SIGNED in SQL in the platform's scope (no e-signature
    step exists yet), and bank B's finance officer's token."""
    await _deal_b_in_second_review(client, ctx)
    second = Actor(
        user_id=await _user_id(ctx.state, SHARED_EMAIL),
        client_id="test-console",
        tenant_id=ctx.world.b.id,
        scopes=frozenset(s.value for s in scopes_for_roles({Role.SECOND_REVIEWER})),
        roles=frozenset({Role.SECOND_REVIEWER}),
    )
    async with session_of(ctx.state, second) as s:
        await review_service.decide_second_review(
            s, second, deal_id=ctx.ids["deal_b"], decision=ReviewDecision.APPROVE, notes="ok"
        )
        await s.commit()
    async with open_session(ctx.state.sessions, PLATFORM_SCOPE) as s:
        for status in ("SIGNING", "SIGNED"):
            await s.execute(
                text("update deals set status = :s where id = :d"),
                {"s": status, "d": ctx.ids["deal_b"]},
            )
        await tenant_service.create_user(
            s,
            SEEDER,
            email=FINANCE_B_EMAIL,
            display_name="Finance B",
            roles=[Role.FINANCE_OFFICER.value],
            tenant_id=ctx.world.b.id,
            password="correct-horse-battery",
        )
        await s.commit()
    ctx.tokens["finance_b"] = await access_token(client, FINANCE_B_EMAIL)


async def _stub_pledge(
    ctx: Ctx, tenant: uuid.UUID, product: uuid.UUID, *, confirmed: bool, withdrawn: bool
) -> uuid.UUID:
    """Set-up in SQL (platform scope): a stub pledge deal of ``tenant`` naming the chain's
    receipt and its pledge, REGISTERED (or CUSTODY_CONFIRMED), the deal WITHDRAWN when
    ``withdrawn`` (ended without a loan, so the pledge may be released)."""
    deal = uuid.uuid4()
    receipt = ctx.ids["receipt"]
    async with open_session(ctx.state.sessions, PLATFORM_SCOPE) as s:
        await s.execute(
            text(
                "insert into deals (tenant_id, id, product_id, product_version, product_line,"
                " status, channel, channel_client_id, applicant_organization_id, currency,"
                " amount_minor, term, term_unit, purpose, warehouse_receipt_ids)"
                " select :t, :d, :p, 1, 'WAREHOUSE_RECEIPT_PLEDGE', 'DRAFT', 'DIRECT',"
                " 'stub-client', r.owner_organization_id, 'CNY', 100000, 90, 'DAY', 'stub',"
                " array[r.id] from warehouse_receipts r where r.id = :r"
            ),
            {"t": tenant, "d": deal, "p": product, "r": receipt},
        )
        await s.execute(
            text(
                "insert into pledges (tenant_id, id, deal_id, receipt_id,"
                " warehouse_organization_id, max_attempts) select :t, gen_random_uuid(), :d,"
                " r.id, r.warehouse_organization_id, 8 from warehouse_receipts r where r.id = :r"
            ),
            {"t": tenant, "d": deal, "r": receipt},
        )
        await s.execute(
            text(
                "update pledges set status = 'REGISTERED', registration_id = :g,"
                " filing_number = :g, registered_at = now() where deal_id = :d"
            ),
            {"d": deal, "g": f"RG-{deal.hex[:12]}"},
        )
        if confirmed:
            # Who confirmed is any user here (the use case records the warehouse's).
            await s.execute(
                text(
                    "update pledges set status = 'CUSTODY_CONFIRMED', confirmed_at = now(),"
                    " confirmed_by_user_id = (select id from users order by id limit 1)"
                    " where deal_id = :d"
                ),
                {"d": deal},
            )
        if withdrawn:
            await s.execute(
                text("update deals set status = 'WITHDRAWN', withdrawn_at = now() where id = :d"),
                {"d": deal},
            )
        await s.commit()
    return deal


async def _registered_pledge(client: httpx.AsyncClient, ctx: Ctx) -> None:
    """Bank A's pledge of the chain's receipt, REGISTERED: the warehouse may confirm it."""
    await _stub_pledge(
        ctx, ctx.world.a.id, ctx.ids["product_a_pledge"], confirmed=False, withdrawn=False
    )


async def _releasable_pledge(client: httpx.AsyncClient, ctx: Ctx) -> None:
    """Bank B's pledge of the chain's receipt, custody-confirmed, of a deal that ended
    without a loan, and bank B's finance officer's token."""
    ctx.ids["deal_b_pledge"] = await _stub_pledge(
        ctx, ctx.world.b.id, ctx.ids["product_b_orders"], confirmed=True, withdrawn=True
    )
    async with open_session(ctx.state.sessions, PLATFORM_SCOPE) as s:
        await tenant_service.create_user(
            s,
            SEEDER,
            email=FINANCE_B_EMAIL,
            display_name="Finance B",
            roles=[Role.FINANCE_OFFICER.value],
            tenant_id=ctx.world.b.id,
            password="correct-horse-battery",
        )
        await s.commit()
    ctx.tokens["finance_b"] = await access_token(client, FINANCE_B_EMAIL)


CONFIRM_PLEDGE = (
    "mutation($input: ConfirmPledgeCustodyInput!) { confirmPledgeCustody(input: $input)"
    " { pledge { status } userErrors { field code message } } }"
)
RELEASE_PLEDGE = (
    "mutation($input: ReleasePledgeInput!) { releasePledge(input: $input)"
    " { pledge { status } userErrors { field code message } } }"
)
PLEDGE_ID_ARGS = [
    IdArg(
        "confirmPledgeCustody",
        "warehouseReceiptId",
        CONFIRM_PLEDGE,
        "pledge",
        lambda c, gid: {"warehouseReceiptId": gid},
        # Another core enterprise's user (collateral:write) sees neither receipt nor pledge.
        invisible=lambda c: c.gid("WarehouseReceipt", "receipt"),
        wrong_type=lambda c: global_id("PurchaseOrder", c.ids["receipt"]),
        visible=lambda c: c.gid("WarehouseReceipt", "receipt"),
        stranger="other_core",
        user="depot",  # only the receipt's warehouse confirms; the operator does not
        prepare=_registered_pledge,
    ),
    IdArg(
        "releasePledge",
        "dealId",
        RELEASE_PLEDGE,
        "pledge",
        lambda c, gid: {
            "dealId": gid,
            "warehouseReceiptId": c.gid("WarehouseReceipt", "receipt"),
        },
        # Bank A's wide service account, naming bank B's deal.
        invisible=lambda c: c.gid("Deal", "deal_b_pledge"),
        wrong_type=lambda c: global_id("Person", c.ids["deal_b_pledge"]),
        visible=lambda c: c.gid("Deal", "deal_b_pledge"),
        stranger="svc_a_wide",
        user="finance_b",
        prepare=_releasable_pledge,
    ),
    IdArg(
        "releasePledge",
        "warehouseReceiptId",
        RELEASE_PLEDGE,
        "pledge",
        lambda c, gid: {
            # Not set up for the malformed-ID case, which is refused before anything runs.
            "dealId": global_id("Deal", c.ids.get("deal_b_pledge", uuid.uuid4())),
            "warehouseReceiptId": gid,
        },
        invisible=lambda c: c.gid("WarehouseReceipt", "receipt"),
        wrong_type=lambda c: global_id("PurchaseOrder", c.ids["receipt"]),
        visible=lambda c: c.gid("WarehouseReceipt", "receipt"),
        # The deal's own funder names a receipt its deal did not pledge: not found.
        error_field="dealId",
        stranger="svc_a_wide",
        user="finance_b",
        prepare=_releasable_pledge,
    ),
]


def _first_stage_arg(mutation: str, document: str, prepare: Any, **extra: Any) -> IdArg:
    """A first review's ``dealId``: bank B's first reviewer may use bank B's deal in review;
    to bank A's first reviewer it does not exist."""
    return IdArg(
        mutation,
        "dealId",
        document,
        "deal",
        lambda c, gid: {"dealId": gid, **extra},
        invisible=lambda c: c.gid("Deal", "deal_b"),
        wrong_type=lambda c: global_id("Product", c.ids["deal_b"]),
        visible=lambda c: c.gid("Deal", "deal_b"),
        stranger="shared_in_a",
        user="reviewer_b",
        prepare=prepare,
    )


REVIEW_ID_ARGS = [
    _first_stage_arg("claimReview", CLAIM_REVIEW, _deal_b_in_first_review, stage="FIRST"),
    _first_stage_arg("releaseReview", RELEASE_REVIEW, _deal_b_first_review_claimed, stage="FIRST"),
    _first_stage_arg(
        "decideFirstReview",
        DECIDE_FIRST_REVIEW,
        _deal_b_in_first_review,
        decision="APPROVE",
        notes="Verified",
    ),
    IdArg(
        "decideSecondReview",
        "dealId",
        DECIDE_SECOND_REVIEW,
        "deal",
        lambda c, gid: {"dealId": gid, "decision": "APPROVE", "notes": "Approved"},
        # Bank B's second reviewer, naming bank A's deal.
        invisible=lambda c: c.gid("Deal", "deal_a_app_pledge"),
        wrong_type=lambda c: global_id("Person", c.ids["deal_b"]),
        visible=lambda c: c.gid("Deal", "deal_b"),
        stranger="shared_in_b",
        user="shared_in_b",
        prepare=_deal_b_in_second_review,
    ),
    IdArg(
        "disburse",
        "dealId",
        DISBURSE,
        "deal",
        lambda c, gid: {
            "dealId": gid,
            "idempotencyKey": f"isolation-{uuid.uuid4()}",
            "beneficiary": {
                "name": "Borrower B",
                "accountNumber": "6222020200112233445",
                "bankCode": "102100099996",
            },
        },
        # Bank B's finance officer, naming bank A's deal.
        invisible=lambda c: c.gid("Deal", "deal_a_app_pledge"),
        wrong_type=lambda c: global_id("Person", c.ids["deal_b"]),
        visible=lambda c: c.gid("Deal", "deal_b"),
        stranger="finance_b",
        user="finance_b",
        prepare=_deal_b_signed,
    ),
]

PREPARE_CONTRACT = (
    "mutation($input: PrepareContractInput!) { prepareContract(input: $input) "
    "{ contract { version sha256 } userErrors { field code message } } }"
)


async def _deal_b_approved(client: httpx.AsyncClient, ctx: Ctx) -> None:
    """Bank B's deal past both reviews: APPROVED by the shared user, bank B's second
    reviewer."""
    await _deal_b_in_second_review(client, ctx)
    actor = Actor(
        user_id=ctx.ids["shared_user"],
        client_id="test-console",
        tenant_id=ctx.world.b.id,
        scopes=frozenset(s.value for s in scopes_for_roles({Role.SECOND_REVIEWER})),
        roles=frozenset({Role.SECOND_REVIEWER}),
    )
    async with session_of(ctx.state, actor) as s:
        await review_service.decide_second_review(
            s, actor, deal_id=ctx.ids["deal_b"], decision=ReviewDecision.APPROVE, notes="ok"
        )
        await s.commit()


SEND_CONTRACT_FOR_SIGNING = (
    "mutation($input: SendContractForSigningInput!) { sendContractForSigning(input: $input) "
    "{ deal { id status } contract { status signedSha256 signers { role order status "
    "signedAt } } userErrors { field code message } } }"
)


async def _deal_b_contract_prepared(client: httpx.AsyncClient, ctx: Ctx) -> None:
    """Bank B's deal APPROVED, with its contract prepared by bank B's admin."""
    from datetime import date

    from api.contracts.mutations import contract_renderer
    from domain.contracts import service as contract_service

    await _deal_b_approved(client, ctx)
    admin = Actor(
        user_id=ctx.world.b.admin_user_id,
        client_id="test-console",
        tenant_id=ctx.world.b.id,
        scopes=frozenset(s.value for s in scopes_for_roles({Role.FUNDER_ADMIN})),
        roles=frozenset({Role.FUNDER_ADMIN}),
    )
    async with session_of(ctx.state, admin) as s:
        await contract_service.prepare_contract(
            s,
            admin,
            deal_id=ctx.ids["deal_b"],
            renderer=contract_renderer(),
            store=ctx.state.storage,
            cipher=ctx.state.cipher,
            value_date=date(2030, 1, 15),
        )
        await s.commit()


CONTRACT_ID_ARGS = [
    IdArg(
        # Bank B's admin prepares the contract of bank B's approved deal; to bank A's admin
        # (who may prepare contracts too) the deal does not exist.
        "prepareContract",
        "dealId",
        PREPARE_CONTRACT,
        "contract",
        lambda c, gid: {"dealId": gid},
        invisible=lambda c: c.gid("Deal", "deal_b"),
        wrong_type=lambda c: global_id("Person", c.ids["deal_b"]),
        visible=lambda c: c.gid("Deal", "deal_b"),
        stranger="admin_a",
        user="admin_b",
        prepare=_deal_b_approved,
    ),
    IdArg(
        # Bank B's admin sends the prepared contract for signing; to bank A's admin the deal
        # does not exist.
        "sendContractForSigning",
        "dealId",
        SEND_CONTRACT_FOR_SIGNING,
        "deal",
        lambda c, gid: {"dealId": gid},
        invisible=lambda c: c.gid("Deal", "deal_b"),
        wrong_type=lambda c: global_id("Person", c.ids["deal_b"]),
        visible=lambda c: c.gid("Deal", "deal_b"),
        stranger="admin_a",
        user="admin_b",
        prepare=_deal_b_contract_prepared,
    ),
]

ID_ARGS = [
    IdArg(
        "createUser",
        "tenantId",
        CREATE_USER,
        "user",
        lambda c, gid: {
            "email": "new@bank.test",
            "displayName": "New",
            "roles": ["FIRST_REVIEWER"],
            "tenantId": gid,
        },
        invisible=lambda c: c.gid("Tenant", "tenant_b"),
        wrong_type=lambda c: global_id("Organization", c.ids["tenant_b"]),
        visible=lambda c: c.gid("Tenant", "tenant_b"),
    ),
    IdArg(
        "createUser",
        "personId",
        CREATE_USER,
        "user",
        lambda c, gid: {
            "email": "borrower@people.test",
            "displayName": "Borrower",
            "roles": ["BORROWER"],
            "personId": gid,
        },
        invisible=lambda c: c.gid("Person", "person"),
        wrong_type=lambda c: global_id("Organization", c.ids["person"]),
        visible=lambda c: c.gid("Person", "person"),
    ),
    IdArg(
        "createUser",
        "organizationId",
        CREATE_USER,
        "user",
        lambda c, gid: {
            "email": "trader@orgs.test",
            "displayName": "Trader",
            "roles": ["CORE_ENTERPRISE_USER"],
            "organizationId": gid,
        },
        invisible=lambda c: c.gid("Organization", "trade_org"),
        wrong_type=lambda c: global_id("Person", c.ids["core_org"]),
        visible=lambda c: c.gid("Organization", "trade_org"),
    ),
    IdArg(
        "createOAuthClient",
        "tenantId",
        CREATE_CLIENT,
        "client",
        lambda c, gid: {
            "name": "new svc",
            "kind": "SERVICE_ACCOUNT",
            "scopes": ["viewer:read"],
            "tenantId": gid,
        },
        invisible=lambda c: c.gid("Tenant", "tenant_b"),
        wrong_type=lambda c: global_id("OAuthClient", c.ids["tenant_b"]),
        visible=lambda c: c.gid("Tenant", "tenant_b"),
    ),
    IdArg(
        "createOAuthClient",
        "organizationId",
        CREATE_CLIENT,
        "client",
        lambda c, gid: {
            "name": "new partner",
            "kind": "PARTNER_APP",
            "scopes": ["viewer:read"],
            "organizationId": gid,
        },
        # The partner organization is public, so bank A's writer sees it: use a hidden one.
        invisible=lambda c: c.gid("Organization", "trade_org"),
        wrong_type=lambda c: global_id("Tenant", c.ids["partner_org"]),
        visible=lambda c: c.gid("Organization", "partner_org"),
    ),
    IdArg(
        "disableUser",
        "id",
        DISABLE_USER,
        "user",
        lambda c, gid: {"id": gid},
        invisible=lambda c: c.gid("User", "admin_b"),
        wrong_type=lambda c: global_id("OAuthClient", c.ids["admin_b"]),
        visible=lambda c: c.gid("User", "admin_b"),
    ),
    IdArg(
        "setTenantStatus",
        "id",
        SET_TENANT_STATUS,
        "tenant",
        lambda c, gid: {"id": gid, "status": "DISABLED"},
        invisible=lambda c: c.gid("Tenant", "tenant_b"),
        wrong_type=lambda c: global_id("User", c.ids["tenant_b"]),
        visible=lambda c: c.gid("Tenant", "tenant_b"),
    ),
    IdArg(
        # A party names a funder it sees (a listed one) as its agent; the unlisted one does
        # not exist to it.
        "authorizeAgent",
        "agentId",
        AUTHORIZE_AGENT,
        "authorization",
        lambda c, gid: {"agentId": gid},
        invisible=lambda c: c.gid("Tenant", "tenant_c"),
        wrong_type=lambda c: global_id("Deal", c.ids["tenant_b"]),
        visible=lambda c: c.gid("Tenant", "tenant_a"),
        stranger="applicant",
        user="applicant",
    ),
    IdArg(
        # Only the operator names another party; anyone else authorises for itself.
        "authorizeAgent",
        "partyId",
        AUTHORIZE_AGENT,
        "authorization",
        lambda c, gid: {"agentId": c.gid("Tenant", "tenant_a"), "partyId": gid},
        invisible=lambda c: c.gid("Person", "person"),
        wrong_type=lambda c: global_id("Tenant", c.ids["person"]),
        visible=lambda c: c.gid("Person", "applicant_person"),
        stranger="applicant",
        user="applicant",
        refusal="FORBIDDEN",
    ),
    IdArg(
        # The borrower ends its relationship with bank B; it has none with bank C.
        "revokeAgentAuthorization",
        "agentId",
        REVOKE_AGENT,
        "authorization",
        lambda c, gid: {"agentId": gid},
        invisible=lambda c: c.gid("Tenant", "tenant_c"),
        wrong_type=lambda c: global_id("User", c.ids["tenant_b"]),
        visible=lambda c: c.gid("Tenant", "tenant_b"),
        stranger="applicant",
        user="applicant",
    ),
    IdArg(
        # An agent (or the operator) names the party; another party's relationship with the
        # agent is nobody else's to end.
        "revokeAgentAuthorization",
        "partyId",
        REVOKE_AGENT,
        "authorization",
        lambda c, gid: {"agentId": c.gid("Tenant", "tenant_b"), "partyId": gid},
        invisible=lambda c: c.gid("Person", "person"),
        wrong_type=lambda c: global_id("Tenant", c.ids["person"]),
        visible=lambda c: c.gid("Person", "applicant_person"),
        stranger="applicant",
    ),
    IdArg(
        "disableOAuthClient",
        "id",
        DISABLE_CLIENT,
        "client",
        lambda c, gid: {"id": gid},
        invisible=lambda c: c.gid("OAuthClient", "svc_client_b"),
        wrong_type=lambda c: global_id("User", c.ids["svc_client_b"]),
        visible=lambda c: c.gid("OAuthClient", "svc_client_b"),
    ),
    IdArg(
        "createProduct",
        "tenantId",
        CREATE_PRODUCT,
        "product",
        lambda c, gid: {
            "productLine": "CONSUMER_CREDIT",
            "name": "New product",
            "terms": _terms("CONSUMER_CREDIT"),
            "tenantId": gid,
        },
        invisible=lambda c: c.gid("Tenant", "tenant_b"),
        wrong_type=lambda c: global_id("Organization", c.ids["tenant_b"]),
        visible=lambda c: c.gid("Tenant", "tenant_b"),
    ),
    IdArg(
        "updateProduct",
        "id",
        UPDATE_PRODUCT,
        "product",
        lambda c, gid: {"id": gid, "name": "Renamed"},
        invisible=lambda c: c.gid("Product", "product_b_draft"),
        wrong_type=lambda c: global_id("Tenant", c.ids["product_b_draft"]),
        visible=lambda c: c.gid("Product", "product_b_draft"),
    ),
    IdArg(
        "publishProduct",
        "id",
        PUBLISH_PRODUCT,
        "product",
        lambda c, gid: {"id": gid},
        invisible=lambda c: c.gid("Product", "product_b_draft"),
        wrong_type=lambda c: global_id("OAuthClient", c.ids["product_b_draft"]),
        visible=lambda c: c.gid("Product", "product_b_draft"),
    ),
    IdArg(
        "retireProduct",
        "id",
        RETIRE_PRODUCT,
        "product",
        lambda c, gid: {"id": gid},
        # Published, so readable in the marketplace, but not bank A's to change.
        invisible=lambda c: c.gid("Product", "product_b_published"),
        wrong_type=lambda c: global_id("User", c.ids["product_b_published"]),
        visible=lambda c: c.gid("Product", "product_b_published"),
    ),
    _product_terms_arg("createProduct", "ORDER_FINANCING", ELIGIBLE, "core_org", None),
    _product_terms_arg("createProduct", "WAREHOUSE_RECEIPT_PLEDGE", ACCEPTED, "warehouse", None),
    _product_terms_arg("updateProduct", "ORDER_FINANCING", ELIGIBLE, "core_org", "product_a_order"),
    _product_terms_arg(
        "updateProduct", "WAREHOUSE_RECEIPT_PLEDGE", ACCEPTED, "warehouse", "product_a_warehouse"
    ),
    *SUPPLY_CHAIN_ID_ARGS,
    *DEAL_ID_ARGS,
    *REVIEW_ID_ARGS,
    *CONTRACT_ID_ARGS,
    *PLEDGE_ID_ARGS,
]

SNAPSHOT_TABLES = (
    "tenants",
    "users",
    "memberships",
    "oauth_clients",
    "organizations",
    "persons",
    "products",
    "product_versions",
    "audit_log",
    "events",
    "purchase_orders",
    "warehouse_receipts",
    "receipt_claims",
    "documents",
    "deals",
    "purchase_order_claims",
    "deal_reviews",
    "contracts",
)
STATUS_TABLES = (
    "users",
    "oauth_clients",
    "tenants",
    "products",
    "purchase_orders",
    "warehouse_receipts",
    "deals",
    "pledges",
)


async def _snapshot(owner_engine: AsyncEngine, state: AppState) -> dict[str, Any]:
    """Row counts, statuses, product names and what each document is attached to, read below
    row-level security, and the objects in document storage."""
    async with owner_engine.begin() as conn:
        await conn.execute(text("select set_config('app.platform', 'on', true)"))
        out: dict[str, Any] = {}
        for table in SNAPSHOT_TABLES:
            out[table] = (await conn.execute(text(f"select count(*) from {table}"))).scalar_one()
        for table in STATUS_TABLES:
            rows = await conn.execute(text(f"select id::text, status from {table} order by id"))
            out[f"{table}.status"] = [tuple(r) for r in rows]
        rows = await conn.execute(text("select id::text, name from products order by id"))
        out["products.name"] = [tuple(r) for r in rows]
        rows = await conn.execute(
            text(
                "select id::text, purchase_order_id::text, warehouse_receipt_id::text"
                " from documents order by id"
            )
        )
        out["documents.subject"] = [tuple(r) for r in rows]
        rows = await conn.execute(
            text(
                "select deal_id::text, stage, round, assignee_id::text, decision"
                " from deal_reviews order by deal_id, round, stage"
            )
        )
        out["deal_reviews.held"] = [tuple(r) for r in rows]
    out["objects"] = stored_objects(state)
    return out


async def _refused_not_found(
    client: httpx.AsyncClient,
    owner_engine: AsyncEngine,
    token: str,
    *,
    arg: IdArg,
    gid: str,
    ctx: Ctx,
    code: str = "NOT_FOUND",
) -> list[dict[str, Any]]:
    """The one user error (of ``code``, naming the argument) refusing ``gid``; nothing
    written."""
    before = await _snapshot(owner_engine, ctx.state)
    response = await arg.send(client, token, arg.input(ctx, gid))
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    payload = body["data"][arg.mutation]
    assert payload[arg.payload] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(arg.field, code)], payload
    assert await _snapshot(owner_engine, ctx.state) == before
    errors: list[dict[str, Any]] = payload["userErrors"]
    return errors


ID_ARGUMENTS_QUERY = """
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { name } } } }
{ __schema {
    mutationType { fields { name args { name type { ...T } } } }
    types { name kind inputFields { name type { ...T } } }
} }"""


async def test_every_id_argument_has_a_refusal_case(client: httpx.AsyncClient, ctx: Ctx) -> None:
    response = await gql(client, ctx.tokens["platform"], ID_ARGUMENTS_QUERY)
    schema = response.json()["data"]["__schema"]
    inputs = {t["name"]: t for t in schema["types"] if t["kind"] == "INPUT_OBJECT"}

    def named(t: dict[str, Any]) -> str:
        while t.get("ofType"):
            t = t["ofType"]
        return str(t["name"])

    def id_paths(type_name: str, prefix: str, seen: frozenset[str]) -> set[str]:
        # Every ID (or list of IDs) inside an input type, nested input types included: the
        # Relay ID and the typed ID scalars (DealID, PartyID, ...).
        if type_name.endswith("ID"):
            return {prefix}
        if type_name not in inputs or type_name in seen:
            return set()
        out: set[str] = set()
        for sub in inputs[type_name]["inputFields"]:
            path = f"{prefix}.{sub['name']}" if prefix else sub["name"]
            out |= id_paths(named(sub["type"]), path, seen | {type_name})
        return out

    found: set[str] = set()
    for field in schema["mutationType"]["fields"]:
        for arg in field["args"]:
            # The one ``input`` argument is left out of the path.
            prefix = "" if arg["name"] == "input" else arg["name"]
            found |= {
                f"{field['name']}.{p}" for p in id_paths(named(arg["type"]), prefix, frozenset())
            }
    covered = {a.name for a in ID_ARGS}
    assert found, "introspection found no ID arguments"
    assert not found - covered, f"ID arguments without a refusal case: {found - covered}"
    assert not covered - found, f"stale cases: {covered - found}"


def _right_type(arg: IdArg, ctx: Ctx) -> str:
    return base64.b64decode(arg.visible(ctx)).decode().split(":")[0]


def _with_known_bugs(args: list[IdArg]) -> list[Any]:
    return [
        pytest.param(a, marks=pytest.mark.xfail(strict=True, reason=a.known_bug))
        if a.known_bug
        else a
        for a in args
    ]


@pytest.mark.parametrize("arg", _with_known_bugs(ID_ARGS), ids=lambda a: a.name)
async def test_id_argument_refuses_objects_the_caller_may_not_see(
    client: httpx.AsyncClient, owner_engine: AsyncEngine, ctx: Ctx, arg: IdArg
) -> None:
    await arg.ready(client, ctx)
    token = ctx.tokens[arg.stranger]
    hidden_id = arg.invisible(ctx)
    hidden = await _refused_not_found(
        client, owner_engine, token, arg=arg, gid=hidden_id, ctx=ctx, code=arg.refusal
    )
    # And the hidden object reads exactly like one that does not exist (but for the ID itself
    # where a message repeats it).
    unknown_id = global_id(_right_type(arg, ctx), uuid.uuid4())
    unknown = await _refused_not_found(
        client, owner_engine, token, arg=arg, gid=unknown_id, ctx=ctx, code=arg.refusal
    )
    assert _masked(hidden, hidden_id) == _masked(unknown, unknown_id)


def _masked(errors: list[dict[str, Any]], gid: str) -> list[dict[str, Any]]:
    """``errors`` with the UUID inside ``gid`` replaced by a placeholder."""
    pk = base64.b64decode(gid).decode().split(":", 1)[1]
    return [{k: str(v).replace(pk, "<id>") for k, v in e.items()} for e in errors]


@pytest.mark.parametrize("arg", ID_ARGS, ids=lambda a: a.name)
async def test_id_argument_refuses_wrong_types_and_unknown_ids(
    client: httpx.AsyncClient, owner_engine: AsyncEngine, ctx: Ctx, arg: IdArg
) -> None:
    # The user (the operator unless the mutation is one party's) sees every object here:
    # the refusal is the ID's, not the caller's.
    await arg.ready(client, ctx)
    token = ctx.tokens[arg.user]
    if arg.mutation in SHARED_ID_SCALAR:
        # One scalar (UserOrClientID) for two types: the other type's ID is coerced, and the
        # use case finds nothing.
        await _refused_not_found(
            client, owner_engine, token, arg=arg, gid=arg.wrong_type(ctx), ctx=ctx
        )
    else:
        await _refused_when_coerced(
            client, owner_engine, token, arg=arg, gid=arg.wrong_type(ctx), ctx=ctx
        )
    right_type = _right_type(arg, ctx)
    await _refused_not_found(
        client,
        owner_engine,
        token,
        arg=arg,
        gid=global_id(right_type, uuid.uuid4()),
        ctx=ctx,
        code=arg.refusal,
    )
    await _refused_when_coerced(
        client, owner_engine, token, arg=arg, gid=_b64(f"{right_type}:123"), ctx=ctx
    )


#: Mutations whose ID field's scalar accepts more than the one type the use case takes.
SHARED_ID_SCALAR = ("disableUser", "disableOAuthClient")


async def _refused_when_coerced(
    client: httpx.AsyncClient,
    owner_engine: AsyncEngine,
    token: str,
    *,
    arg: IdArg,
    gid: str,
    ctx: Ctx,
) -> None:
    """The refusal of ``gid`` by the argument's ID scalar while the variables are coerced: a
    400 without data, with the code BAD_USER_INPUT; nothing written."""
    before = await _snapshot(owner_engine, ctx.state)
    response = await arg.send(client, token, arg.input(ctx, gid))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["data"] is None, body
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}, body
    assert "cannot represent" in error["message"], body
    assert await _snapshot(owner_engine, ctx.state) == before


@pytest.mark.parametrize("arg", ID_ARGS, ids=lambda a: a.name)
async def test_id_argument_accepts_a_visible_object(
    client: httpx.AsyncClient, owner_engine: AsyncEngine, ctx: Ctx, arg: IdArg
) -> None:
    # The positive control: the same input with an ID the user may use is accepted.
    await arg.ready(client, ctx)
    before = await _snapshot(owner_engine, ctx.state)
    response = await arg.send(client, ctx.tokens[arg.user], arg.input(ctx, arg.visible(ctx)))
    body = response.json()
    assert response.status_code == 200, body
    payload = body["data"][arg.mutation]
    assert payload["userErrors"] == []
    assert payload[arg.payload] is not None
    assert await _snapshot(owner_engine, ctx.state) != before


@pytest.mark.parametrize("arg", ID_ARGS, ids=lambda a: a.name)
async def test_id_argument_malformed_is_a_clear_error(
    client: httpx.AsyncClient, owner_engine: AsyncEngine, ctx: Ctx, arg: IdArg
) -> None:
    before = await _snapshot(owner_engine, ctx.state)
    response = await arg.send(client, ctx.tokens["platform"], arg.input(ctx, "!!!"))
    # Refused by the argument's ID scalar while the variables are coerced: nothing ran.
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert 'cannot represent "!!!": not a global ID' in error["message"], body
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert await _snapshot(owner_engine, ctx.state) == before


async def _operator_upload_for_an_unknown_owner(
    client: httpx.AsyncClient, owner_engine: AsyncEngine, ctx: Ctx
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The snapshots around the operator's upload naming an unknown owning organization,
    and its payload."""
    arg = next(a for a in ID_ARGS if a.name == "uploadDocument.ownerId")
    before = await _snapshot(owner_engine, ctx.state)
    gid = global_id("Organization", uuid.uuid4())
    response = await arg.send(client, ctx.tokens["platform"], arg.input(ctx, gid))
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return before, await _snapshot(owner_engine, ctx.state), body["data"][arg.mutation]


async def test_operator_upload_for_an_unknown_owner_is_not_found(
    client: httpx.AsyncClient, owner_engine: AsyncEngine, ctx: Ctx
) -> None:
    # The operator names the owning organization (others may name only their own, see
    # ID_ARGS): an unknown one is NOT_FOUND and no row is written.
    before, after, payload = await _operator_upload_for_an_unknown_owner(client, owner_engine, ctx)
    assert payload["document"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [("ownerId", "NOT_FOUND")]
    before.pop("objects")
    after.pop("objects")
    assert after == before


async def test_operator_upload_for_an_unknown_owner_stores_nothing(
    client: httpx.AsyncClient, owner_engine: AsyncEngine, ctx: Ctx
) -> None:
    before, after, _ = await _operator_upload_for_an_unknown_owner(client, owner_engine, ctx)
    assert after["objects"] == before["objects"]
