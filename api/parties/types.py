"""GraphQL types of parties: organizations and persons."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.relay import load_nodes
from domain.kernel.scopes import Scope
from domain.parties import models, policy

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
            scope=Scope.ORGANIZATIONS_READ,
            to_node=cls.from_row,
            visible=policy.organization_visible,
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
            visible=policy.person_visible,
        )
