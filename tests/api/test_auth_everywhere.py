"""One refusal for a request without a token on every root field - ``UNAUTHENTICATED`` - and
``FORBIDDEN`` for a token without the field's scope. The fields are found by introspection,
so a new field without a permission fails here. Each is called with arguments of the right
types (built from the schema), so that the refusal is the permission's, not the input's."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from api.ids import TYPED_IDS
from tests.collateral_support import gql_upload, pdf
from tests.support import World, access_token, global_id, gql, seed_world

TYPE_REF = "kind name ofType { kind name ofType { kind name ofType { kind name } } }"
INTROSPECTION = f"""
{{ __schema {{
    queryType {{ name }} mutationType {{ name }}
    types {{
      name kind
      enumValues {{ name }}
      inputFields {{ name defaultValue type {{ {TYPE_REF} }} }}
      fields {{ name args {{ name defaultValue type {{ {TYPE_REF} }} }} type {{ {TYPE_REF} }} }}
    }}
}} }}"""


def _named(ref: dict[str, Any]) -> dict[str, Any]:
    while ref.get("ofType"):
        ref = ref["ofType"]
    return ref


def _type_string(ref: dict[str, Any]) -> str:
    if ref["kind"] == "NON_NULL":
        return _type_string(ref["ofType"]) + "!"
    if ref["kind"] == "LIST":
        return f"[{_type_string(ref['ofType'])}]"
    return str(ref["name"])


class Values:
    """A value of the right type for every input, required fields only; ``uploads`` collects
    the variable paths that need a file."""

    SCALARS: dict[str, Any] = {
        "String": "x",
        "Int": 1,
        "Float": 1.0,
        "Boolean": False,
        "Date": "2026-01-15",
        "DateTime": "2026-01-15T00:00:00+00:00",
        "Rate": "0.1",
        "Upload": None,
    }

    def __init__(self, types: dict[str, dict[str, Any]]) -> None:
        self.types = types
        self.uploads: list[str] = []

    def of(self, ref: dict[str, Any], path: str) -> Any:
        if ref["kind"] == "NON_NULL":
            return self.of(ref["ofType"], path)
        if ref["kind"] == "LIST":
            return [self.of(ref["ofType"], f"{path}.0")]
        name = ref["name"]
        if name == "Upload":
            self.uploads.append(path)
        if name in self.SCALARS:
            return self.SCALARS[name]
        if name == "ID":
            return global_id("Tenant", uuid.uuid4())
        if name in TYPED_IDS:
            return global_id(TYPED_IDS[name][0], uuid.uuid4())
        kind = self.types[name]["kind"]
        if kind == "ENUM":
            return self.types[name]["enumValues"][0]["name"]
        assert kind == "INPUT_OBJECT", name
        return {
            f["name"]: self.of(f["type"], f"{path}.{f['name']}")
            for f in self.types[name]["inputFields"]
            if f["type"]["kind"] == "NON_NULL" and f["defaultValue"] is None
        }


async def root_calls(client: httpx.AsyncClient) -> list[tuple[str, str, dict[str, Any], list[str]]]:
    """(field, document, variables, upload paths) for every root query and mutation field."""
    response = await gql(client, None, INTROSPECTION)
    schema = response.json()["data"]["__schema"]
    types = {t["name"]: t for t in schema["types"]}
    calls = []
    for operation, root in (("query", schema["queryType"]), ("mutation", schema["mutationType"])):
        for field in types[root["name"]]["fields"]:
            values = Values(types)
            required = [
                a
                for a in field["args"]
                if a["type"]["kind"] == "NON_NULL" and a["defaultValue"] is None
            ]
            variables = {
                a["name"]: values.of(a["type"], f"variables.{a['name']}") for a in required
            }
            if "year" in variables:  # a year the calendar answers for (1 is refused)
                variables["year"] = 2027
            declared = ", ".join(f"${a['name']}: {_type_string(a['type'])}" for a in required)
            passed = ", ".join(f"{a['name']}: ${a['name']}" for a in required)
            returned = types.get(_named(field["type"])["name"], {})
            selection = (
                " { __typename }"
                if returned.get("kind") in ("OBJECT", "INTERFACE", "UNION")
                else ""
            )
            document = (
                f"{operation}{f'({declared})' if declared else ''} "
                f"{{ {field['name']}{f'({passed})' if passed else ''}{selection} }}"
            )
            calls.append((field["name"], document, variables, values.uploads))
    return calls


async def call(
    client: httpx.AsyncClient, token: str | None, document: str, variables: Any, uploads: list[str]
) -> httpx.Response:
    if uploads:
        assert len(uploads) == 1, uploads
        return await gql_upload(client, token, document, variables, pdf("auth"), path=uploads[0])
    return await gql(client, token, document, variables)


def refusal_code(response: httpx.Response, field: str) -> str | None:
    assert response.status_code == 200, response.text
    body = response.json()
    errors = [e for e in body.get("errors", []) if e.get("path") == [field]]
    assert len(errors) <= 1, body
    for error in body.get("errors", []):
        assert error.get("path") == [field], body  # no other error: the input was fine
    if errors:
        assert (body["data"] or {}).get(field) is None, body
        return str(errors[0]["extensions"]["code"])
    return None


@pytest.fixture
async def world(app_state: Any) -> World:
    return await seed_world(app_state)


async def test_every_root_field_refuses_a_request_without_a_token(
    client: httpx.AsyncClient, world: World
) -> None:
    calls = await root_calls(client)
    assert len(calls) > 30
    codes = {}
    messages = set()
    for field, document, variables, uploads in calls:
        response = await call(client, None, document, variables, uploads)
        codes[field] = refusal_code(response, field)
        messages.add(response.json()["errors"][0]["message"])
    assert {f: c for f, c in codes.items() if c != "UNAUTHENTICATED"} == {}
    assert messages == {"Authentication required"}


async def test_every_root_field_refuses_a_token_without_its_scope(
    client: httpx.AsyncClient, world: World
) -> None:
    # viewer:read is a scope no root field needs: the operator's token narrowed to it.
    token = await access_token(client, world.admin_email, scope="viewer:read")
    calls = await root_calls(client)
    codes = {}
    for field, document, variables, uploads in calls:
        codes[field] = refusal_code(await call(client, token, document, variables, uploads), field)
    # Any token may ask who it is, look objects up by ID (each type's read rule decides) and
    # read the operator's calendar entries (reference data, public like the packaged calendar).
    open_to_any_token = {"viewer", "node", "nodes", "calendarDays"}
    assert {f: c for f, c in codes.items() if f in open_to_any_token} == dict.fromkeys(
        open_to_any_token
    )
    assert {f: c for f, c in codes.items() if f not in open_to_any_token and c != "FORBIDDEN"} == {}
