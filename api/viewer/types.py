"""Who am I."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry.types import Info

from api.tenancy.types import TenantNode, UserNode


@strawberry.enum(description="Whether a person or an application holds the token.")
class PrincipalKind(Enum):
    USER = "USER"
    CLIENT = "CLIENT"


@strawberry.type(description="The caller, as the access token describes them.")
class Viewer:
    kind: PrincipalKind = strawberry.field(description="A user, or a client acting for itself.")
    subject: str = strawberry.field(description="The token's subject.")
    client_id: str = strawberry.field(description="The OAuth client the token was issued to.")
    roles: list[str] = strawberry.field(description="Roles held in this token's context.")
    scopes: list[str] = strawberry.field(description="Scopes granted to this token.")
    user_pk: strawberry.Private[object]
    tenant_pk: strawberry.Private[object]

    @strawberry.field(description="The signed-in user, for user tokens.")
    async def user(self, info: Info) -> UserNode | None:
        if self.user_pk is None:
            return None
        row = await info.context.loaders.users.load(self.user_pk)
        return UserNode.from_row(row) if row else None

    @strawberry.field(description="The tenant this token acts in, if any.")
    async def tenant(self, info: Info) -> TenantNode | None:
        if self.tenant_pk is None:
            return None
        row = await info.context.loaders.tenants.load(self.tenant_pk)
        return TenantNode.from_row(row) if row else None
