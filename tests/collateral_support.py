"""Helpers for supply-chain tests: the parties of a purchase order and a warehouse receipt,
their users, and sessions bound the way the API binds them."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.cn import uscc

from api.context import db_scope
from api.state import AppState
from domain.collateral import service
from domain.collateral.models import DocumentKind
from domain.kernel.actor import Actor
from domain.kernel.money import Money
from domain.kernel.scopes import Role, scopes_for_roles
from domain.parties import service as party_service
from domain.parties.models import OrganizationKind
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE, DbScope
from integrations.storage import document_storage
from lendgraph.demo import SEEDER
from tenants import service as tenant_service
from tests.support import PASSWORD, World, relate


def social_credit_code(n: int) -> str:
    base = f"91310000MA1K{n:05d}"
    return base + str(uscc.calc_check_digit(base))


@dataclass(frozen=True)
class OrgUser:
    """A user acting for an organization, with the e-mail to sign in with."""

    user_id: uuid.UUID
    org_id: uuid.UUID
    role: Role
    email: str

    def actor(self) -> Actor:
        return Actor(
            user_id=self.user_id,
            client_id="test-console",
            tenant_id=None,
            scopes=frozenset(s.value for s in scopes_for_roles({self.role})),
            roles=frozenset({self.role}),
            organization_id=self.org_id,
        )


@dataclass(frozen=True)
class Chain:
    """The supply chain around seed_world's core enterprise and trading company."""

    warehouse_id: uuid.UUID
    cargo_owner_id: uuid.UUID
    other_core_id: uuid.UUID
    core_user: OrgUser
    seller_user: OrgUser
    warehouse_user: OrgUser
    owner_user: OrgUser
    other_core_user: OrgUser


async def supply_chain(state: AppState, world: World) -> Chain:
    """A warehouse, a cargo owner, a second core enterprise and a user for each party."""
    async with open_session(state.sessions, PLATFORM_SCOPE) as s:
        orgs = {}
        for n, (kind, name) in enumerate(
            [
                (OrganizationKind.WAREHOUSE, "Depot Co"),
                (OrganizationKind.CARGO_OWNER, "Cargo Co"),
                (OrganizationKind.CORE_ENTERPRISE, "Other Core Co"),
            ]
        ):
            org = await party_service.create_organization(
                s, SEEDER, kind=kind, name=name, social_credit_code=social_credit_code(n)
            )
            orgs[kind if kind != OrganizationKind.CORE_ENTERPRISE else "other"] = org.id
        users = {}
        for key, org_id, role in [
            ("core", world.core_enterprise_id, Role.CORE_ENTERPRISE_USER),
            ("seller", world.borrower_org_id, Role.BORROWER),
            ("warehouse", orgs[OrganizationKind.WAREHOUSE], Role.WAREHOUSE_USER),
            ("owner", orgs[OrganizationKind.CARGO_OWNER], Role.BORROWER),
            ("other_core", orgs["other"], Role.CORE_ENTERPRISE_USER),
        ]:
            email = f"{key.replace('_', '-')}@chain.test"
            created = await tenant_service.create_user(
                s,
                SEEDER,
                email=email,
                display_name=key,
                roles=[role.value],
                tenant_id=None,
                password=PASSWORD,
                organization_id=org_id,
            )
            users[key] = OrgUser(created.user.id, org_id, role, email)
        await s.commit()
    # The cargo owner keeps its goods at the warehouse, which may then issue it receipts.
    await relate(
        state,
        agent_organization_id=orgs[OrganizationKind.WAREHOUSE],
        organization_id=orgs[OrganizationKind.CARGO_OWNER],
    )
    return Chain(
        warehouse_id=orgs[OrganizationKind.WAREHOUSE],
        cargo_owner_id=orgs[OrganizationKind.CARGO_OWNER],
        other_core_id=orgs["other"],
        core_user=users["core"],
        seller_user=users["seller"],
        warehouse_user=users["warehouse"],
        owner_user=users["owner"],
        other_core_user=users["other_core"],
    )


def session_of(state: AppState, actor: Actor) -> AsyncSession:
    """A session bound as the API binds this actor's requests."""
    return open_session(state.sessions, db_scope(actor))


def tenant_session(state: AppState, tenant_id: uuid.UUID) -> AsyncSession:
    """A session bound to a funder alone, as a deals use case of that funder would run."""
    return open_session(state.sessions, DbScope(tenant_id=tenant_id))


async def issue_receipt(
    state: AppState, chain: Chain, number: str = "WR-0001", owner_id: uuid.UUID | None = None
) -> uuid.UUID:
    """An ISSUED receipt for 25.5 t of copper at 68,000.00 CNY/t, committed, to the chain's
    cargo owner (or ``owner_id``, which the warehouse must store goods for)."""
    actor = chain.warehouse_user.actor()
    async with session_of(state, actor) as s:
        receipt = await service.issue_warehouse_receipt(
            s,
            actor,
            owner_organization_id=owner_id or chain.cargo_owner_id,
            number=number,
            goods_description="Copper cathode, grade A",
            quantity=Decimal("25.5"),
            unit="t",
            location="Shed 4, bay 12",
            unit_price=Money.parse("68000.00", "CNY"),
        )
        await s.commit()
    return receipt.id


async def submit_order(
    state: AppState, world: World, chain: Chain, number: str = "PO-0001"
) -> uuid.UUID:
    """A PENDING_CONFIRMATION order of 1,250,000.00 CNY that seed_world's core enterprise owes
    its trading company, submitted by the seller's user, committed."""
    actor = chain.seller_user.actor()
    async with session_of(state, actor) as s:
        order = await service.create_purchase_order(
            s,
            actor,
            buyer_organization_id=world.core_enterprise_id,
            number=number,
            amount=Money.parse("1250000.00", "CNY"),
            issue_date=date(2026, 12, 1),
            due_date=date(2027, 3, 1),
        )
        await s.commit()
    return order.id


def pdf(marker: str = "") -> bytes:
    """A small PDF; a distinct ``marker`` gives distinct content (and so a new stored object,
    documents being stored by their SHA-256)."""
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n"
        + f"% {marker}\n".encode()
        + b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


async def store_document(
    state: AppState,
    user: OrgUser,
    *,
    file_name: str = "invoice.pdf",
    kind: DocumentKind = DocumentKind.INVOICE,
    purchase_order_id: uuid.UUID | None = None,
    warehouse_receipt_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """A PDF uploaded by ``user`` for its organization, attached to an order or a receipt when
    one is named, committed (its bytes in the deployment's document storage)."""

    async def content() -> AsyncIterator[bytes]:
        yield pdf(file_name)

    actor = user.actor()
    async with session_of(state, actor) as s:
        document = await service.upload_document(
            s,
            actor,
            document_storage(state.settings.data_dir),
            content=content(),
            kind=kind,
            file_name=file_name,
            purchase_order_id=purchase_order_id,
            warehouse_receipt_id=warehouse_receipt_id,
        )
        await s.commit()
    return document.id


def stored_objects(state: AppState) -> frozenset[str]:
    """The keys (SHA-256) of every object in the deployment's document storage."""
    root = Path(state.settings.data_dir) / "documents" / "objects"
    return (
        frozenset(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else frozenset()
    )


async def gql_upload(
    client: httpx.AsyncClient,
    token: str | None,
    query: str,
    variables: dict[str, Any],
    content: bytes,
    *,
    path: str = "variables.input.file",
    file_name: str = "document.pdf",
    content_type: str = "application/pdf",
) -> httpx.Response:
    """POST ``query`` as a GraphQL multipart request
    (https://github.com/jaydenseric/graphql-multipart-request-spec): ``content`` is the one
    file, sent for the variable at ``path`` (which ``variables`` holds as null). Carries the
    ``apollo-require-preflight`` header the API requires of multipart requests (CSRF)."""
    operations = {"query": query, "variables": variables}
    headers = {"apollo-require-preflight": "true"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return await client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": [path]})},
        files={"0": (file_name, content, content_type)},
        headers=headers,
    )
