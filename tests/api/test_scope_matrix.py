"""The scope matrix: every mutation of the schema (found by introspection, so a new mutation
without an entry here fails the suite) refuses a token without its scope - a FORBIDDEN GraphQL
error, a null field and nothing written - and accepts a token with exactly its scope. The
operator's mutations (tenancy and parties) also need ``platform:admin``, without which
row-level security lets no one write those rows; a funder's (products) act in its tenant; a
party's (deciding a purchase order, issuing or cancelling a warehouse receipt) belong to one
organization's users, and no scope - ``platform:admin`` included - stands in for being that
party.

Reads: each Node type by ID needs its read scope, and each root query field (found by
introspection) is refused - FORBIDDEN, no data - to a token holding every scope but one it
needs (``QUERY_SCOPES``). Subscriptions are refused without deals:read at subscribe time
(tests/api/test_live_status.py).

Tokens carry exactly the scopes a test names: a password grant through the console client
narrows the token to the requested ``scope``."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from stdnum.cn import ric, uscc

from api.state import AppState
from domain.calendars import service as calendar_service
from domain.deals import repository as deals_repository
from domain.deals.models import DealStatus
from domain.kernel.actor import Actor
from domain.kernel.calendar import HolidayCalendar
from domain.kernel.money import Money
from domain.kernel.scopes import SERVICE_ACCOUNT_SCOPES, Role, Scope, scopes_for_roles
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from domain.products import service as product_service
from domain.products.models import ProductLine
from domain.reviews import service as review_service
from domain.reviews.models import ReviewDecision, ReviewStage
from lendgraph.demo import SEEDER
from tenants import service as tenant_service
from tenants.models import ClientKind
from tests.api.test_auth_everywhere import call, refusal_code, root_calls
from tests.collateral_support import (
    Chain,
    OrgUser,
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
from tests.deals_support import CONSENT, apply, confirm_order, line_terms, publish, submit
from tests.loans_support import seed_loans
from tests.products_support import consumer_terms
from tests.support import (
    PASSWORD,
    World,
    client_token,
    global_id,
    gql,
    password_token,
    relate,
    seed_world,
    without_cost,
)

ALL_SCOPES = frozenset(s.value for s in Scope)
FUNDER_ADMIN_SCOPES = frozenset(s.value for s in scopes_for_roles({Role.FUNDER_ADMIN}))


def valid_social_credit_code(n: int) -> str:
    base = f"91110000MA01ABC{n:02d}"
    return base + str(uscc.calc_check_digit(base))


def valid_resident_id(n: int) -> str:
    base = f"11010519900307{n:03d}"
    return base + str(ric.calc_check_digit(base + "0"))


async def user_token(client: httpx.AsyncClient, email: str, scopes: set[str]) -> str:
    """A user's token (password grant) carrying exactly ``scopes``."""
    response = await password_token(client, email, scope=" ".join(sorted(scopes)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["scope"].split()) == scopes
    return str(body["access_token"])


async def scoped_token(
    client: httpx.AsyncClient, world: World, scopes: set[str], *, funder: bool = False
) -> str:
    """A platform admin's (or bank A's funder admin's) token carrying exactly ``scopes``."""
    return await user_token(client, world.a.admin_email if funder else world.admin_email, scopes)


async def service_token(
    client: httpx.AsyncClient, state: AppState, tenant_id: uuid.UUID, scopes: set[str]
) -> str:
    """A service account of ``tenant_id`` registered with, and holding, exactly ``scopes``."""
    creds = ("matrix-svc", "matrix-svc-secret")
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        await tenant_service.create_client(
            s,
            SEEDER,
            name="matrix svc",
            kind=ClientKind.SERVICE_ACCOUNT,
            scopes=sorted(scopes),
            tenant_id=tenant_id,
            credentials=creds,
        )
        await s.commit()
    response = await client_token(client, creds)
    assert response.status_code == 200, response.text
    assert set(response.json()["scope"].split()) == scopes
    return str(response.json()["access_token"])


SNAPSHOT_TABLES = (
    "calendar_days",
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
    "tenant_customers",
    "commodity_prices",
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


async def snapshot(owner_engine: AsyncEngine, state: AppState) -> dict[str, Any]:
    """Row counts, statuses, product names, what each document is attached to (read below
    row-level security) and the objects in document storage."""
    async with owner_engine.begin() as conn:
        await conn.execute(text("select set_config('app.platform', 'on', true)"))
        out: dict[str, Any] = {}
        for table in SNAPSHOT_TABLES:
            out[table] = (await conn.execute(text(f"select count(*) from {table}"))).scalar_one()
        for table in STATUS_TABLES:
            rows = await conn.execute(text(f"select id::text, status from {table} order by id"))
            out[f"{table}.status"] = dict(tuple(r) for r in rows)
        rows = await conn.execute(text("select id::text, name from products order by id"))
        out["products.name"] = dict(tuple(r) for r in rows)
        rows = await conn.execute(
            text(
                "select id::text, purchase_order_id::text, warehouse_receipt_id::text"
                " from documents order by id"
            )
        )
        out["documents.subject"] = {r[0]: (r[1], r[2]) for r in rows}
        rows = await conn.execute(text("select id::text, purpose from deals order by id"))
        out["deals.purpose"] = dict(tuple(r) for r in rows)
        out["tenant_customers.revoked"] = (
            await conn.execute(
                text("select count(*) from tenant_customers where revoked_at is not null")
            )
        ).scalar_one()
        out["calendar_days.removed"] = (
            await conn.execute(
                text("select count(*) from calendar_days where removed_at is not null")
            )
        ).scalar_one()
        rows = await conn.execute(
            text(
                "select deal_id::text, stage, round, assignee_id::text, decision"
                " from deal_reviews order by deal_id, round, stage"
            )
        )
        out["deal_reviews.held"] = {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows}
    out["objects"] = stored_objects(state)
    return out


@dataclass(frozen=True)
class Setup:
    """seed_world plus bank A's draft and published products, and the supply chain around
    seed_world's core enterprise and trading company: an order pending the buyer's decision,
    an issued warehouse receipt and an unattached document of the seller's. For the deals:
    bank A's published order-financing product, a second order (confirmed by the buyer) and
    the seller's DRAFT application financing it."""

    world: World
    draft_product: uuid.UUID
    published_product: uuid.UUID
    chain: Chain
    order: uuid.UUID
    receipt: uuid.UUID
    document: uuid.UUID
    # Distinct content for this test's upload (documents are stored by their SHA-256).
    upload: bytes
    orders_product: uuid.UUID
    deal_order: uuid.UUID
    deal: uuid.UUID
    #: Bank A's ACTIVE loan, on a copy of ``deal`` (claiming no order).
    loan: uuid.UUID


async def set_up(state: AppState) -> Setup:
    world = await seed_world(state)
    chain = await supply_chain(state, world)
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        ids = []
        for name in ("A draft", "A offer"):
            found = await product_service.create_product(
                s,
                SEEDER,
                product_line=ProductLine.CONSUMER_CREDIT,
                name=name,
                terms=consumer_terms(),
                tenant_id=world.a.id,
            )
            ids.append(found.product.id)
        await product_service.publish_product(s, SEEDER, product_id=ids[1])
        # A day for removeCalendarDay to remove.
        await calendar_service.set_calendar_day(
            s,
            SEEDER,
            calendar=HolidayCalendar.CN,
            day=date(2027, 1, 1),
            working=False,
            label="New Year's Day",
        )
        await s.commit()
    orders_product = await publish(
        state,
        world.a.id,
        ProductLine.ORDER_FINANCING,
        line_terms(ProductLine.ORDER_FINANCING, world, chain),
    )
    deal_order = await submit_order(state, world, chain, "PO-DEAL-1")
    await confirm_order(state, chain, deal_order)
    # Bank B's own app acts for the trading company (revokeAgentAuthorization ends it).
    await relate(state, agent_tenant_id=world.b.id, organization_id=world.borrower_org_id)
    deal = await apply(
        state,
        chain.seller_user.actor(),
        product_id=orders_product,
        amount=Money.parse("800000.00", "CNY"),
        term=3,
        purpose="Working capital",
        consent=CONSENT,
        purchase_order_id=deal_order,
    )
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        (loan,) = await seed_loans(
            s,
            tenant_id=world.a.id,
            template_deal_id=deal.deal.id,
            count=1,
            deal_columns={"purchase_order_id": "null"},
        )
        await s.commit()
    return Setup(
        world=world,
        draft_product=ids[0],
        published_product=ids[1],
        chain=chain,
        order=await submit_order(state, world, chain),
        receipt=await issue_receipt(state, chain),
        document=await store_document(state, chain.seller_user),
        upload=pdf(f"matrix upload {uuid.uuid4()}"),
        orders_product=orders_product,
        deal_order=deal_order,
        deal=deal.deal.id,
        loan=loan,
    )


Effect = Callable[[Setup, dict[str, Any], dict[str, Any]], bool]


@dataclass(frozen=True)
class Party:
    """A user of an organization of the supply chain (the ``Chain`` attribute) and the one
    role it has."""

    user: str
    role: Role

    def of(self, c: Setup) -> OrgUser:
        user: OrgUser = getattr(c.chain, self.user)
        assert user.role is self.role, (self, user)
        return user

    @property
    def scopes(self) -> frozenset[str]:
        """Every scope this party's user can hold."""
        return frozenset(s.value for s in scopes_for_roles({self.role}))


SELLER = Party("seller_user", Role.BORROWER)  # of seed_world's trading company
BUYER = Party("core_user", Role.CORE_ENTERPRISE_USER)  # of seed_world's core enterprise
WAREHOUSE = Party("warehouse_user", Role.WAREHOUSE_USER)
CARGO_OWNER = Party("owner_user", Role.BORROWER)


@dataclass(frozen=True)
class Entry:
    """One mutation: the scope it needs, whose mutation it is (the operator's, a funder's
    acting in its own tenant, or one party's), its input (aimed at bank A, or at Setup's
    supply chain) and what a successful call changes.

    ``refusal`` is how the use case refuses a principal that holds the scope but is not the
    one this mutation is for: the code of the one user error and a part of its message. An
    operator's mutation is refused to a funder's service account (no platform:admin); a
    party's to the operator holding every scope and to each of ``others``, parties that see
    the object but are not the one allowed."""

    mutation: str
    scope: Scope
    input_type: str
    payload: str
    input: Callable[[Setup], dict[str, Any]]
    effect: Effect
    funder: bool = False
    party: Party | None = None
    refusal: tuple[str, str] = ("FORBIDDEN", "platform:admin")
    others: tuple[Party, ...] = ()
    # An operator's mutation that apps may call for their own customers too (createPerson:
    # a funder's or a partner's app onboards the persons it then acts for).
    apps_too: bool = False
    # Sent as a GraphQL multipart request, with Setup.upload as ``input.file``.
    upload: bool = False
    # The payload object's field a successful call must return (its ID, if it has one).
    selection: str = "id"
    # A funder's mutation of one role's staff (a reviewer of bank A: STAFF_EMAILS) rather
    # than of its admin.
    staff: Role | None = None
    # What the mutation needs besides Setup (a deal in review), put in place before the call.
    prepare: Callable[[AppState, Setup], Awaitable[None]] | None = None

    def document(self) -> str:
        return (
            f"mutation($input: {self.input_type}!) {{ {self.mutation}(input: $input) "
            f"{{ {self.payload} {{ {self.selection} }} userErrors {{ field code message }} }} }}"
        )

    @property
    def operator(self) -> bool:
        """Whether this is the operator's mutation (scope + platform:admin)."""
        return not self.funder and self.party is None

    @property
    def available(self) -> frozenset[str]:
        """Every scope the principal of this entry can hold."""
        if self.party is not None:
            return self.party.scopes
        if self.staff is not None:
            return frozenset(s.value for s in scopes_for_roles({self.staff}))
        return FUNDER_ADMIN_SCOPES if self.funder else ALL_SCOPES

    @property
    def sufficient(self) -> set[str]:
        """Exactly what the call needs."""
        return {self.scope.value, "platform:admin"} if self.operator else {self.scope.value}

    async def token(self, client: httpx.AsyncClient, c: Setup, scopes: set[str]) -> str:
        """A token of this entry's principal carrying exactly ``scopes``."""
        if self.party is not None:
            return await user_token(client, self.party.of(c).email, scopes)
        if self.staff is not None:
            return await user_token(client, STAFF_EMAILS[self.staff], scopes)
        return await scoped_token(client, c.world, scopes, funder=self.funder)

    async def ready(self, state: AppState, c: Setup) -> None:
        """Put in place what the mutation acts on besides Setup."""
        if self.prepare is not None:
            await self.prepare(state, c)

    async def call(self, client: httpx.AsyncClient, token: str | None, c: Setup) -> httpx.Response:
        """The mutation with this entry's input, as ``token``."""
        variables = {"input": self.input(c)}
        if self.upload:
            return await gql_upload(client, token, self.document(), variables, c.upload)
        return await gql(client, token, self.document(), variables)


def _one_more(table: str) -> Effect:
    return lambda c, before, after: after[table] == before[table] + 1


def _status(table: str, pk: Callable[[Setup], uuid.UUID], old: str, new: str) -> Effect:
    def check(c: Setup, before: dict[str, Any], after: dict[str, Any]) -> bool:
        key = str(pk(c))
        return bool(before[f"{table}.status"][key] == old and after[f"{table}.status"][key] == new)

    return check


def _renamed(c: Setup, before: dict[str, Any], after: dict[str, Any]) -> bool:
    key = str(c.draft_product)
    return bool(before["products.name"][key] == "A draft" and after["products.name"][key] == "B")


def _stored(c: Setup, before: dict[str, Any], after: dict[str, Any]) -> bool:
    # One more document, and its bytes are in storage under their SHA-256.
    new = after["objects"] - before["objects"]
    return bool(
        after["documents"] == before["documents"] + 1
        and new == {hashlib.sha256(c.upload).hexdigest()}
    )


def _deal_edited(c: Setup, before: dict[str, Any], after: dict[str, Any]) -> bool:
    key = str(c.deal)
    return bool(
        before["deals.purpose"][key] == "Working capital"
        and after["deals.purpose"][key] == "Working capital, revised"
    )


def _attached(c: Setup, before: dict[str, Any], after: dict[str, Any]) -> bool:
    key = str(c.document)
    return bool(
        before["documents.subject"][key] == (None, None)
        and after["documents.subject"][key] == (str(c.order), None)
    )


# Bank A's reviewers: seed_world's first reviewer, and a second reviewer made by the entries
# that need one.
STAFF_EMAILS = {
    Role.FIRST_REVIEWER: "reviewer@bank-a.test",
    Role.SECOND_REVIEWER: "second@bank-a.test",
    Role.FINANCE_OFFICER: "finance@bank-a.test",
}


async def _staff_actor(state: AppState, c: Setup, role: Role) -> Actor:
    """Bank A's reviewer of ``role``, as the use cases see a token of that person."""
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        user_id = (
            await s.execute(
                text("select id from users where email = :e"), {"e": STAFF_EMAILS[role]}
            )
        ).scalar_one()
    return Actor(
        user_id=user_id,
        client_id="test-console",
        tenant_id=c.world.a.id,
        scopes=frozenset(s.value for s in scopes_for_roles({role})),
        roles=frozenset({role}),
    )


async def _in_first_review(state: AppState, c: Setup) -> None:
    """Setup's DRAFT deal submitted by the seller, moved to FIRST_REVIEW by hand and its
    first review opened (intake's step, which has no use case yet)."""
    outcome, errors = await submit(state, c.chain.seller_user.actor(), c.deal)
    assert outcome is not None, errors
    async with tenant_session(state, c.world.a.id) as s:
        deal = await deals_repository.deal(s, c.deal, for_update=True)
        assert deal is not None
        deal.status = DealStatus.FIRST_REVIEW
        await s.flush()
        await review_service.open_first_review(s, deal)
        await s.commit()


async def _claimed_first_review(state: AppState, c: Setup) -> None:
    """The deal in first review, which the first reviewer has taken."""
    await _in_first_review(state, c)
    actor = await _staff_actor(state, c, Role.FIRST_REVIEWER)
    async with session_of(state, actor) as s:
        await review_service.claim_review(s, actor, deal_id=c.deal, stage=ReviewStage.FIRST)
        await s.commit()


async def _in_second_review(state: AppState, c: Setup) -> None:
    """The deal past its first review (the first reviewer approved it), and bank A's second
    reviewer."""
    await _in_first_review(state, c)
    actor = await _staff_actor(state, c, Role.FIRST_REVIEWER)
    async with session_of(state, actor) as s:
        await review_service.decide_first_review(
            s, actor, deal_id=c.deal, decision=ReviewDecision.APPROVE, notes="Order confirmed"
        )
        await s.commit()
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        await tenant_service.create_user(
            s,
            SEEDER,
            email=STAFF_EMAILS[Role.SECOND_REVIEWER],
            display_name="Second reviewer",
            roles=[Role.SECOND_REVIEWER.value],
            tenant_id=c.world.a.id,
            password=PASSWORD,
        )
        await s.commit()


async def _approved(state: AppState, c: Setup) -> None:
    """The deal past its second review too: APPROVED as requested, by bank A's second
    reviewer."""
    await _in_second_review(state, c)
    actor = await _staff_actor(state, c, Role.SECOND_REVIEWER)
    async with session_of(state, actor) as s:
        await review_service.decide_second_review(
            s, actor, deal_id=c.deal, decision=ReviewDecision.APPROVE, notes="Approved"
        )
        await s.commit()


async def _contract_prepared(state: AppState, c: Setup) -> None:
    """The deal APPROVED, with its contract prepared by bank A's admin."""
    from api.contracts.mutations import contract_renderer
    from domain.contracts import service as contract_service

    await _approved(state, c)
    admin = Actor(
        user_id=c.world.a.admin_user_id,
        client_id="test-console",
        tenant_id=c.world.a.id,
        scopes=FUNDER_ADMIN_SCOPES,
        roles=frozenset({Role.FUNDER_ADMIN}),
    )
    async with session_of(state, admin) as s:
        await contract_service.prepare_contract(
            s,
            admin,
            deal_id=c.deal,
            renderer=contract_renderer(),
            store=state.storage,
            cipher=state.cipher,
            value_date=date(2030, 1, 15),
        )
        await s.commit()


async def _signed(state: AppState, c: Setup) -> None:
    """The deal approved by both reviews, then SIGNED, and bank A's finance officer. No
    e-signature step exists yet to sign it: the platform's scope moves it SIGNING -> SIGNED
    in SQL, the one step taken outside the use cases."""
    await _approved(state, c)
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        for status in ("SIGNING", "SIGNED"):
            await s.execute(
                text("update deals set status = :s where id = :d"), {"s": status, "d": c.deal}
            )
        await tenant_service.create_user(
            s,
            SEEDER,
            email=STAFF_EMAILS[Role.FINANCE_OFFICER],
            display_name="Finance officer",
            roles=[Role.FINANCE_OFFICER.value],
            tenant_id=c.world.a.id,
            password=PASSWORD,
        )
        await s.commit()


async def _pledged(state: AppState, c: Setup, *, status: str, withdrawn: bool) -> None:
    """Set-up in SQL (platform scope): bank A's stub pledge deal of Setup's receipt and its
    pledge, taken to ``status`` (REGISTERED, CUSTODY_CONFIRMED) as the registry and the
    warehouse would; the deal WITHDRAWN when ``withdrawn`` (ended without a loan)."""
    deal = _pledge_deal(c)
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        await s.execute(
            text(
                "insert into deals (tenant_id, id, product_id, product_version, product_line,"
                " status, channel, channel_client_id, applicant_organization_id, currency,"
                " amount_minor, term, term_unit, purpose, warehouse_receipt_ids)"
                " select :t, :d, :p, 1, 'WAREHOUSE_RECEIPT_PLEDGE', 'DRAFT', 'DIRECT',"
                " 'stub-client', r.owner_organization_id, 'CNY', 100000, 90, 'DAY', 'stub',"
                " array[r.id] from warehouse_receipts r where r.id = :r"
            ),
            {"t": c.world.a.id, "d": deal, "p": c.published_product, "r": c.receipt},
        )
        await s.execute(
            text(
                "insert into pledges (tenant_id, id, deal_id, receipt_id,"
                " warehouse_organization_id, max_attempts) select :t, gen_random_uuid(), :d,"
                " r.id, r.warehouse_organization_id, 8 from warehouse_receipts r where r.id = :r"
            ),
            {"t": c.world.a.id, "d": deal, "r": c.receipt},
        )
        await s.execute(
            text(
                "update pledges set status = 'REGISTERED', registration_id = 'RG-MATRIX',"
                " filing_number = 'DJ-MATRIX', registered_at = now() where deal_id = :d"
            ),
            {"d": deal},
        )
        if status == "CUSTODY_CONFIRMED":
            await s.execute(
                text(
                    "update pledges set status = 'CUSTODY_CONFIRMED', confirmed_at = now(),"
                    " confirmed_by_user_id = :u where deal_id = :d"
                ),
                {"d": deal, "u": c.chain.warehouse_user.user_id},
            )
        if withdrawn:
            await s.execute(
                text("update deals set status = 'WITHDRAWN', withdrawn_at = now() where id = :d"),
                {"d": deal},
            )
            await tenant_service.create_user(
                s,
                SEEDER,
                email=STAFF_EMAILS[Role.FINANCE_OFFICER],
                display_name="Finance officer",
                roles=[Role.FINANCE_OFFICER.value],
                tenant_id=c.world.a.id,
                password=PASSWORD,
            )
        await s.commit()


def _pledge_went(old: str, new: str) -> Effect:
    """The one pledge went from ``old`` to ``new``."""

    def check(c: Setup, before: dict[str, Any], after: dict[str, Any]) -> bool:
        return list(before["pledges.status"].values()) == [old] and list(
            after["pledges.status"].values()
        ) == [new]

    return check


def _pledge_deal(c: Setup) -> uuid.UUID:
    """The stub pledge deal's ID, known before it exists (the entry's input names it)."""
    return uuid.uuid5(c.receipt, "pledge-deal")


def _first_review_held(now_held: bool) -> Effect:
    """The deal's open first review was held by nobody and now is (``now_held``), or the
    other way round."""

    def check(c: Setup, before: dict[str, Any], after: dict[str, Any]) -> bool:
        key = (str(c.deal), "FIRST", 1)
        (was, was_decided), (now, now_decided) = (
            before["deal_reviews.held"][key],
            after["deal_reviews.held"][key],
        )
        open_ = was_decided is None and now_decided is None
        return open_ and (was is None, now is None) == (now_held, not now_held)

    return check


CONSUMER_TERMS = {
    "currency": "CNY",
    "minAmount": {"amount": "1000.00", "currency": "CNY"},
    "maxAmount": {"amount": "200000.00", "currency": "CNY"},
    "allowedTerms": [3, 6, 12],
    "annualRate": "0.12",
    "repaymentMethod": "EQUAL_INSTALLMENT",
    "latePenalty": {"dailyRate": "0.0005", "basis": "OVERDUE_PRINCIPAL", "graceDays": 3},
    "prepaymentPenalty": {"rate": "0.02", "freeAllowance": "0.10"},
    "consumerEligibility": {"minAge": 22, "maxAge": 55, "minCreditScore": 600},
}

MATRIX = {
    e.mutation: e
    for e in [
        Entry(
            "createTenant",
            Scope.TENANTS_WRITE,
            "CreateTenantInput",
            "tenant",
            lambda c: {"name": "Bank C", "slug": "bank-c", "kind": "INSURER"},
            _one_more("tenants"),
        ),
        Entry(
            "createUser",
            Scope.USERS_WRITE,
            "CreateUserInput",
            "user",
            lambda c: {
                "email": "new@bank-a.test",
                "displayName": "New Reviewer",
                "roles": ["FIRST_REVIEWER"],
                "tenantId": global_id("Tenant", c.world.a.id),
                "password": "a-long-enough-password",
            },
            _one_more("users"),
        ),
        Entry(
            "createOAuthClient",
            Scope.CLIENTS_WRITE,
            "CreateOAuthClientInput",
            "client",
            lambda c: {
                "name": "new svc",
                "kind": "SERVICE_ACCOUNT",
                "scopes": ["viewer:read"],
                "tenantId": global_id("Tenant", c.world.a.id),
            },
            _one_more("oauth_clients"),
        ),
        Entry(
            "disableUser",
            Scope.USERS_WRITE,
            "DisableInput",
            "user",
            lambda c: {"id": global_id("User", c.world.a.admin_user_id)},
            _status("users", lambda c: c.world.a.admin_user_id, "ACTIVE", "DISABLED"),
        ),
        Entry(
            "disableOAuthClient",
            Scope.CLIENTS_WRITE,
            "DisableInput",
            "client",
            lambda c: {"id": global_id("OAuthClient", c.world.a.service_client_pk)},
            _status("oauth_clients", lambda c: c.world.a.service_client_pk, "ACTIVE", "DISABLED"),
        ),
        Entry(
            "createOrganization",
            Scope.ORGANIZATIONS_WRITE,
            "CreateOrganizationInput",
            "organization",
            lambda c: {
                "kind": "WAREHOUSE",
                "name": "Depot Co",
                "socialCreditCode": valid_social_credit_code(1),
            },
            _one_more("organizations"),
        ),
        Entry(
            "createPerson",
            Scope.PERSONS_WRITE,
            "CreatePersonInput",
            "person",
            lambda c: {
                "fullName": "Zhang San",
                "residentId": valid_resident_id(1),
                "phone": "139 0013 9000",
            },
            _one_more("persons"),
            apps_too=True,
        ),
        Entry(
            "setTenantStatus",
            Scope.TENANTS_WRITE,
            "SetTenantStatusInput",
            "tenant",
            lambda c: {"id": global_id("Tenant", c.world.a.id), "status": "DISABLED"},
            _status("tenants", lambda c: c.world.a.id, "ACTIVE", "DISABLED"),
        ),
        Entry(
            "authorizeAgent",
            Scope.AGENTS_WRITE,
            "AgentInput",
            "authorization",
            lambda c: {"agentId": global_id("Tenant", c.world.a.id)},
            _one_more("tenant_customers"),
            party=SELLER,
            # The operator names the party it records a relationship for.
            refusal=("REQUIRED", "the person or company to act for"),
        ),
        Entry(
            "revokeAgentAuthorization",
            Scope.AGENTS_WRITE,
            "AgentInput",
            "authorization",
            lambda c: {"agentId": global_id("Tenant", c.world.b.id)},
            lambda c, before, after: (
                after["tenant_customers.revoked"] == before["tenant_customers.revoked"] + 1
            ),
            party=SELLER,
            refusal=("REQUIRED", "the person or company to act for"),
        ),
        Entry(
            "setCalendarDay",
            Scope.CALENDARS_WRITE,
            "SetCalendarDayInput",
            "calendarDay",
            lambda c: {
                "calendar": "CN",
                "date": "2027-10-01",
                "working": False,
                "label": "National Day",
            },
            _one_more("calendar_days"),
            selection="date",
        ),
        Entry(
            "removeCalendarDay",
            Scope.CALENDARS_WRITE,
            "RemoveCalendarDayInput",
            "calendarDay",
            lambda c: {"calendar": "CN", "date": "2027-01-01"},
            _one_more("calendar_days.removed"),
            selection="date",
        ),
        Entry(
            "createProduct",
            Scope.PRODUCTS_WRITE,
            "CreateProductInput",
            "product",
            lambda c: {"productLine": "CONSUMER_CREDIT", "name": "New", "terms": CONSUMER_TERMS},
            _one_more("products"),
            funder=True,
        ),
        Entry(
            "updateProduct",
            Scope.PRODUCTS_WRITE,
            "UpdateProductInput",
            "product",
            lambda c: {"id": global_id("Product", c.draft_product), "name": "B"},
            _renamed,
            funder=True,
        ),
        Entry(
            "publishProduct",
            Scope.PRODUCTS_WRITE,
            "ProductIdInput",
            "product",
            lambda c: {"id": global_id("Product", c.draft_product)},
            _status("products", lambda c: c.draft_product, "DRAFT", "PUBLISHED"),
            funder=True,
        ),
        Entry(
            "retireProduct",
            Scope.PRODUCTS_WRITE,
            "ProductIdInput",
            "product",
            lambda c: {"id": global_id("Product", c.published_product)},
            _status("products", lambda c: c.published_product, "PUBLISHED", "RETIRED"),
            funder=True,
        ),
        # A funder's own commodity prices (product configuration: products:write).
        Entry(
            "recordCommodityPrice",
            Scope.PRODUCTS_WRITE,
            "RecordCommodityPriceInput",
            "commodityPrice",
            lambda c: {
                "commodityCode": "CU",
                "price": {"amount": "71230.00", "currency": "CNY"},
                "unit": "t",
                "asOf": "2026-12-01T09:00:00+08:00",
                "source": "Desk quote",
            },
            _one_more("commodity_prices"),
            funder=True,
            selection="commodityCode",
        ),
        # The supply chain. The operator may submit an order for a seller, and upload and
        # attach documents for an organization; a funder's service account may not.
        Entry(
            "createPurchaseOrder",
            Scope.COLLATERAL_WRITE,
            "CreatePurchaseOrderInput",
            "purchaseOrder",
            lambda c: {
                "buyerId": global_id("Organization", c.world.core_enterprise_id),
                "sellerId": global_id("Organization", c.world.borrower_org_id),
                "number": "PO-MATRIX-1",
                "amount": {"amount": "50000.00", "currency": "CNY"},
                "issueDate": "2026-12-01",
                "dueDate": "2027-01-31",
            },
            _one_more("purchase_orders"),
            refusal=(
                "FORBIDDEN",
                "orders are submitted by the seller's users, a partner app or the platform",
            ),
        ),
        Entry(
            "uploadDocument",
            Scope.DOCUMENTS_WRITE,
            "UploadDocumentInput",
            "document",
            lambda c: {
                "file": None,
                "kind": "INVOICE",
                "ownerId": global_id("Organization", c.world.borrower_org_id),
            },
            _stored,
            refusal=("FORBIDDEN", "documents belong to your own organization"),
            upload=True,
        ),
        Entry(
            "attachDocument",
            Scope.DOCUMENTS_WRITE,
            "AttachDocumentInput",
            "document",
            lambda c: {
                "documentId": global_id("Document", c.document),
                "purchaseOrderId": global_id("PurchaseOrder", c.order),
            },
            _attached,
            # The service account cannot see the seller's document at all.
            refusal=("NOT_FOUND", "no such document"),
        ),
        # Only the buyer's core-enterprise users decide an order: the seller sees it but is
        # refused, and so is the operator.
        Entry(
            "confirmPurchaseOrder",
            Scope.COLLATERAL_WRITE,
            "ConfirmPurchaseOrderInput",
            "purchaseOrder",
            lambda c: {"id": global_id("PurchaseOrder", c.order), "note": "matches GRN 77"},
            _status("purchase_orders", lambda c: c.order, "PENDING_CONFIRMATION", "CONFIRMED"),
            party=BUYER,
            refusal=("FORBIDDEN", "only the buyer's core-enterprise users decide an order"),
            others=(SELLER,),
        ),
        Entry(
            "disputePurchaseOrder",
            Scope.COLLATERAL_WRITE,
            "DisputePurchaseOrderInput",
            "purchaseOrder",
            lambda c: {"id": global_id("PurchaseOrder", c.order), "note": "never delivered"},
            _status("purchase_orders", lambda c: c.order, "PENDING_CONFIRMATION", "DISPUTED"),
            party=BUYER,
            refusal=("FORBIDDEN", "only the buyer's core-enterprise users decide an order"),
            others=(SELLER,),
        ),
        # Only the warehouse's users issue and cancel its receipts: not the goods' owner, not
        # a core enterprise, not the operator, even naming the warehouse.
        Entry(
            "issueWarehouseReceipt",
            Scope.COLLATERAL_WRITE,
            "IssueWarehouseReceiptInput",
            "warehouseReceipt",
            lambda c: {
                "ownerId": global_id("Organization", c.chain.cargo_owner_id),
                "warehouseId": global_id("Organization", c.chain.warehouse_id),
                "number": "WR-MATRIX-1",
                "goodsDescription": "Cotton, 200 bales",
                "quantity": "200",
                "unit": "bale",
                "location": "Shed 2",
                "unitPrice": {"amount": "3200.00", "currency": "CNY"},
            },
            _one_more("warehouse_receipts"),
            party=WAREHOUSE,
            refusal=("FORBIDDEN", "only the warehouse's users issue and cancel its receipts"),
            others=(CARGO_OWNER, BUYER),
        ),
        Entry(
            "cancelWarehouseReceipt",
            Scope.COLLATERAL_WRITE,
            "CancelWarehouseReceiptInput",
            "warehouseReceipt",
            lambda c: {"id": global_id("WarehouseReceipt", c.receipt), "reason": "released"},
            _status("warehouse_receipts", lambda c: c.receipt, "ISSUED", "CANCELLED"),
            party=WAREHOUSE,
            refusal=("FORBIDDEN", "only the warehouse's users issue and cancel its receipts"),
            others=(CARGO_OWNER,),
        ),
        # Deals: the applicant (here the seller, for its company) applies, edits, submits and
        # withdraws; the operator, holding every scope, applies for no one and acts on no
        # one's application.
        Entry(
            "createDeal",
            Scope.DEALS_APPLY,
            "CreateDealInput",
            "deal",
            lambda c: {
                "productId": global_id("Product", c.orders_product),
                "amount": {"amount": "500000.00", "currency": "CNY"},
                "term": 6,
                "purpose": "Another order",
                "consent": {"textVersion": "credit-consent-v3", "method": "ONLINE_CHECKBOX"},
                "purchaseOrderId": global_id("PurchaseOrder", c.deal_order),
                "idempotencyKey": "matrix-create-1",
            },
            _one_more("deals"),
            party=SELLER,
            refusal=(
                "FORBIDDEN",
                "applications come from the applicant, a partner app or the funder's own app",
            ),
        ),
        Entry(
            "updateDeal",
            Scope.DEALS_APPLY,
            "UpdateDealInput",
            "deal",
            lambda c: {"id": global_id("Deal", c.deal), "purpose": "Working capital, revised"},
            _deal_edited,
            party=SELLER,
            refusal=("FORBIDDEN", "only the applicant or the app the application came through"),
        ),
        Entry(
            "submitDeal",
            Scope.DEALS_APPLY,
            "SubmitDealInput",
            "deal",
            lambda c: {"id": global_id("Deal", c.deal), "idempotencyKey": "matrix-submit-1"},
            _status("deals", lambda c: c.deal, "DRAFT", "SUBMITTED"),
            party=SELLER,
            refusal=("FORBIDDEN", "only the applicant or the app the application came through"),
        ),
        Entry(
            "withdrawDeal",
            Scope.DEALS_APPLY,
            "WithdrawDealInput",
            "deal",
            lambda c: {"id": global_id("Deal", c.deal), "reason": "found cheaper credit"},
            _status("deals", lambda c: c.deal, "DRAFT", "WITHDRAWN"),
            party=SELLER,
            refusal=("FORBIDDEN", "only the applicant or the app the application came through"),
        ),
        # Reviews: bank A's reviewers take, give back and decide the reviews of Setup's deal,
        # submitted and in review; each needs its stage's scope.
        Entry(
            "claimReview",
            Scope.REVIEWS_FIRST,
            "ClaimReviewInput",
            "deal",
            lambda c: {"dealId": global_id("Deal", c.deal), "stage": "FIRST"},
            _first_review_held(True),
            funder=True,
            staff=Role.FIRST_REVIEWER,
            prepare=_in_first_review,
        ),
        Entry(
            "releaseReview",
            Scope.REVIEWS_FIRST,
            "ReleaseReviewInput",
            "deal",
            lambda c: {"dealId": global_id("Deal", c.deal), "stage": "FIRST"},
            _first_review_held(False),
            funder=True,
            staff=Role.FIRST_REVIEWER,
            prepare=_claimed_first_review,
        ),
        Entry(
            "decideFirstReview",
            Scope.REVIEWS_FIRST,
            "DecideFirstReviewInput",
            "deal",
            lambda c: {
                "dealId": global_id("Deal", c.deal),
                "decision": "APPROVE",
                "notes": "Order confirmed by the buyer",
            },
            _status("deals", lambda c: c.deal, "FIRST_REVIEW", "SECOND_REVIEW"),
            funder=True,
            staff=Role.FIRST_REVIEWER,
            prepare=_in_first_review,
        ),
        Entry(
            "decideSecondReview",
            Scope.REVIEWS_SECOND,
            "DecideSecondReviewInput",
            "deal",
            lambda c: {
                "dealId": global_id("Deal", c.deal),
                "decision": "APPROVE",
                "notes": "Approved as requested",
            },
            _status("deals", lambda c: c.deal, "SECOND_REVIEW", "APPROVED"),
            funder=True,
            staff=Role.SECOND_REVIEWER,
            prepare=_in_second_review,
        ),
        Entry(
            "prepareContract",
            Scope.CONTRACTS_WRITE,
            "PrepareContractInput",
            "contract",
            lambda c: {"dealId": global_id("Deal", c.deal)},
            _one_more("contracts"),
            funder=True,
            selection="sha256",
            prepare=_approved,
        ),
        Entry(
            "sendContractForSigning",
            Scope.CONTRACTS_WRITE,
            "SendContractForSigningInput",
            "deal",
            lambda c: {"dealId": global_id("Deal", c.deal)},
            _status("deals", lambda c: c.deal, "APPROVED", "SIGNING"),
            funder=True,
            prepare=_contract_prepared,
        ),
        # Pledges: the receipt's warehouse confirms custody under the registered pledge; bank
        # A's finance officer releases a pledge of a deal that ended without a loan.
        Entry(
            "confirmPledgeCustody",
            Scope.COLLATERAL_WRITE,
            "ConfirmPledgeCustodyInput",
            "pledge",
            lambda c: {"warehouseReceiptId": global_id("WarehouseReceipt", c.receipt)},
            _pledge_went("REGISTERED", "CUSTODY_CONFIRMED"),
            party=WAREHOUSE,
            refusal=("FORBIDDEN", "only the users of the receipt's warehouse confirm custody"),
            selection="status",
            prepare=lambda state, c: _pledged(state, c, status="REGISTERED", withdrawn=False),
        ),
        Entry(
            "releasePledge",
            Scope.LOANS_DISBURSE,
            "ReleasePledgeInput",
            "pledge",
            lambda c: {
                "dealId": global_id("Deal", _pledge_deal(c)),
                "warehouseReceiptId": global_id("WarehouseReceipt", c.receipt),
            },
            _pledge_went("CUSTODY_CONFIRMED", "RELEASED"),
            funder=True,
            staff=Role.FINANCE_OFFICER,
            selection="status",
            prepare=lambda state, c: _pledged(state, c, status="CUSTODY_CONFIRMED", withdrawn=True),
        ),
        # Disbursement: bank A's finance officer pays out Setup's deal, approved and signed.
        Entry(
            "disburse",
            Scope.LOANS_DISBURSE,
            "DisburseInput",
            "deal",
            lambda c: {
                "dealId": global_id("Deal", c.deal),
                "idempotencyKey": "matrix-disburse-1",
                "beneficiary": {
                    "name": "Huaxin Trading",
                    "accountNumber": "6222020200112233445",
                    "bankCode": "102100099996",
                },
            },
            _status("deals", lambda c: c.deal, "SIGNED", "DISBURSING"),
            funder=True,
            staff=Role.FINANCE_OFFICER,
            prepare=_signed,
        ),
    ]
}
ENTRIES = list(MATRIX.values())
OPERATOR_ENTRIES = [e for e in ENTRIES if e.operator]
OPERATOR_ONLY_ENTRIES = [e for e in OPERATOR_ENTRIES if not e.apps_too]
PARTY_ENTRIES = [e for e in ENTRIES if e.party is not None]


async def test_every_mutation_has_a_matrix_entry(client: httpx.AsyncClient) -> None:
    response = await gql(client, None, "{ __schema { mutationType { fields { name } } } }")
    assert response.status_code == 200, response.text
    names = {f["name"] for f in response.json()["data"]["__schema"]["mutationType"]["fields"]}
    assert names, "introspection found no mutations"
    missing = names - MATRIX.keys()
    assert not missing, f"mutations without a scope-matrix entry: {missing}"
    assert not MATRIX.keys() - names, f"stale entries: {MATRIX.keys() - names}"


def _assert_forbidden(body: dict[str, Any], entry: Entry, *, anonymous: bool = False) -> None:
    assert (body.get("data") or {}).get(entry.mutation) is None, body
    errors = body["errors"]
    assert len(errors) == 1, errors
    assert errors[0]["path"] == [entry.mutation]
    if anonymous:  # one refusal for every field without a token
        assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert errors[0]["message"] == "Authentication required"
        return
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert errors[0]["message"] == f"Requires the {entry.scope.value} scope"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.mutation)
async def test_token_without_the_scope_is_refused(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine, entry: Entry
) -> None:
    c = await set_up(app_state)
    await entry.ready(app_state, c)
    # Every other scope the principal can hold (for the operator platform:admin included):
    # none stands in for this one.
    without = set(entry.available - {entry.scope.value})
    token = await entry.token(client, c, without)
    before = await snapshot(owner_engine, app_state)
    response = await entry.call(client, token, c)
    assert response.status_code == 200, response.text
    _assert_forbidden(response.json(), entry)
    # Anonymous callers are refused as unauthenticated.
    response = await entry.call(client, None, c)
    assert response.status_code == 200, response.text
    _assert_forbidden(response.json(), entry, anonymous=True)
    assert await snapshot(owner_engine, app_state) == before


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.mutation)
async def test_token_with_the_scope_is_allowed(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine, entry: Entry
) -> None:
    c = await set_up(app_state)
    await entry.ready(app_state, c)
    token = await entry.token(client, c, entry.sufficient)
    before = await snapshot(owner_engine, app_state)
    response = await entry.call(client, token, c)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    payload = body["data"][entry.mutation]
    assert payload["userErrors"] == []
    assert payload[entry.payload][entry.selection]
    after = await snapshot(owner_engine, app_state)
    assert entry.effect(c, before, after), (before, after)


@pytest.mark.parametrize("entry", OPERATOR_ONLY_ENTRIES, ids=lambda e: e.mutation)
async def test_write_scope_without_the_platform_scope_is_refused_cleanly(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine, entry: Entry
) -> None:
    # A service account of bank A may be registered with the write scopes, but row-level
    # security lets only the operator write these rows: the use case must refuse it with
    # FORBIDDEN (NOT_FOUND where it may not even see the object) rather than let the
    # database fail ("Unexpected error.").
    c = await set_up(app_state)
    scopes = {s.value for s in SERVICE_ACCOUNT_SCOPES}
    assert entry.scope.value in scopes
    token = await service_token(client, app_state, c.world.a.id, scopes)
    before = await snapshot(owner_engine, app_state)
    response = await entry.call(client, token, c)
    _assert_refused(response, entry)
    assert await snapshot(owner_engine, app_state) == before


def _assert_refused(response: httpx.Response, entry: Entry) -> None:
    """The use case's clean refusal of ``entry``: its one user error, and a null object."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    payload = body["data"][entry.mutation]
    assert payload[entry.payload] is None
    code, message = entry.refusal
    assert [e["code"] for e in payload["userErrors"]] == [code], payload
    assert message in payload["userErrors"][0]["message"], payload


@pytest.mark.parametrize("entry", PARTY_ENTRIES, ids=lambda e: e.mutation)
async def test_party_mutation_refuses_every_other_principal_with_the_scope(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine, entry: Entry
) -> None:
    # The scope is necessary, not sufficient: the operator holding every scope (platform:admin
    # included) and parties that see the object are refused by the use case, with nothing
    # written - and the allowed party's token is no wider than its role.
    c = await set_up(app_state)
    await entry.ready(app_state, c)
    assert entry.party is not None and entry.scope.value in entry.party.scopes
    tokens = [await scoped_token(client, c.world, set(ALL_SCOPES))]
    for other in entry.others:
        assert other != entry.party and entry.scope.value in other.scopes
        tokens.append(await user_token(client, other.of(c).email, set(other.scopes)))
    before = await snapshot(owner_engine, app_state)
    for token in tokens:
        _assert_refused(await entry.call(client, token, c), entry)
    assert await snapshot(owner_engine, app_state) == before


async def test_refused_second_mutation_keeps_the_first_and_is_not_a_400(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine
) -> None:
    # Mutation fields run in order; a refusal of the second does not undo the first, and the
    # document was executed, so the answer is not "refused before execution".
    c = await set_up(app_state)
    token = await scoped_token(client, c.world, {"persons:write", "platform:admin"})
    person, tenant = MATRIX["createPerson"], MATRIX["createTenant"]
    document = (
        "mutation($p: CreatePersonInput!, $t: CreateTenantInput!) {"
        " p: createPerson(input: $p) { person { id } userErrors { code } }"
        " t: createTenant(input: $t) { tenant { id } userErrors { code } } }"
    )
    before = await snapshot(owner_engine, app_state)
    response = await gql(client, token, document, {"p": person.input(c), "t": tenant.input(c)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["path"] == ["t"]
    after = await snapshot(owner_engine, app_state)
    assert after["persons"] == before["persons"] + 1
    assert after["tenants"] == before["tenants"]


# --- reads: each Node type by ID needs a read scope ----------------------------------------

# Node type: the scopes any one of which lets the operator read it, and an object of it.
READS: dict[str, tuple[tuple[Scope, ...], Callable[[Setup], uuid.UUID]]] = {
    # Funders are platform-level data: read with tenants:read, and by marketplace readers and
    # deal parties (row-level security shows them the listed funders and their deals').
    "Tenant": (
        (Scope.TENANTS_READ, Scope.MARKETPLACE_READ, Scope.DEALS_READ),
        lambda c: c.world.b.id,
    ),
    "User": ((Scope.USERS_READ,), lambda c: c.world.b.admin_user_id),
    "OAuthClient": ((Scope.CLIENTS_READ,), lambda c: c.world.b.service_client_pk),
    "Organization": ((Scope.ORGANIZATIONS_READ,), lambda c: c.world.borrower_org_id),
    "Person": ((Scope.PERSONS_READ,), lambda c: c.world.person_id),
    "Product": ((Scope.PRODUCTS_READ, Scope.MARKETPLACE_READ), lambda c: c.published_product),
    "PurchaseOrder": ((Scope.COLLATERAL_READ,), lambda c: c.order),
    "WarehouseReceipt": ((Scope.COLLATERAL_READ,), lambda c: c.receipt),
    "Document": ((Scope.DOCUMENTS_READ,), lambda c: c.document),
    "Deal": ((Scope.DEALS_READ,), lambda c: c.deal),
    "Loan": ((Scope.DEALS_READ,), lambda c: c.loan),
}

# Node type of the supply chain: a party that sees the object of READS.
PARTY_READS: dict[str, Party] = {
    "PurchaseOrder": BUYER,
    "WarehouseReceipt": CARGO_OWNER,
    "Document": SELLER,
    "Deal": SELLER,
}


async def test_every_node_type_has_a_read_scope_entry(client: httpx.AsyncClient) -> None:
    response = await gql(client, None, "{ __schema { types { name interfaces { name } } } }")
    node_types = {
        t["name"]
        for t in response.json()["data"]["__schema"]["types"]
        if any(i["name"] == "Node" for i in t["interfaces"] or [])
    }
    assert node_types
    assert node_types == READS.keys()


@pytest.mark.parametrize("type_name", sorted(READS))
async def test_node_needs_its_read_scope(
    client: httpx.AsyncClient, app_state: AppState, type_name: str
) -> None:
    c = await set_up(app_state)
    scopes, pk = READS[type_name]
    gid = global_id(type_name, pk(c))
    query = "query($id: ID!) { node(id: $id) { id } }"
    without = await scoped_token(client, c.world, set(ALL_SCOPES - {s.value for s in scopes}))
    response = await gql(client, without, query, {"id": gid})
    assert without_cost(response.json()) == {"data": {"node": None}}
    for scope in scopes:
        with_scope = await scoped_token(client, c.world, {scope.value, Scope.PLATFORM_ADMIN.value})
        response = await gql(client, with_scope, query, {"id": gid})
        assert without_cost(response.json()) == {"data": {"node": {"id": gid}}}, scope


@pytest.mark.parametrize("type_name", sorted(PARTY_READS))
async def test_party_node_needs_its_read_scope(
    client: httpx.AsyncClient, app_state: AppState, type_name: str
) -> None:
    # The same for the party that sees the object: every other scope of its role gives null.
    c = await set_up(app_state)
    (scope,), pk = READS[type_name]
    party = PARTY_READS[type_name]
    gid = global_id(type_name, pk(c))
    query = "query($id: ID!) { node(id: $id) { id } }"
    email = party.of(c).email
    without = await user_token(client, email, set(party.scopes - {scope.value}))
    response = await gql(client, without, query, {"id": gid})
    assert without_cost(response.json()) == {"data": {"node": None}}
    with_scope = await user_token(client, email, {scope.value})
    response = await gql(client, with_scope, query, {"id": gid})
    assert without_cost(response.json()) == {"data": {"node": {"id": gid}}}


# --- reads: each root query field needs its scopes ------------------------------------------

#: Root query fields any token may call (tests/api/test_auth_everywhere.py): who it is,
#: objects by ID (each type's read rule decides, above) and the public calendar entries.
OPEN_QUERY_FIELDS = frozenset({"viewer", "node", "nodes", "calendarDays"})
SCOPE_REFUSAL = re.compile(r"^Requires the (.+) scope$")


def _scope_refusal(response: httpx.Response, field: str) -> tuple[str, ...] | None:
    """The scopes (any one of which would do) named by the FORBIDDEN refusal of ``field``
    for want of a scope, with no data; None when the field was not refused for a scope."""
    code = refusal_code(response, field)
    if code != "FORBIDDEN":
        return None
    found = SCOPE_REFUSAL.match(response.json()["errors"][0]["message"])
    return None if found is None else tuple(found.group(1).split(" or "))


#: What each root query field needs, in the order its permissions are checked: every group
#: of alternatives (any one scope of a group will do). A review queue needs its stage's scope.
QUERY_SCOPES: dict[str, list[tuple[str, ...]]] = {
    "products": [("products:read",)],
    "marketplace": [("marketplace:read",)],
    "quote": [("marketplace:read", "products:read")],
    "myPurchaseOrders": [("collateral:read",)],
    "myWarehouseReceipts": [("collateral:read",)],
    "deals": [("deals:read",)],
    "myDeals": [("deals:read",)],
    "platformDeals": [("platform:admin",), ("deals:read",)],
    "commodityPrices": [("products:read",)],
    "reviewQueue(FIRST)": [("reviews:first",)],
    "reviewQueue(SECOND)": [("reviews:second",)],
    "trialBalance": [("ledger:read",)],
    "loans": [("deals:read",)],
}


async def test_every_root_query_field_needs_each_of_its_scopes(
    client: httpx.AsyncClient, app_state: AppState
) -> None:
    # The scopes a field needs are found by asking: the operator's token narrowed to
    # viewer:read is refused naming a scope; granted it, the next refusal names the next one
    # (platformDeals needs platform:admin and deals:read), until the field answers. A field
    # added to the schema without its row in QUERY_SCOPES fails here. Then a token with
    # every scope but one group is refused naming that group, without data.
    world = await seed_world(app_state)
    calls = []
    for field, document, variables, uploads in await root_calls(client):
        if not document.startswith("query") or field in OPEN_QUERY_FIELDS:
            continue
        if "stage" in variables:
            for stage in ("FIRST", "SECOND"):
                calls.append((f"{field}({stage})", field, document, {**variables, "stage": stage}))
        else:
            assert not uploads, field
            calls.append((field, field, document, variables))
    needed: dict[str, list[tuple[str, ...]]] = {}
    for label, field, document, variables in calls:
        granted = {Scope.VIEWER_READ.value}
        groups: list[tuple[str, ...]] = []
        while True:
            token = await scoped_token(client, world, granted)
            group = _scope_refusal(await call(client, token, document, variables, []), field)
            if group is None:
                break  # answered (or refused by the use case, not for a scope)
            assert group not in groups, (label, group)
            groups.append(group)
            granted.add(group[0])
        needed[label] = groups
    assert needed == QUERY_SCOPES
    for label, field, document, variables in calls:
        for group in needed[label]:
            token = await scoped_token(client, world, set(ALL_SCOPES - set(group)))
            refused = _scope_refusal(await call(client, token, document, variables, []), field)
            assert refused == group, (label, group)
