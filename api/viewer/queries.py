"""The ``viewer`` query."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.permissions import Authenticated
from api.viewer.types import PrincipalKind, Viewer


@strawberry.type
class ViewerQueries:
    @strawberry.field(
        description="Who am I: principal, tenant, roles and scopes.",
        permission_classes=[Authenticated],
    )
    def viewer(self, info: Info) -> Viewer:
        p = info.context.principal
        return Viewer(
            kind=PrincipalKind.USER if p.user_id else PrincipalKind.CLIENT,
            subject=p.subject,
            client_id=p.client_id,
            roles=sorted(r.value for r in p.roles),
            scopes=sorted(p.scopes),
            user_pk=p.user_id,
            tenant_pk=p.tenant_id,
        )
