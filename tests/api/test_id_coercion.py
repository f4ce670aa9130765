"""Malformed and wrong-type global IDs are refused when the input is coerced, like a
malformed ``Int``: a 400 with no ``data``, a code, and no resolver run (counted)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest

from api.ids import NODE_TYPE_NAMES, TYPED_IDS, decode
from api.schema import NODE_TYPES
from tests.support import World, access_token, global_id, gql, seed_world, without_cost


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


SOME_UUID = "6f1c3b7e-0d55-4a43-9a4c-2a3d3b5e9f10"
MALFORMED: dict[str, Any] = {
    "empty": "",
    "not-base64": "!!!",
    "plain-uuid": SOME_UUID,
    "no-colon": b64("Deal"),
    "empty-node-id": b64("Deal:"),
    "not-a-uuid": b64("Deal:123"),
    "unknown-type": b64(f"Nope:{SOME_UUID}"),
    "not-utf8": base64.b64encode(b"\xff\xfe:x").decode(),
    "number": 12,
    "object": {"id": "x"},
}


def test_node_type_names_are_the_schemas() -> None:
    assert set(NODE_TYPE_NAMES) == set(NODE_TYPES)


def test_decode_by_hand() -> None:
    gid = decode(b64(f"Deal:{SOME_UUID}"), ("Deal",))
    assert (gid.type_name, gid.node_id) == ("Deal", SOME_UUID)
    for value in MALFORMED.values():
        with pytest.raises(ValueError, match=r"string|not a global ID"):
            decode(value)
    with pytest.raises(ValueError, match="not the ID of a Person or an Organization"):
        decode(b64(f"Deal:{SOME_UUID}"), TYPED_IDS["PartyID"])


@pytest.fixture
async def world(app_state: Any) -> World:
    return await seed_world(app_state)


@pytest.fixture
async def admin(client: httpx.AsyncClient, world: World) -> str:
    return await access_token(client, world.admin_email)


@pytest.fixture
def resolver_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the resolvers of node, nodes, submitDeal and quote, as they are called."""
    from api.deals import mutations as deal_mutations
    from api.products import queries as product_queries

    calls: list[str] = []
    for type_name in NODE_TYPES:
        original = NODE_TYPES[type_name].load_by_ids

        async def counted(*args: Any, _o: Any = original, _t: str = type_name, **kw: Any) -> Any:
            calls.append(f"load:{_t}")
            return await _o(*args, **kw)

        monkeypatch.setattr(NODE_TYPES[type_name], "load_by_ids", counted)
    for module, name in ((deal_mutations, "deal_id"), (product_queries, "id_of")):
        original_fn = getattr(module, name)

        def counted_fn(*args: Any, _o: Any = original_fn, _n: str = name, **kw: Any) -> Any:
            calls.append(_n)
            return _o(*args, **kw)

        monkeypatch.setattr(module, name, counted_fn)
    return calls


def refused(response: httpx.Response, code: str) -> list[str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["data"] is None, body
    assert body["errors"], body
    for error in body["errors"]:
        assert error["extensions"]["code"] == code, body
        assert "path" not in error, body  # not a field's error: nothing ran
    return [e["message"] for e in body["errors"]]


NODE = "query($id: ID!) { node(id: $id) { id } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
SUBMIT = "mutation($input: SubmitDealInput!) { submitDeal(input: $input) { userErrors { code } } }"
QUOTE = """query($p: ProductID!) { quote(productId: $p, amount: {amount: "100.00", currency: "CNY"},
  term: 12) { userErrors { code } } }"""


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_malformed_ids_are_refused_before_any_resolver(
    client: httpx.AsyncClient, admin: str, resolver_calls: list[str], name: str
) -> None:
    value = MALFORMED[name]
    tenant = global_id("Tenant", uuid.uuid4())
    cases = [
        (NODE, {"id": value}),
        (NODES, {"ids": [tenant, value]}),
        (SUBMIT, {"input": {"id": value}}),
        (QUOTE, {"p": value}),
    ]
    for document, variables in cases:
        messages = refused(await gql(client, admin, document, variables), "BAD_USER_INPUT")
        assert all(m.startswith("Variable '$") for m in messages), messages
    assert resolver_calls == []


async def test_inline_malformed_ids_are_refused_by_validation(
    client: httpx.AsyncClient, admin: str, resolver_calls: list[str]
) -> None:
    for document in (
        '{ node(id: "!!!") { id } }',
        "{ node(id: 5) { id } }",
        '{ nodes(ids: ["", "x"]) { id } }',
        'mutation { submitDeal(input: {id: "!!!"}) { userErrors { code } } }',
        "mutation { submitDeal(input: {id: 7}) { userErrors { code } } }",
    ):
        messages = refused(await gql(client, admin, document), "GRAPHQL_VALIDATION_FAILED")
        assert any("cannot represent" in m for m in messages), messages
    assert resolver_calls == []


async def test_another_types_id_is_refused_before_any_resolver(
    client: httpx.AsyncClient, admin: str, world: World, resolver_calls: list[str]
) -> None:
    tenant = global_id("Tenant", world.a.id)
    [message] = refused(
        await gql(client, admin, SUBMIT, {"input": {"id": tenant}}), "BAD_USER_INPUT"
    )
    assert message.endswith(
        "DealID cannot represent " + f'"{tenant[:40]}...": not the ID of a Deal'
    )
    [message] = refused(await gql(client, admin, QUOTE, {"p": tenant}), "BAD_USER_INPUT")
    assert "not the ID of a Product" in message
    inline = 'mutation { submitDeal(input: {id: "TENANT"}) { userErrors { code } } }'
    inline = inline.replace("TENANT", tenant)
    refused(await gql(client, admin, inline), "GRAPHQL_VALIDATION_FAILED")
    assert resolver_calls == []


async def test_well_formed_ids_still_reach_the_resolvers(
    client: httpx.AsyncClient, admin: str, world: World, resolver_calls: list[str]
) -> None:
    # The positive control: an existing tenant resolves, an unknown deal is the use case's
    # NOT_FOUND, an unknown node is null.
    tenant = global_id("Tenant", world.a.id)
    response = await gql(client, admin, NODE, {"id": tenant})
    assert without_cost(response.json()) == {"data": {"node": {"id": tenant}}}
    response = await gql(client, admin, NODE, {"id": global_id("Deal", uuid.uuid4())})
    assert without_cost(response.json()) == {"data": {"node": None}}
    response = await gql(client, admin, SUBMIT, {"input": {"id": global_id("Deal", uuid.uuid4())}})
    assert without_cost(response.json()) == {
        "data": {"submitDeal": {"userErrors": [{"code": "NOT_FOUND"}]}}
    }
    assert resolver_calls == ["load:Tenant", "load:Deal", "deal_id"]
