"""Relay helpers: loading nodes by ID with the same checks as the typed fields."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from strawberry.dataloader import DataLoader
from strawberry.types import Info

from api.permissions import actor_has
from domain.kernel.actor import Actor
from domain.kernel.scopes import Scope

N = TypeVar("N")
N_co = TypeVar("N_co", covariant=True)


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
    scope: Scope | tuple[Scope, ...],
    to_node: Callable[[Any], N],
    visible: Callable[[Actor, Any], bool] = lambda actor, row: True,
    own: Callable[[Actor, Any], bool] | None = None,
) -> list[N | None]:
    """Nodes for ``node_ids`` in order, by the type's one read rule (used by ``node(id:)`` and
    by every field that returns the type): the token carries ``scope`` (or one of them), the
    row is visible under row-level security (the loader reads through it) and passes
    ``visible``; or the row is the actor's own (``own``: the viewer's user, tenant, person or
    company), which needs no scope. None where the ID is malformed or nothing is visible."""
    ids = [parse_uuid(i) for i in node_ids]
    scopes = scope if isinstance(scope, tuple) else (scope,)
    granted = any(actor_has(info, s) for s in scopes)
    if not granted and own is None:
        return [None] * len(ids)
    actor: Actor = info.context.actor
    wanted = [i for i in ids if i is not None]
    rows = await loader(info.context.loaders).load_many(wanted)
    by_id = dict(zip(wanted, rows, strict=True))
    out: list[N | None] = []
    for i in ids:
        row = by_id.get(i) if i is not None else None
        ok = row is not None and (
            (granted and visible(actor, row)) or (own is not None and own(actor, row))
        )
        out.append(to_node(row) if ok else None)
    return out


class _Loadable(Protocol[N_co]):
    @classmethod
    async def load_by_ids(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> Sequence[N_co | None]: ...


async def load_node(info: Info, node_type: type[_Loadable[N]], pk: Any | None) -> N | None:
    """One related object by its key, through its type's read rule (the one ``node(id:)``
    applies), so that a field never shows what ``node(id:)`` would not."""
    if pk is None:
        return None
    return (await node_type.load_by_ids(info=info, node_ids=[str(pk)]))[0]


async def load_node_list(info: Info, node_type: type[_Loadable[N]], pks: Iterable[Any]) -> list[N]:
    """Related objects by their keys, in order, through their type's read rule; the ones the
    caller may not see are left out."""
    found = await node_type.load_by_ids(info=info, node_ids=[str(pk) for pk in pks])
    return [node for node in found if node is not None]


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
