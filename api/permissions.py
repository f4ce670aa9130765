"""Permission classes, declared on fields and mutations by scope."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from domain.kernel.scopes import Scope


class Authenticated(BasePermission):
    """Any valid bearer token."""

    message = "Authentication required"
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.principal is not None


def has_scope(scope: Scope) -> type[BasePermission]:
    """A permission class that needs ``scope`` in the token."""

    class HasScope(BasePermission):
        message = f"Requires the {scope.value} scope"
        error_extensions = {"code": "FORBIDDEN"}

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            principal = info.context.principal
            return principal is not None and scope.value in principal.scopes

    HasScope.__name__ = f"HasScope_{scope.name}"
    return HasScope


def actor_has(info: Info, scope: Scope) -> bool:
    """For checks on objects loaded by ID, ``node`` included."""
    return bool(info.context.actor.has(scope))
