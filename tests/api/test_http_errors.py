"""Refusals before execution as GraphQL over HTTP has them: every one is a JSON body
``{"errors": [{"message", "extensions": {"code"}}]}`` with its 4xx status, never plain text,
and nothing runs. Errors during execution carry a code too (clients branch on codes)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import structlog

from api.graphql_view import MAX_JSON_BYTES, MAX_MULTIPART_BYTES
from tests.support import World, access_token, gql, seed_world, without_cost


@pytest.fixture
async def world(app_state: Any) -> World:
    return await seed_world(app_state)


@pytest.fixture
async def admin(client: httpx.AsyncClient, world: World) -> str:
    return await access_token(client, world.admin_email)


def refusal(response: httpx.Response, status: int, code: str) -> str:
    """The one error's message of a refusal, after checking its shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"errors"}, body  # no "data": nothing was executed
    [error] = body["errors"]
    assert error["extensions"] == {"code": code}, body
    assert isinstance(error["message"], str) and error["message"], body
    return str(error["message"])


JSON = {"content-type": "application/json"}
TYPENAME = b'{"query": "{ __typename }"}'


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"content": b"{nope", "headers": JSON}, 400, "BAD_REQUEST"),
        ({"content": b"", "headers": JSON}, 400, "BAD_REQUEST"),
        ({"content": b"5", "headers": JSON}, 400, "BAD_REQUEST"),
        ({"content": b'{"query": "\xff"}', "headers": JSON}, 400, "BAD_REQUEST"),
        ({"json": {}}, 400, "BAD_REQUEST"),
        ({"json": {"query": None}}, 400, "BAD_REQUEST"),
        ({"json": {"query": 5}}, 400, "BAD_REQUEST"),
        ({"json": {"query": "{ __typename }", "variables": [1]}}, 400, "BAD_REQUEST"),
        ({"json": [{"query": "{ __typename }"}]}, 400, "BAD_REQUEST"),
        ({"json": {"query": "subscription { viewer { kind } }"}}, 400, "BAD_REQUEST"),
        (
            {"json": {"query": "query A { __typename }", "operationName": "B"}},
            400,
            "OPERATION_RESOLUTION_FAILURE",
        ),
        ({"content": TYPENAME}, 415, "UNSUPPORTED_MEDIA_TYPE"),  # no content type
        ({"content": TYPENAME, "headers": {"content-type": "text/plain"}}, 415, None),
        (
            {"content": b"{ __typename }", "headers": {"content-type": "application/graphql"}},
            415,
            None,
        ),
        ({"data": {"query": "{ __typename }"}}, 415, None),  # a form
        # A multipart request without the CSRF-forcing header.
        ({"files": {"f": ("a", b"x")}, "data": {"operations": "{}", "map": "{}"}}, 400, None),
    ],
    ids=lambda v: repr(v)[:50],
)
async def test_refusals_of_the_envelope_are_json_with_a_code(
    client: httpx.AsyncClient, admin: str, kwargs: dict[str, Any], status: int, code: str | None
) -> None:
    headers = {"authorization": f"Bearer {admin}", **kwargs.pop("headers", {})}
    response = await client.post("/graphql", headers=headers, **kwargs)
    expected = code or {400: "BAD_REQUEST", 415: "UNSUPPORTED_MEDIA_TYPE"}[status]
    refusal(response, status, expected)


async def test_methods_other_than_post_are_405_with_allow(
    client: httpx.AsyncClient, admin: str
) -> None:
    headers = {"authorization": f"Bearer {admin}"}
    mutation = (
        'mutation { createTenant(input: {name: "G", slug: "via-get", kind: BANK}) '
        "{ tenant { id } } }"
    )
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        params = {"query": mutation} if method == "GET" else None
        response = await client.request(method, "/graphql", params=params, headers=headers)
        refusal(response, 405, "METHOD_NOT_ALLOWED")
        assert response.headers["allow"] == "POST"
    # Nothing ran: the slug is still free.
    created = await gql(client, admin, mutation.replace("tenant { id }", "userErrors { code }"))
    assert without_cost(created.json()) == {"data": {"createTenant": {"userErrors": []}}}


async def test_bodies_over_the_cap_are_413(client: httpx.AsyncClient, admin: str) -> None:
    headers = {"authorization": f"Bearer {admin}", **JSON}
    padding = b" " * (MAX_JSON_BYTES + 1 - len(TYPENAME))
    over = TYPENAME + padding
    assert len(over) == MAX_JSON_BYTES + 1
    refusal(await client.post("/graphql", content=over, headers=headers), 413, "PAYLOAD_TOO_LARGE")

    # The same without a Content-Length (chunked): refused while it is read.
    async def chunks() -> Any:
        yield TYPENAME
        for _ in range(len(padding) // 65536 + 1):
            yield b" " * 65536

    response = await client.post("/graphql", content=chunks(), headers=headers)
    refusal(response, 413, "PAYLOAD_TOO_LARGE")
    # At the cap the body is read and runs.
    at_cap = TYPENAME + b" " * (MAX_JSON_BYTES - len(TYPENAME))
    response = await client.post("/graphql", content=at_cap, headers=headers)
    assert without_cost(response.json()) == {"data": {"__typename": "Query"}}
    # A multipart body declared over its own cap is refused before a byte is read.
    response = await client.post(
        "/graphql",
        content=b"x",
        headers={
            "authorization": f"Bearer {admin}",
            "content-type": "multipart/form-data; boundary=x",
            "content-length": str(MAX_MULTIPART_BYTES + 1),
            "apollo-require-preflight": "1",
        },
    )
    refusal(response, 413, "PAYLOAD_TOO_LARGE")


async def test_a_bad_token_on_graphql_is_401_with_a_graphql_error(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"authorization": "Bearer nope"}
    )
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_token"  # RFC 6750, for OAuth clients
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert "data" not in body


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ("{ viewer", "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        (
            "{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        ("{ viewer { " + "a { " * 12 + "b" + " }" * 12 + " } }", "GRAPHQL_VALIDATION_FAILED"),
        ("{" + " __typename" * 2001 + " }", "GRAPHQL_PARSE_FAILED"),
    ],
    ids=["syntax", "unknown-field", "aliases", "depth", "tokens"],
)
async def test_documents_refused_before_execution_are_400_with_a_code(
    client: httpx.AsyncClient, admin: str, document: str, code: str
) -> None:
    response = await gql(client, admin, document)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["data"] is None
    assert body["errors"], body
    assert {e["extensions"]["code"] for e in body["errors"]} == {code}, body


async def test_variables_that_do_not_fit_are_400_bad_user_input(
    client: httpx.AsyncClient, admin: str
) -> None:
    response = await gql(
        client, admin, "query($n: Int!) { deals(first: $n) { edges { cursor } } }", {"n": "ten"}
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def test_refusals_are_logged_once_at_info_with_code_and_request_id(
    client: httpx.AsyncClient, admin: str
) -> None:
    from structlog.testing import capture_logs

    headers = {"authorization": f"Bearer {admin}", "x-request-id": "req-refused-1"}
    cases = [
        ({"content": b"{nope", "headers": {**headers, **JSON}}, "BAD_REQUEST"),
        ({"content": TYPENAME, "headers": {**headers, "content-type": "text/plain"}}, None),
        ({"json": {"query": "{ nope }"}, "headers": headers}, "GRAPHQL_VALIDATION_FAILED"),
        (
            {
                "json": {"query": "query($i: ID!) { node(id: $i) { id } }", "variables": {"i": ""}},
                "headers": headers,
            },
            "BAD_USER_INPUT",
        ),
    ]
    for kwargs, code in cases:
        with capture_logs() as logs:
            await client.post("/graphql", **kwargs)
        refusals = [e for e in logs if e["event"] in ("graphql_refused", "graphql_error")]
        assert len(refusals) == 1, logs
        [line] = refusals
        assert line["code"] == (code or "UNSUPPORTED_MEDIA_TYPE"), line
        assert line["log_level"] == "info", line
        assert structlog.contextvars.get_contextvars().get("request_id") == "req-refused-1"
        assert "exc_info" not in line, line
        assert all(e["log_level"] not in ("error", "warning") for e in logs), logs
