"""Query cost of documents (fragments, aliases, variables, nested connections), counted by
hand from the rules in the README, and the in-memory leaky bucket on a fake clock."""

from __future__ import annotations

import uuid
from typing import Any

import graphql
import pytest
from graphql import GraphQLList, GraphQLNonNull, get_named_type, is_leaf_type, is_object_type

from api import cost
from api.cost import CostModel, MemoryBuckets, ThrottleStatus
from api.schema import build_schema
from lendgraph.settings import Settings
from tests.support import global_id

SCHEMA = build_schema(Settings(environment="test"))._schema
#: A well-formed global ID (the typed ID scalars refuse anything else when variables coerce).
ANY_ID = global_id("Product", uuid.UUID(int=1))
MODEL = CostModel(SCHEMA)

# A schema of its own, with a connection inside a connection's nodes.
LIBRARY = graphql.build_schema(
    """
    type Query {
      authors(first: Int, last: Int): AuthorConnection!
      search(text: String): [SearchResult!]!
    }
    type PageInfo { hasNextPage: Boolean! }
    type AuthorConnection { edges: [AuthorEdge!]! pageInfo: PageInfo! }
    type AuthorEdge { cursor: String! node: Author! }
    type Author { name: String! books(first: Int): BookConnection! agent: Author }
    type BookConnection { edges: [BookEdge!]! pageInfo: PageInfo! }
    type BookEdge { cursor: String! node: Book! }
    type Book { title: String! author: Author! }
    union SearchResult = Author | Book
    """
)


def requested(query: str, variables: dict[str, Any] | None = None, model: CostModel = MODEL) -> int:
    document = graphql.parse(query)
    assert not graphql.validate(model.schema, document), graphql.validate(model.schema, document)
    return model.requested(document, None, variables)


def actual(query: str, data: dict[str, Any], model: CostModel = MODEL) -> int:
    return model.actual(graphql.parse(query), None, None, data)


def test_scalars_are_free_and_objects_cost_one() -> None:
    assert requested("{ __typename }") == 0
    assert requested("{ viewer { kind roles scopes } }") == 1
    # viewer 1, user 1, memberships: 10 assumed x (membership 1 + tenant 1).
    assert requested("{ viewer { user { email memberships { roles tenant { name } } } } }") == 22


def test_connection_costs_two_plus_first_times_a_node() -> None:
    page = "{ products(first: 10) { edges { cursor node { id name } } pageInfo { hasNextPage } } }"
    assert requested(page) == 2 + 10 * 1
    # funder is an object inside each node: 2 + 10 x (1 + 1).
    with_funder = "{ products(first: 10) { edges { node { id funder { name } } } } }"
    assert requested(with_funder) == 22
    # Value objects (Money, the product terms) come with their parent.
    money = "{ products(first: 4) { edges { node { currentTerms { minAmount { amount } } } } } }"
    assert requested(money) == 2 + 4 * (1 + 1)
    # Outside 1 to 100 the resolver refuses the page before loading anything: its own error
    # (BAD_USER_INPUT) is the answer, not a cost.
    assert requested("{ products(first: 5000) { edges { node { id } } } }") == 2
    assert requested("{ products(first: 0) { edges { node { id } } } }") == 2
    assert requested("{ products(first: 100) { edges { node { id } } } }") == 102


def test_variables_set_page_sizes_with_defaults() -> None:
    query = "query($n: Int!) { marketplace(first: $n) { edges { node { id } } } }"
    assert requested(query, {"n": 25}) == 27
    assert requested(query, {"n": 1}) == 3
    defaulted = "query($n: Int = 7) { marketplace(first: $n) { edges { node { id } } } }"
    assert requested(defaulted, {}) == 9
    assert requested(defaulted, {"n": 3}) == 5
    # A variable that is not a number is refused by the executor: nothing runs.
    assert requested(query, {"n": "many"}) == 2


def test_nested_connections_multiply() -> None:
    library = CostModel(LIBRARY)
    query = """
    { authors(first: 5) { edges { node { name books(first: 10) { edges { node { title } } } } } } }
    """
    # 2 + 5 x (author 1 + books (2 + 10 x book 1)).
    assert requested(query, model=library) == 2 + 5 * (1 + 2 + 10)
    deeper = """
    query($a: Int, $b: Int) {
      authors(last: $a) {
        pageInfo { hasNextPage }
        edges { node { agent { name } books(first: $b) { edges { node { author { name } } } } } }
      }
    }"""
    # 2 + 3 x (author 1 + agent 1 + books (2 + 4 x (book 1 + author 1))).
    assert requested(deeper, {"a": 3, "b": 4}, model=library) == 2 + 3 * (1 + 1 + 2 + 4 * 2)


def test_nested_lists_count_their_declared_sizes() -> None:
    query = """
    { deals(first: 3) { edges { node {
        warehouseReceipts { documents { id } }
        timeline { actorUser { email } }
    } } } }"""
    # 2 + 3 x (deal 1 + receipts 20 x (1 + documents 20 x 1) + timeline 50 x (1 + user 1)).
    assert requested(query) == 2 + 3 * (1 + 20 * 21 + 50 * 2)


def test_fragments_are_expanded_where_they_apply() -> None:
    query = """
    fragment Funder on Product { funder { name } }
    fragment Listing on ProductConnection { edges { node { ...Funder } } }
    query($id: ID!) {
      marketplace(first: 3) { ...Listing }
      node(id: $id) {
        id
        ... on Product { ...Funder versions { version } }
        ... on Deal { product { ...Funder } }
      }
    }"""
    # marketplace 2 + 3 x (1 + 1) = 8; node 1 + the costlier of Product (funder 1 +
    # versions 20 x 1 = 21) and Deal (product 1 + funder 1 = 2) = 22.
    assert requested(query, {"id": ANY_ID}) == 8 + 22
    # On a union: the costlier member (Organization has nothing costed; a Person neither).
    applicant = """
    query($id: ID!) { node(id: $id) { ... on Deal {
        applicant { ... on Person { fullName } ... on Organization { name } }
        purchaseOrder { seller { name } buyer { name } }
    } } }"""
    # node 1 + applicant 1 + purchaseOrder 1 + seller 1 + buyer 1.
    assert requested(applicant, {"id": ANY_ID}) == 5


def test_aliases_count_each_and_merged_fields_once() -> None:
    assert requested("{ a: viewer { kind } b: viewer { kind } c: viewer { kind } }") == 3
    # The same response key is one field to the executor.
    assert requested("{ viewer { kind } viewer { user { id } } }") == 2
    quotes = " ".join(
        f'q{i}: quote(productId: "{ANY_ID}", amount: {{amount: "1000", currency: "CNY"}}, '
        "term: 12) "
        "{ quote { apr installments { total { amount } } } }"
        for i in range(30)
    )
    assert requested("{ " + quotes + " }") == 30 * 50


def test_quote_has_its_weight_and_the_schedule_comes_with_it() -> None:
    quote = """
    query($p: ProductID!) {
      quote(productId: $p, amount: {amount: "1000", currency: "CNY"}, term: 12) {
        quote { apr totalInterest { amount } installments { dueDate principal { amount } } }
        userErrors { code }
    } }"""
    assert requested(quote, {"p": ANY_ID}) == 50
    with_product = quote.replace("quote { apr", "quote { product { name } apr")
    assert requested(with_product, {"p": ANY_ID}) == 51


def test_mutations_cost_ten_plus_their_payload() -> None:
    mutation = """
    mutation($a: CreateTenantInput!, $b: CreateTenantInput!) {
      first: createTenant(input: $a) { tenant { id } userErrors { code } }
      second: createTenant(input: $b) { userErrors { code } }
    }"""
    assert requested(mutation, {"a": {}, "b": {}}) == (10 + 1) + 10


def test_nodes_cost_by_the_number_of_ids() -> None:
    assert requested('{ nodes(ids: ["a", "b", "c"]) { id } }') == 3
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Deal { product { name } } } }"
    assert requested(query, {"ids": ["a", "b", "c", "d", "e"]}) == 5 * 2
    assert requested(query, {"ids": "a"}) == 2  # one ID is coerced to a list of one


def test_skip_and_include_are_honoured() -> None:
    query = """
    query($full: Boolean!) {
      viewer { kind user @include(if: $full) { email } tenant @skip(if: $full) { name } }
    }"""
    assert requested(query, {"full": True}) == 2
    assert requested(query, {"full": False}) == 2
    literal = "{ viewer { user @skip(if: true) { email } tenant @include(if: true) { name } } }"
    assert requested(literal) == 2


def test_introspection_is_free() -> None:
    assert requested("{ __schema { types { name fields { name type { name } } } } }") == 0
    assert requested('{ __type(name: "Deal") { fields { name } } viewer { kind } }') == 1


def test_actual_cost_counts_what_was_returned() -> None:
    query = "{ products(first: 10) { edges { node { id funder { name } } } } }"
    three = {"products": {"edges": [{"node": {"id": i, "funder": {"name": "F"}}} for i in "abc"]}}
    assert actual(query, three) == 2 + 3 * 2
    assert actual(query, {"products": {"edges": []}}) == 2
    # A null object costs its field, nothing below it.
    node = 'query { node(id: "x") { ... on Deal { product { funder { name } } } } }'
    assert actual(node, {"node": None}) == 1
    assert actual(node, {"node": {"product": None}}) == 2
    assert actual(node, {"node": {"product": {"funder": {"name": "F"}}}}) == 3
    lists = "{ viewer { user { memberships { tenant { name } } } } }"
    two = {"viewer": {"user": {"memberships": [{"tenant": {"name": "A"}}, {"tenant": None}]}}}
    # viewer 1, user 1, two memberships of 1 each, each with its tenant field (one null): 1.
    assert actual(lists, two) == 1 + 1 + (1 + 1) + (1 + 1)


def test_actual_cost_of_a_union_counts_the_fields_returned() -> None:
    library = CostModel(LIBRARY)
    query = '{ search(text: "x") { ... on Author { agent { name } } ... on Book { title } } }'
    data = {"search": [{"agent": {"name": "A"}}, {"title": "T"}, {"agent": None}]}
    # Author with its agent: 1 + 1; a book: 1; an author without one: 1 + 1 (the field ran).
    assert actual(query, data, model=library) == 2 + 1 + 2


def _unwrap(type_: Any) -> tuple[Any, bool]:
    is_list = False
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        is_list = is_list or isinstance(type_, GraphQLList)
        type_ = type_.of_type
    return type_, is_list


def test_every_costed_list_has_a_declared_size() -> None:
    """A list of objects that cost something must say how many it counts as; every declared
    name must exist (a renamed field would otherwise fall back silently)."""
    undeclared = []
    for type_ in SCHEMA.type_map.values():
        if type_.name.startswith("__") or not is_object_type(type_) or cost.is_connection(type_):
            continue
        for name, field in type_.fields.items():
            item, is_list = _unwrap(field.type)
            key = f"{type_.name}.{name}"
            costed = not is_leaf_type(item) and get_named_type(item).name not in cost.FREE_TYPES
            if is_list and costed and key not in {**cost.LIST_SIZES, **cost.SIZED_BY_ARGUMENT}:
                undeclared.append(key)
    assert undeclared == []
    for key in [*cost.LIST_SIZES, *cost.SIZED_BY_ARGUMENT, *cost.FIELD_WEIGHTS]:
        type_name, field_name = key.split(".")
        assert field_name in SCHEMA.type_map[type_name].fields, key  # type: ignore[union-attr]
    assert all(name in SCHEMA.type_map for name in cost.FREE_TYPES)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_bucket_takes_refuses_restores_and_settles() -> None:
    clock = Clock()
    buckets = MemoryBuckets(100, 10, clock=clock)
    first = await buckets.take("k", 60)
    assert first.granted and first.status == ThrottleStatus(100, 40, 10)
    refused = await buckets.take("k", 50)
    # 10 points short at 10 a second: 1 s; nothing was taken.
    assert not refused.granted and refused.retry_after == 1
    assert refused.status.currently_available == 40
    clock.now += 0.5  # 45 points
    assert (await buckets.take("k", 80)).retry_after == 4  # 35 short: 3.5 s, rounded up
    clock.now += 1  # 55 points
    assert (await buckets.take("k", 50)).granted
    assert (await buckets.status("k")).currently_available == pytest.approx(5)
    # Requested 50, used 20: 30 back.
    assert (await buckets.settle("k", 50, 20)).currently_available == pytest.approx(35)
    # Used more than taken: the excess is taken too, never below empty.
    assert (await buckets.settle("k", 0, 90)).currently_available == 0
    clock.now += 1000
    assert (await buckets.status("k")).currently_available == 100  # never above capacity
    # Other keys have buckets of their own.
    assert (await buckets.take("other", 100)).granted
    assert (await buckets.status("k")).currently_available == 100


async def test_full_buckets_are_forgotten_when_the_table_is_full() -> None:
    clock = Clock()
    buckets = MemoryBuckets(10, 1, clock=clock, max_keys=2)
    await buckets.take("a", 10)
    await buckets.take("b", 1)
    clock.now += 5  # a holds 5, b is full again
    await buckets.take("c", 1)
    assert set(buckets._levels) == {"a", "c"}
    assert (await buckets.status("a")).currently_available == 5


def test_throttle_status_as_reported() -> None:
    status = ThrottleStatus(1000.0, 949.6, 50.0)
    expected = {"maximumAvailable": 1000.0, "currentlyAvailable": 949, "restoreRate": 50.0}
    assert status.as_json() == expected
