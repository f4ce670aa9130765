"""Permission classes, declared on fields and mutations by scope."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.permission import BasePermission
from strawberry.types import Info

from domain.kernel.scopes import Scope

AUTHENTICATION_REQUIRED = "Authentication required"


class NotAuthenticated(GraphQLError):
    """A request without a token reached a field that needs one: the same refusal on every
    field, whatever scope the field would need (``FORBIDDEN`` is for a token without it)."""

    def __init__(self) -> None:
        super().__init__(AUTHENTICATION_REQUIRED, extensions={"code": "UNAUTHENTICATED"})


def scopes_of(info: Info) -> frozenset[str]:
    """The token's scopes; :class:`NotAuthenticated` when there is no token."""
    principal = info.context.principal
    if principal is None:
        raise NotAuthenticated
    return frozenset(principal.scopes)


class Authenticated(BasePermission):
    """Any valid bearer token."""

    message = AUTHENTICATION_REQUIRED
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.principal is not None


def has_scope(*scopes: Scope) -> type[BasePermission]:
    """A permission class that needs a token (``UNAUTHENTICATED`` without one) carrying one of
    ``scopes`` (``FORBIDDEN`` otherwise)."""
    wanted = frozenset(s.value for s in scopes)
    names = " or ".join(s.value for s in scopes)

    class HasScope(BasePermission):
        message = f"Requires the {names} scope"
        error_extensions = {"code": "FORBIDDEN"}

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            return bool(wanted & scopes_of(info))

    HasScope.__name__ = "HasScope_" + "_".join(s.name for s in scopes)
    return HasScope


def actor_has(info: Info, scope: Scope) -> bool:
    """For checks on objects loaded by ID, ``node`` included."""
    return bool(info.context.actor.has(scope))
