"""Which fields of a connection's nodes a page loads for the whole page: the fields selected on
``edges { node }``, also through named and inline fragments, and nothing else."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

from api.prefetch import node_fields


def _info(document: str) -> Any:
    # What node_fields reads of graphql-core's resolve info, for the operation's first field.
    parsed = parse(document)
    operation = next(d for d in parsed.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {
        d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)
    }
    root = operation.selection_set.selections[0]
    return SimpleNamespace(_raw_info=SimpleNamespace(field_nodes=[root], fragments=fragments))


def test_fields_selected_on_the_node() -> None:
    info = _info("{ deals(first: 5) { edges { cursor node { id applicant { __typename } } } } }")
    assert node_fields(info) == {"id", "applicant"}


def test_fields_through_named_and_inline_fragments() -> None:
    info = _info(
        "query { deals(first: 5) { ...Page } }"
        " fragment Page on DealConnection { edges { ... on DealEdge { node { ...Deal"
        " ... { timeline { action } } } } } }"
        " fragment Deal on Deal { applicant { __typename } ...Deal }"
    )
    assert node_fields(info) == {"applicant", "timeline"}


def test_fields_of_nested_objects_are_not_the_nodes() -> None:
    # funder under applicant is the applicant's, not the deal's; pageInfo and cursors are
    # no node's fields.
    info = _info(
        "{ deals(first: 5) { pageInfo { hasNextPage } edges { cursor"
        " node { applicant { ... on Organization { funder: name } } } } } }"
    )
    assert node_fields(info) == {"applicant"}


def test_nothing_without_nodes() -> None:
    assert node_fields(_info("{ deals(first: 5) { pageInfo { endCursor } } }")) == frozenset()
