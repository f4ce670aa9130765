"""Helpers shared by database and API tests: a small two-tenant world and token/GraphQL calls."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from api.state import AppState
from domain.kernel.scopes import Scope
from domain.parties import service as party_service
from domain.parties.models import OrganizationKind
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from lendgraph.demo import SEEDER
from tenants import service as tenant_service
from tenants.models import ClientKind, TenantKind

PASSWORD = "correct-horse-battery"
CONSOLE = ("test-console", "test-console-secret")
#: Banks A's and B's unified social credit codes (check characters by python-stdnum).
FUNDER_CODES = ("91110000MA01ABCD2Q", "91310000MA1K4B7C0Q")


@dataclass
class TenantWorld:
    """One funder with staff and a service account."""

    id: uuid.UUID
    slug: str
    admin_email: str
    reviewer_email: str
    admin_user_id: uuid.UUID
    service_client: tuple[str, str]
    service_client_pk: uuid.UUID
    membership_id: uuid.UUID


@dataclass
class World:
    """Two tenants (A and B), an operator, parties and clients."""

    a: TenantWorld
    b: TenantWorld
    admin_email: str
    admin_user_id: uuid.UUID
    partner_client: tuple[str, str]
    partner_client_pk: uuid.UUID
    core_enterprise_id: uuid.UUID
    borrower_org_id: uuid.UUID
    person_id: uuid.UUID
    extra: dict[str, Any] = field(default_factory=dict)


async def seed_world(state: AppState) -> World:
    """Create the world through the real use cases, committed."""
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        admin = await tenant_service.create_user(
            s,
            SEEDER,
            email="admin@platform.test",
            display_name="Operator",
            roles=["PLATFORM_ADMIN"],
            tenant_id=None,
            password=PASSWORD,
        )
        await tenant_service.create_client(
            s,
            SEEDER,
            name="console",
            kind=ClientKind.FIRST_PARTY,
            scopes=[sc.value for sc in Scope],
            credentials=CONSOLE,
        )
        core = await party_service.create_organization(
            s,
            SEEDER,
            kind=OrganizationKind.CORE_ENTERPRISE,
            name="Core Co",
            social_credit_code="91110000600037341L",
        )
        borrower_org = await party_service.create_organization(
            s,
            SEEDER,
            kind=OrganizationKind.TRADE_ENTERPRISE,
            name="Trader Co",
            social_credit_code="91330200MA2H1Y5X3X",
        )
        partner_org = await party_service.create_organization(
            s,
            SEEDER,
            kind=OrganizationKind.PARTNER,
            name="Partner Co",
            social_credit_code="91440300MA5G0W9T8T",
        )
        person = await party_service.create_person(
            s,
            SEEDER,
            state.cipher,
            full_name="Li Wei",
            resident_id="11010519491231002X",
            phone="13800138000",
        )
        partner = await tenant_service.create_client(
            s,
            SEEDER,
            name="partner",
            kind=ClientKind.PARTNER_APP,
            scopes=["viewer:read"],
            organization_id=partner_org.id,
            credentials=("test-partner", "test-partner-secret"),
        )
        worlds = []
        for letter, registration in (("a", FUNDER_CODES[0]), ("b", FUNDER_CODES[1])):
            tenant = await tenant_service.create_tenant(
                s,
                SEEDER,
                name=f"Bank {letter.upper()}",
                slug=f"bank-{letter}",
                registration_number=registration,
                kind=TenantKind.BANK,
                time_zone="Asia/Shanghai",
                currency="CNY",
            )
            fa = await tenant_service.create_user(
                s,
                SEEDER,
                email=f"admin@bank-{letter}.test",
                display_name=f"Admin {letter}",
                roles=["FUNDER_ADMIN"],
                tenant_id=tenant.id,
                password=PASSWORD,
            )
            await tenant_service.create_user(
                s,
                SEEDER,
                email=f"reviewer@bank-{letter}.test",
                display_name=f"Rev {letter}",
                roles=["FIRST_REVIEWER"],
                tenant_id=tenant.id,
                password=PASSWORD,
            )
            svc = await tenant_service.create_client(
                s,
                SEEDER,
                name=f"svc {letter}",
                kind=ClientKind.SERVICE_ACCOUNT,
                scopes=["viewer:read", "tenants:read", "users:read", "clients:read"],
                tenant_id=tenant.id,
                credentials=(f"svc-{letter}", f"svc-{letter}-secret"),
            )
            assert fa.membership is not None
            worlds.append(
                TenantWorld(
                    id=tenant.id,
                    slug=tenant.slug,
                    admin_email=fa.user.email,
                    reviewer_email=f"reviewer@bank-{letter}.test",
                    admin_user_id=fa.user.id,
                    service_client=(f"svc-{letter}", f"svc-{letter}-secret"),
                    service_client_pk=svc.client.id,
                    membership_id=fa.membership.id,
                )
            )
        await s.commit()
    return World(
        a=worlds[0],
        b=worlds[1],
        admin_email="admin@platform.test",
        admin_user_id=admin.user.id,
        partner_client=("test-partner", "test-partner-secret"),
        partner_client_pk=partner.client.id,
        core_enterprise_id=core.id,
        borrower_org_id=borrower_org.id,
        person_id=person.id,
    )


async def password_token(
    client: httpx.AsyncClient,
    email: str,
    password: str = PASSWORD,
    *,
    tenant: str | None = None,
    scope: str | None = None,
) -> httpx.Response:
    """The token endpoint's answer to a password grant through the console client."""
    data = {"grant_type": "password", "username": email, "password": password}
    if tenant:
        data["tenant"] = tenant
    if scope:
        data["scope"] = scope
    return await client.post("/oauth/token", data=data, auth=CONSOLE)


async def client_token(
    client: httpx.AsyncClient, creds: tuple[str, str], scope: str | None = None
) -> httpx.Response:
    """The token endpoint's answer to a client-credentials grant."""
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    return await client.post("/oauth/token", data=data, auth=creds)


async def access_token(client: httpx.AsyncClient, email: str, **kw: Any) -> str:
    """An access token for a user, failing loudly if none is issued."""
    response = await password_token(client, email, **kw)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def gql(
    client: httpx.AsyncClient,
    token: str | None,
    query: str,
    variables: dict[str, Any] | None = None,
) -> httpx.Response:
    """POST a GraphQL document."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )


def global_id(type_name: str, value: uuid.UUID) -> str:
    """The opaque global ID of an object (Relay: base64 of ``Type:id``)."""
    import base64

    return base64.b64encode(f"{type_name}:{value}".encode()).decode()


async def relate(
    state: AppState,
    *,
    agent_organization_id: uuid.UUID | None = None,
    agent_tenant_id: uuid.UUID | None = None,
    person_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
) -> None:
    """Record, as the operator, that an agent (a partner or a warehouse organization, or a
    funder) acts for a party, committed: the relationship every deal, order or receipt that
    names the party through that agent needs."""
    from domain.parties import service as party_service

    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        await party_service.authorize_agent(
            s,
            SEEDER,
            agent=party_service.Agent(
                organization_id=agent_organization_id, tenant_id=agent_tenant_id
            ),
            party=party_service.Party(person_id=person_id, organization_id=organization_id),
        )
        await s.commit()


async def wait_until_blocked(owner: Any, waiting: int = 1, within: float = 10.0) -> None:
    """Wait until ``waiting`` backends of this test's database wait on a lock, as PostgreSQL
    reports it (``pg_stat_activity``): the proof that a statement is blocked, not a sleep."""
    import asyncio

    from sqlalchemy import text

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        async with owner.connect() as conn:
            blocked = (
                await conn.execute(
                    text(
                        "select count(*) from pg_stat_activity where datname = current_database()"
                        " and wait_event_type = 'Lock'"
                    )
                )
            ).scalar_one()
        if blocked >= waiting:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{waiting} lock waiter(s) expected, {blocked} seen")
        await asyncio.sleep(0.02)


#: How every GraphQL response body served by the API ends: the query cost of this request.
_COST = b',"extensions":{"cost":{'


def without_cost(body: Any) -> Any:
    """A GraphQL response body (parsed) without ``extensions.cost``, which describes this
    request's bucket and not the answer; for comparing whole bodies."""
    if not isinstance(body, dict) or "extensions" not in body:
        return body
    extensions = {k: v for k, v in body["extensions"].items() if k != "cost"}
    rest = {k: v for k, v in body.items() if k != "extensions"}
    return {**rest, "extensions": extensions} if extensions else rest


def content_without_cost(content: bytes) -> bytes:
    """A GraphQL response's bytes with its trailing ``extensions.cost`` cut off, everything
    before it byte for byte (for replays compared as sent)."""
    at = content.rfind(_COST)
    assert at > 0 and content.endswith(b"}}}}"), content[-200:]
    cost = json.loads(content[at + 1 + len('"extensions":') : -1])
    assert set(cost) == {"cost"}, cost
    return content[:at] + b"}"
