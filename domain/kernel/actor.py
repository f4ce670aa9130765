"""Who is acting: the principal behind a use case, for permission checks and the audit log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from domain.kernel.scopes import Role, Scope


@dataclass(frozen=True, slots=True)
class Actor:
    """A signed-in user (``user_id``) or a client acting for itself (``client_id`` only)."""

    user_id: uuid.UUID | None
    client_id: str | None
    tenant_id: uuid.UUID | None
    scopes: frozenset[str] = field(default_factory=frozenset)
    roles: frozenset[Role] = field(default_factory=frozenset)
    organization_id: uuid.UUID | None = None
    person_id: uuid.UUID | None = None
    request_id: str | None = None

    @property
    def is_platform(self) -> bool:
        """The operator's explicit cross-tenant scope."""
        return Scope.PLATFORM_ADMIN in self.scopes

    def has(self, scope: Scope) -> bool:
        """Whether the token carries ``scope``."""
        return scope.value in self.scopes


SYSTEM = Actor(user_id=None, client_id="lendgraph-system", tenant_id=None)


def require(actor: Actor, scope: Scope) -> None:
    """Refuse the use case unless the actor's token carries ``scope``. The API declares the
    same permission on the field; this keeps the rule when a use case is called from elsewhere."""
    from domain.kernel.errors import DomainError, ErrorCode

    if not actor.has(scope):
        raise DomainError(ErrorCode.FORBIDDEN, f"requires the {scope.value} scope")
