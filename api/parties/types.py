"""GraphQL types of parties: organizations and persons. Who sees which is row-level security's
one rule (platform, the public kinds, yourself, the applicants of a funder's deals, the parties
an app acts for, counterparties), applied alike by ``node(id:)`` and every field that returns
a party."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.relay import load_node, load_nodes
from api.tenancy.types import TenantNode
from domain.kernel.scopes import Scope
from domain.parties import models

OrganizationKind = strawberry.enum(
    models.OrganizationKind, description="The part an organization plays in the marketplace."
)


@strawberry.type(name="Organization", description="A company known by its social credit code.")
class OrganizationNode(relay.Node):
    id: relay.NodeID[str]
    kind: OrganizationKind = strawberry.field(description="Role in the marketplace.")  # type: ignore[valid-type]
    name: str = strawberry.field(description="Registered name.")
    social_credit_code: str = strawberry.field(description="Unified social credit code.")
    created_at: datetime = strawberry.field(description="When it was onboarded.")

    @classmethod
    def from_row(cls, row: models.Organization) -> OrganizationNode:
        return cls(
            id=str(row.id),
            kind=row.kind,
            name=row.name,
            social_credit_code=row.social_credit_code,
            created_at=row.created_at,
        )

    @classmethod
    async def load_by_ids(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[OrganizationNode | None]:
        return await load_nodes(
            info,
            node_ids,
            loader=lambda loaders: loaders.organizations,
            # Marketplace readers see the public kinds (a product's eligible core enterprises
            # and accepted warehouses); organizations:read whatever row-level security shows.
            scope=(Scope.ORGANIZATIONS_READ, Scope.MARKETPLACE_READ),
            to_node=cls.from_row,
            visible=lambda actor, row: (
                actor.has(Scope.ORGANIZATIONS_READ) or row.kind in models.PUBLIC_ORGANIZATION_KINDS
            ),
            own=lambda actor, row: row.id == actor.organization_id,
        )


@strawberry.type(name="Person", description="A natural person; identifiers are shown masked.")
class PersonNode(relay.Node):
    id: relay.NodeID[str]
    full_name: str = strawberry.field(description="Name as on the identity card.")
    resident_id_masked: str = strawberry.field(description="Resident ID, masked.")
    phone_masked: str | None = strawberry.field(description="Mobile number, masked.")
    created_at: datetime = strawberry.field(description="When the person was registered.")

    @classmethod
    def from_row(cls, row: models.Person) -> PersonNode:
        return cls(
            id=str(row.id),
            full_name=row.full_name,
            resident_id_masked=row.resident_id_masked,
            phone_masked=row.phone_masked,
            created_at=row.created_at,
        )

    @classmethod
    async def load_by_ids(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[PersonNode | None]:
        return await load_nodes(
            info,
            node_ids,
            loader=lambda loaders: loaders.persons,
            scope=Scope.PERSONS_READ,
            to_node=cls.from_row,
            own=lambda actor, row: row.id == actor.person_id,
        )


class _AgentAuthorizationKind(StrEnum):
    ACTS_FOR = "ACTS_FOR"
    STORES_FOR = "STORES_FOR"
    CUSTOMER_OF = "CUSTOMER_OF"


AgentAuthorizationKind = strawberry.enum(
    _AgentAuthorizationKind,
    name="AgentAuthorizationKind",
    description="What the agent does for the party: a partner ACTS_FOR it (its app applies "
    "for the party and submits its orders); a warehouse STORES_FOR a cargo owner (and issues "
    "receipts to it); the party is a CUSTOMER_OF a funder (whose own app applies for it).",
)
GrantedBy = strawberry.enum(
    models.GrantedBy,
    description="How the relationship came about: the agent's app onboarded the party, the "
    "party authorised the agent, or the platform operator recorded it.",
)

Party = Annotated[
    PersonNode | OrganizationNode,
    strawberry.union("Party", description="A person or a company."),
]


@strawberry.type(
    description="A recorded relationship: someone acting for a party. Deals, orders and "
    "receipts may name a party only through such a relationship (or the party itself)."
)
class AgentAuthorization:
    id: strawberry.ID = strawberry.field(description="The relationship's identifier.")
    kind: AgentAuthorizationKind = strawberry.field(description="What the agent does.")  # type: ignore[valid-type]
    granted_by: GrantedBy = strawberry.field(description="How it came about.")  # type: ignore[valid-type]
    created_at: datetime = strawberry.field(description="When it was recorded.")
    revoked_at: datetime | None = strawberry.field(description="When it ended, if it has.")
    agent_organization_pk: strawberry.Private[uuid.UUID | None]
    agent_tenant_pk: strawberry.Private[uuid.UUID | None]
    person_pk: strawberry.Private[uuid.UUID | None]
    organization_pk: strawberry.Private[uuid.UUID | None]

    @classmethod
    def from_row(cls, row: models.PartyAgent | models.TenantCustomer) -> AgentAuthorization:
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=_AgentAuthorizationKind.CUSTOMER_OF
            if isinstance(row, models.TenantCustomer)
            else _AgentAuthorizationKind(row.kind.value),
            granted_by=row.granted_by,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
            agent_organization_pk=None
            if isinstance(row, models.TenantCustomer)
            else row.agent_organization_id,
            agent_tenant_pk=row.tenant_id if isinstance(row, models.TenantCustomer) else None,
            person_pk=row.person_id,
            organization_pk=row.organization_id,
        )

    @strawberry.field(description="The partner or warehouse acting, if an organization.")
    async def agent_organization(self, info: Info) -> OrganizationNode | None:
        return await load_node(info, OrganizationNode, self.agent_organization_pk)

    @strawberry.field(description="The funder acting, if a funder.")
    async def agent_funder(self, info: Info) -> TenantNode | None:
        return await load_node(info, TenantNode, self.agent_tenant_pk)

    @strawberry.field(description="The party acted for.")
    async def party(self, info: Info) -> Party | None:
        if self.person_pk is not None:
            return await load_node(info, PersonNode, self.person_pk)
        return await load_node(info, OrganizationNode, self.organization_pk)


DealApplicant = Annotated[
    PersonNode | OrganizationNode,
    strawberry.union(
        "DealApplicant",
        description="Who applies: a person (consumer credit) or a company (the other lines).",
    ),
]
