"""Who am I."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry.types import Info

from api.relay import load_node
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
        return await load_node(info, UserNode, self.user_pk)

    @strawberry.field(description="The tenant this token acts in, if any.")
    async def tenant(self, info: Info) -> TenantNode | None:
        return await load_node(info, TenantNode, self.tenant_pk)
