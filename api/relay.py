"""Relay helpers: loading nodes by ID with the same checks as the typed fields."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader
from strawberry.types import Info

from api.permissions import actor_has
from domain.kernel.actor import Actor
from domain.kernel.scopes import Scope

N = TypeVar("N")


def parse_uuid(value: str) -> uuid.UUID | None:
    """The UUID inside a node ID, or None when it is not one (so the node is 'not found')."""
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError):
        return None


async def load_nodes(
    info: Info,
    node_ids: Iterable[str],
    *,
    loader: Callable[[Any], DataLoader[uuid.UUID, Any]],
    scope: Scope,
    to_node: Callable[[Any], N],
    visible: Callable[[Actor, Any], bool] = lambda actor, row: True,
) -> list[N | None]:
    """Nodes for ``node_ids`` in order; None where the ID is malformed, the row does not exist,
    the token lacks ``scope`` or the object belongs to someone the actor may not see."""
    ids = [parse_uuid(i) for i in node_ids]
    if not actor_has(info, scope):
        return [None] * len(ids)
    actor: Actor = info.context.actor
    wanted = [i for i in ids if i is not None]
    rows = await loader(info.context.loaders).load_many(wanted)
    by_id = dict(zip(wanted, rows, strict=True))
    out: list[N | None] = []
    for i in ids:
        row = by_id.get(i) if i is not None else None
        out.append(to_node(row) if row is not None and visible(actor, row) else None)
    return out


def same_tenant(actor: Actor, tenant_id: uuid.UUID | None) -> bool:
    """The application-level tenant check under row-level security: the operator sees every
    tenant; anyone else only their own."""
    return actor.is_platform or (tenant_id is not None and tenant_id == actor.tenant_id)


def id_of(gid: Any | None, type_name: str, field: str) -> uuid.UUID | None:
    """The UUID inside a global ID of ``type_name``; a refusal when it names another type or
    is malformed, so that a wrong ID reads exactly like a missing one."""
    from domain.kernel.errors import DomainError, ErrorCode

    if gid is None:
        return None
    value = parse_uuid(gid.node_id) if gid.type_name == type_name else None
    if value is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"no such {type_name.lower()}", field)
    return value


def required(value: uuid.UUID | None) -> uuid.UUID:
    """The result of :func:`id_of` for a non-null argument."""
    assert value is not None  # a non-null GlobalID argument always decodes to a value
    return value
