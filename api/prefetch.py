"""A page's related objects, loaded once for the whole page.

graphql-core resolves a field of a list item once per item: an async field (a related object
through a DataLoader) costs every item a coroutine, a future and a task, and a page of 50
deals spends more on that machinery than on everything else it shows. So a connection's
resolver loads, for the fields the operation selects on ``edges.node``, the related objects of
the whole page at once - through the same loaders and the same read rules as the field - and
keeps them on each node (:class:`Prefetched`). The field's resolver is synchronous: it returns
what was kept, or, for a node reached another way (``node(id:)``, a mutation's payload), the
awaitable it awaited before, which graphql-core then awaits."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode
from strawberry.types import Info

T = TypeVar("T")
N = TypeVar("N")
N_co = TypeVar("N_co", covariant=True)


class Prefetched:
    """A node that may carry related objects loaded with its page. (A plain class attribute,
    not a dataclass field: a node built one at a time never allocates the table.)"""

    prefetched: dict[str, Any] | None = None

    def keep(self, name: str, value: object) -> None:
        """Keep ``value`` as what field ``name`` returns."""
        if self.prefetched is None:
            self.prefetched = {}
        self.prefetched[name] = value


def kept(node: Prefetched, name: str, load: Callable[[], Awaitable[T]]) -> T | Awaitable[T]:
    """What field ``name`` of ``node`` returns: the value loaded with its page, else the
    awaitable ``load()`` (graphql-core awaits an awaitable a synchronous resolver returns)."""
    found = node.prefetched
    if found is not None and name in found:
        value: T = found[name]
        return value
    return load()


def node_fields(info: Info) -> frozenset[str]:
    """The names of the fields the current connection field selects on ``edges { node }``,
    through fragments, whatever their type conditions and directives: a field named here
    and not executed costs a batch for nothing, never a wrong answer."""
    raw = info._raw_info
    names: set[str] = set()
    for edges in _fields(raw.fragments, [n.selection_set for n in raw.field_nodes], "edges"):
        for node in _fields(raw.fragments, [edges.selection_set], "node"):
            names.update(f.name.value for f in _fields(raw.fragments, [node.selection_set]))
    return frozenset(names)


def _fields(
    fragments: dict[str, Any], sets: Iterable[SelectionSetNode | None], name: str | None = None
) -> Iterator[FieldNode]:
    seen: set[str] = set()
    pending = [s for s in sets if s is not None]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                if name is None or selection.name.value == name:
                    yield selection
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                spread = selection.name.value
                if spread not in seen and spread in fragments:
                    seen.add(spread)
                    pending.append(fragments[spread].selection_set)


class _Loadable(Protocol[N_co]):
    @classmethod
    async def load_by_ids(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> Sequence[N_co | None]: ...


async def related(
    info: Info, node_type: type[_Loadable[N]], pks: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, N | None]:
    """The objects of ``node_type`` with keys ``pks`` (None left out), through the type's one
    read rule (as :func:`api.relay.load_node` applies it to one key): by key, None where the
    caller may not see the object."""
    wanted = list(dict.fromkeys(pk for pk in pks if pk is not None))
    if not wanted:
        return {}
    found = await node_type.load_by_ids(info=info, node_ids=[str(pk) for pk in wanted])
    return dict(zip(wanted, found, strict=True))
