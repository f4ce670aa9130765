"""GraphQL types of tenancy: tenants, users, memberships and OAuth clients."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.relay import load_node, load_nodes, same_tenant
from domain.kernel.actor import Actor
from domain.kernel.scopes import Scope
from tenants import models

TenantKind = strawberry.enum(models.TenantKind, description="What kind of funder a tenant is.")
Status = strawberry.enum(models.Status, description="Whether a tenant, user or client may act.")
ClientKind = strawberry.enum(models.ClientKind, description="Who holds an OAuth client.")


@strawberry.type(name="Tenant", description="A funder: bank, insurer or private lender.")
class TenantNode(relay.Node):
    id: relay.NodeID[str]
    name: str = strawberry.field(description="Display name.")
    slug: str = strawberry.field(description="Unique short name used in URLs and sign-in.")
    registration_number: str | None = strawberry.field(
        description="Unified social credit code; null until the operator records it."
    )
    kind: TenantKind = strawberry.field(description="Bank, insurer or private lender.")  # type: ignore[valid-type]
    time_zone: str = strawberry.field(description="IANA time zone of the business date.")
    currency: str = strawberry.field(description="ISO 4217 booking currency.")
    status: Status = strawberry.field(description="Active or disabled.")  # type: ignore[valid-type]
    created_at: datetime = strawberry.field(description="When the tenant was onboarded.")

    @classmethod
    def from_row(cls, row: models.Tenant) -> TenantNode:
        return cls(
            id=str(row.id),
            name=row.name,
            slug=row.slug,
            registration_number=row.registration_number,
            kind=row.kind,
            time_zone=row.time_zone,
            currency=row.currency,
            status=row.status,
            created_at=row.created_at,
        )

    @classmethod
    async def load_by_ids(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[TenantNode | None]:
        # Funders are platform-level data: row-level security shows a principal its own
        # tenant, the funders listed in the marketplace and the funders of its deals.
        return await load_nodes(
            info,
            node_ids,
            loader=lambda loaders: loaders.tenants,
            scope=(Scope.TENANTS_READ, Scope.MARKETPLACE_READ, Scope.DEALS_READ),
            to_node=cls.from_row,
            own=lambda actor, row: row.id == actor.tenant_id,
        )


@strawberry.type(description="A user's roles in one tenant.")
class Membership:
    tenant_id: strawberry.Private[object]
    roles: list[str] = strawberry.field(description="Roles held in the tenant.")

    @strawberry.field(description="The tenant.")
    async def tenant(self, info: Info) -> TenantNode | None:
        return await load_node(info, TenantNode, self.tenant_id)


@strawberry.type(name="User", description="Someone who signs in.")
class UserNode(relay.Node):
    id: relay.NodeID[str]
    email: str = strawberry.field(description="Sign-in e-mail address.")
    display_name: str = strawberry.field(description="Name shown to others.")
    platform_roles: list[str] = strawberry.field(description="Roles held on the platform.")
    status: Status = strawberry.field(description="Active or disabled.")  # type: ignore[valid-type]
    created_at: datetime = strawberry.field(description="When the user was created.")

    @classmethod
    def from_row(cls, row: models.User) -> UserNode:
        return cls(
            id=str(row.id),
            email=row.email,
            display_name=row.display_name,
            platform_roles=list(row.platform_roles),
            status=row.status,
            created_at=row.created_at,
        )

    @strawberry.field(description="The user's tenant memberships visible to the caller.")
    async def memberships(self, info: Info) -> list[Membership]:
        rows = await info.context.loaders.memberships_of_user.load(uuid.UUID(self.id))
        actor: Actor = info.context.actor
        return [
            Membership(tenant_id=m.tenant_id, roles=list(m.roles))
            for m in rows
            if same_tenant(actor, m.tenant_id)
        ]

    @classmethod
    async def load_by_ids(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[UserNode | None]:
        return await load_nodes(
            info,
            node_ids,
            loader=lambda loaders: loaders.users,
            scope=Scope.USERS_READ,
            to_node=cls.from_row,
            own=lambda actor, row: row.id == actor.user_id,
        )


@strawberry.type(
    name="OAuthClient", description="An OAuth 2.0 client; its secret is never shown again."
)
class OAuthClientNode(relay.Node):
    id: relay.NodeID[str]
    client_id: str = strawberry.field(description="Public client identifier.")
    name: str = strawberry.field(description="Display name.")
    kind: ClientKind = strawberry.field(description="Partner app, service account or first party.")  # type: ignore[valid-type]
    scopes: list[str] = strawberry.field(description="Scopes the client may request.")
    grant_types: list[str] = strawberry.field(description="OAuth grant types it may use.")
    status: Status = strawberry.field(description="Active or disabled.")  # type: ignore[valid-type]
    created_at: datetime = strawberry.field(description="When the client was registered.")
    tenant_pk: strawberry.Private[object]

    @classmethod
    def from_row(cls, row: models.OAuthClient) -> OAuthClientNode:
        return cls(
            id=str(row.id),
            client_id=row.client_id,
            name=row.name,
            kind=row.kind,
            scopes=list(row.scopes),
            grant_types=list(row.grant_types),
            status=row.status,
            created_at=row.created_at,
            tenant_pk=row.tenant_id,
        )

    @strawberry.field(description="The tenant a service account acts for, if any.")
    async def tenant(self, info: Info) -> TenantNode | None:
        return await load_node(info, TenantNode, self.tenant_pk)

    @classmethod
    async def load_by_ids(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[OAuthClientNode | None]:
        return await load_nodes(
            info,
            node_ids,
            loader=lambda loaders: loaders.clients,
            scope=Scope.CLIENTS_READ,
            to_node=cls.from_row,
            visible=lambda actor, row: same_tenant(actor, row.tenant_id),
        )
