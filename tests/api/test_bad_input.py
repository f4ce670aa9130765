"""Bad input to /graphql: malformed or batched bodies, unknown operations, documents over the
depth, alias and token limits, invalid identifiers, duplicates and unexpected failures. Each is
refused clearly, writes nothing, and none is ever answered with a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from stdnum.cn import ric, uscc

from api.state import AppState
from domain.audit import repository as audit_repository
from lendgraph.settings import Settings
from tenants import repository as tenant_repository
from tenants import service as tenant_service
from tests.support import World, access_token, global_id, gql, seed_world, without_cost

COUNTED = (
    "tenants",
    "users",
    "memberships",
    "oauth_clients",
    "organizations",
    "persons",
    "audit_log",
    "events",
)


async def counts(owner_engine: AsyncEngine) -> dict[str, int]:
    """Rows per table, read below row-level security."""
    async with owner_engine.begin() as conn:
        await conn.execute(text("select set_config('app.platform', 'on', true)"))
        return {
            table: int((await conn.execute(text(f"select count(*) from {table}"))).scalar_one())
            for table in COUNTED
        }


@pytest.fixture
async def world(app_state: AppState) -> World:
    return await seed_world(app_state)


@pytest.fixture
async def admin(client: httpx.AsyncClient, world: World) -> str:
    """A platform admin's token with every scope."""
    return await access_token(client, world.admin_email)


def create_tenant(alias: str, slug: str) -> str:
    return (
        f'{alias}: createTenant(input: {{name: "Bank {slug}", slug: "{slug}", kind: BANK}}) '
        "{ tenant { id } userErrors { code } }"
    )


CREATE_TENANT = """
mutation($input: CreateTenantInput!) {
  createTenant(input: $input) { tenant { id slug } userErrors { field code message } }
}"""
CREATE_ORG = """
mutation($input: CreateOrganizationInput!) {
  createOrganization(input: $input) { organization { id } userErrors { field code message } }
}"""
CREATE_PERSON = """
mutation($input: CreatePersonInput!) {
  createPerson(input: $input) { person { id residentIdMasked } userErrors { field code message } }
}"""
CREATE_USER = """
mutation($input: CreateUserInput!) {
  createUser(input: $input) { user { id } userErrors { field code message } }
}"""


def _messages(response: httpx.Response) -> list[str]:
    return [e["message"] for e in response.json()["errors"]]


# --- the HTTP envelope ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{nope",
        b'{"query": ',
        b"",
        b'{"query": "{ __typename }"',
        b"5",
        b'"{ __typename }"',
        b"true",
        b"null",
        b'{"query": "\xff\xfe"}',  # not UTF-8
        b"[" * 100_000 + b"]" * 100_000,  # nested past the JSON parser's recursion limit
    ],
    ids=[
        "garbage",
        "truncated",
        "empty",
        "unclosed",
        "number",
        "string",
        "boolean",
        "null",
        "not-utf8",
        "deeply-nested",
    ],
)
async def test_malformed_json_body_is_400(
    client: httpx.AsyncClient, admin: str, body: bytes
) -> None:
    response = await client.post(
        "/graphql",
        content=body,
        headers={"content-type": "application/json", "authorization": f"Bearer {admin}"},
    )
    assert response.status_code == 400, response.text
    assert "JSON" in response.text


async def test_batched_list_is_400_and_runs_nothing(
    client: httpx.AsyncClient, admin: str, owner_engine: AsyncEngine
) -> None:
    before = await counts(owner_engine)
    response = await client.post(
        "/graphql",
        json=[
            {"query": "mutation { " + create_tenant("a", "batched-a") + " }"},
            {"query": "mutation { " + create_tenant("b", "batched-b") + " }"},
        ],
        headers={"authorization": f"Bearer {admin}"},
    )
    assert response.status_code == 400, response.text
    assert "Batching is not enabled" in response.text
    assert await counts(owner_engine) == before


async def test_unknown_operation_name_is_400(client: httpx.AsyncClient, admin: str) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "query A { __typename } query B { __typename }", "operationName": "C"},
        headers={"authorization": f"Bearer {admin}"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["message"] == 'Unknown operation named "C".'


async def test_get_is_refused_and_runs_nothing(
    client: httpx.AsyncClient, admin: str, owner_engine: AsyncEngine
) -> None:
    before = await counts(owner_engine)
    mutation = "mutation { " + create_tenant("a", "via-get") + " }"
    for params in ({"query": "{ __typename }"}, {"query": mutation}):
        response = await client.get(
            "/graphql", params=params, headers={"authorization": f"Bearer {admin}"}
        )
        assert response.status_code == 405, response.text
        assert "__typename" not in response.text
    assert await counts(owner_engine) == before


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"content": b"{ __typename }", "headers": {"content-type": "application/graphql"}},
        {"content": b"query=%7B__typename%7D", "headers": {"content-type": "text/plain"}},
        {"data": {"query": "{ __typename }"}},
        {"files": {"file": ("a.txt", b"x")}, "data": {"operations": "{}", "map": "{}"}},
        {"content": b""},
        {"json": {}},
        {"json": {"query": None}},
        {"json": {"query": ""}},
        {"json": {"query": 5}},
        {"json": {"query": ["{ __typename }"]}},
        {"json": {"query": "{ __typename }", "variables": [1]}},
        {"json": {"query": "{ __typename }", "variables": "x"}},
        {"json": {"query": "{ __typename }", "operationName": 5}},
        {"json": {"query": "{ __typename }", "operationName": ["A"]}},
        {"json": {"query": "{ __typename }", "extensions": 5}},
        {"json": {"query": "subscription { viewer { kind } }"}},
        {"json": {"query": "{ nope }"}},
        {"json": {"query": "{ viewer"}},
        {"json": {"query": "query($i: ID!) { node(id: $i) { id } }", "variables": {}}},
        {"json": {"query": "query($i: ID!) { node(id: $i) { id } }", "variables": {"i": {}}}},
        {"json": {"query": "query($i: ID!) { node(id: $i) { id } }", "variables": {"i": "!"}}},
        {"json": {"query": "{ nodes(ids: []) { id } }"}},
        {"json": {"query": "#" + "x" * 1_000_000}},
        {"json": {"query": "{ __typename }", "variables": {"x": [[[[[[[[[[[[[1]]]]]]]]]]]]]}}},
    ],
    ids=lambda kw: repr(kw)[:60],
)
async def test_odd_requests_are_never_a_500(
    client: httpx.AsyncClient, admin: str, request_kwargs: dict[str, Any]
) -> None:
    headers = {"authorization": f"Bearer {admin}", **request_kwargs.pop("headers", {})}
    response = await client.post("/graphql", headers=headers, **request_kwargs)
    assert response.status_code < 500, response.text
    assert response.status_code in (200, 400, 405, 415), response.text
    assert "Traceback" not in response.text


async def test_variables_that_do_not_fit_are_refused_before_execution(
    client: httpx.AsyncClient, admin: str, owner_engine: AsyncEngine
) -> None:
    before = await counts(owner_engine)
    response = await gql(client, admin, CREATE_TENANT, {"input": {"name": "X", "slug": "x"}})
    assert response.status_code == 400, response.text
    assert response.json()["data"] is None
    assert "kind" in response.text
    assert await counts(owner_engine) == before


# --- limits on the document ----------------------------------------------------------------


def _deep_selection(levels: int) -> str:
    selection = "leaf"
    for i in range(levels):
        selection = f"f{i} {{ {selection} }}"
    return selection


async def test_query_over_the_depth_limit_is_400_and_runs_nothing(
    client: httpx.AsyncClient, admin: str, owner_engine: AsyncEngine, settings: Settings
) -> None:
    assert settings.max_query_depth == 12
    before = await counts(owner_engine)
    document = (
        "mutation { "
        + create_tenant("first", "deep-first")
        + ' second: createTenant(input: {name: "Deep", slug: "deep-second", kind: BANK}) '
        + "{ tenant { "
        + _deep_selection(14)
        + " } } }"
    )
    response = await gql(client, admin, document)
    assert response.status_code == 400, response.text
    assert response.json()["data"] is None
    assert "exceeds maximum operation depth of 12" in _messages(response)[0]
    assert await counts(owner_engine) == before
    # The same through a query.
    response = await gql(client, admin, "{ viewer { user { " + _deep_selection(12) + " } } }")
    assert response.status_code == 400, response.text
    assert any("exceeds maximum operation depth of 12" in m for m in _messages(response))


async def test_query_over_the_alias_limit_is_400_and_runs_nothing(
    client: httpx.AsyncClient, admin: str, owner_engine: AsyncEngine, settings: Settings
) -> None:
    assert settings.max_aliases == 30
    before = await counts(owner_engine)
    document = "mutation { " + " ".join(create_tenant(f"t{i}", f"bank-x{i}") for i in range(31))
    response = await gql(client, admin, document + " }")
    assert response.status_code == 400, response.text
    assert response.json()["data"] is None
    assert _messages(response) == ["31 aliases found. Allowed: 30"]
    assert await counts(owner_engine) == before
    # At the limit the document runs.
    response = await gql(
        client, admin, "{ " + " ".join(f"a{i}: __typename" for i in range(30)) + " }"
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["a29"] == "Query"


async def test_query_over_the_token_limit_is_400_and_runs_nothing(
    client: httpx.AsyncClient, admin: str, owner_engine: AsyncEngine, settings: Settings
) -> None:
    assert settings.max_query_tokens == 2000
    before = await counts(owner_engine)
    padding = " __typename" * 2000
    document = "mutation { " + create_tenant("t", "many-tokens") + padding + " }"
    response = await gql(client, admin, document)
    assert response.status_code == 400, response.text
    assert response.json()["data"] is None
    assert "more than 2000 tokens" in _messages(response)[0]
    assert await counts(owner_engine) == before
    # Well under the limit the same shape runs.
    response = await gql(client, admin, "{" + " __typename" * 500 + " }")
    assert response.status_code == 200, response.text


# --- domain validation -----------------------------------------------------------------------


def _uscc(n: int) -> str:
    base = f"91110000MA01ABC{n:02d}"
    return base + str(uscc.calc_check_digit(base))


def _resident_id(n: int) -> str:
    base = f"11010519900307{n:03d}"
    return base + str(ric.calc_check_digit(base + "0"))


def _bad_check_character(valid: str, alphabet: str) -> str:
    return valid[:-1] + next(c for c in alphabet if c != valid[-1])


async def _refused(
    client: httpx.AsyncClient,
    owner_engine: AsyncEngine,
    token: str,
    *,
    document: str,
    field: str,
    payload: str,
    variables: dict[str, Any],
) -> list[tuple[str | None, str]]:
    before = await counts(owner_engine)
    response = await gql(client, token, document, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    result = body["data"][field]
    assert result[payload] is None
    assert await counts(owner_engine) == before
    return [(e["field"], e["code"]) for e in result["userErrors"]]


@pytest.mark.parametrize(
    "code",
    [
        _bad_check_character(_uscc(2), "0123456789ABCDEFGHJKLMNPQRTUWXY"),
        _uscc(2)[:-1],
        _uscc(2) + "1",
        "123",
        "",
        "IO1100006000373410",  # letters outside the code's alphabet
    ],
)
async def test_invalid_social_credit_code_is_a_user_error(
    client: httpx.AsyncClient, admin: str, owner_engine: AsyncEngine, code: str
) -> None:
    variables = {"input": {"kind": "CORE_ENTERPRISE", "name": "Bad Co", "socialCreditCode": code}}
    errors = await _refused(
        client,
        owner_engine,
        admin,
        document=CREATE_ORG,
        field="createOrganization",
        payload="organization",
        variables=variables,
    )
    assert errors == [("socialCreditCode", "INVALID_SOCIAL_CREDIT_CODE")]


@pytest.mark.parametrize(
    "resident_id",
    [
        _bad_check_character(_resident_id(2), "0123456789X"),
        "110105199002301234",  # 30 February
        "11010519900307123",  # 17 characters
        "ABCDEF199003071234",
        "",
    ],
)
async def test_invalid_resident_id_is_a_user_error(
    client: httpx.AsyncClient, admin: str, owner_engine: AsyncEngine, resident_id: str
) -> None:
    variables = {"input": {"fullName": "Wang Wu", "residentId": resident_id}}
    errors = await _refused(
        client,
        owner_engine,
        admin,
        document=CREATE_PERSON,
        field="createPerson",
        payload="person",
        variables=variables,
    )
    assert errors == [("residentId", "INVALID_RESIDENT_ID")]


async def test_every_problem_of_one_input_is_reported(
    client: httpx.AsyncClient, admin: str, owner_engine: AsyncEngine
) -> None:
    variables = {"input": {"fullName": "  ", "residentId": "123", "phone": "12345"}}
    errors = await _refused(
        client,
        owner_engine,
        admin,
        document=CREATE_PERSON,
        field="createPerson",
        payload="person",
        variables=variables,
    )
    assert errors == [
        ("fullName", "REQUIRED"),
        ("residentId", "INVALID_RESIDENT_ID"),
        ("phone", "INVALID_PHONE"),
    ]


async def test_valid_identifiers_are_accepted(
    client: httpx.AsyncClient, admin: str, owner_engine: AsyncEngine
) -> None:
    # The positive control for the refusals above.
    before = await counts(owner_engine)
    org = await gql(
        client,
        admin,
        CREATE_ORG,
        {"input": {"kind": "WAREHOUSE", "name": "Good Co", "socialCreditCode": _uscc(3).lower()}},
    )
    assert org.json()["data"]["createOrganization"]["userErrors"] == []
    person = await gql(
        client,
        admin,
        CREATE_PERSON,
        {"input": {"fullName": "Wang Wu", "residentId": _resident_id(3)}},
    )
    created = person.json()["data"]["createPerson"]
    assert created["userErrors"] == []
    assert _resident_id(3) not in person.text  # shown masked only
    after = await counts(owner_engine)
    assert after["organizations"] == before["organizations"] + 1
    assert after["persons"] == before["persons"] + 1


async def test_duplicates_are_refused(
    client: httpx.AsyncClient, admin: str, owner_engine: AsyncEngine
) -> None:
    # seed_world made bank-a, these codes, this resident ID and this e-mail.
    cases = [
        (
            CREATE_TENANT,
            "createTenant",
            "tenant",
            {"name": "Another A", "slug": "bank-a", "kind": "BANK"},
            "slug",
        ),
        (
            CREATE_ORG,
            "createOrganization",
            "organization",
            {"kind": "CORE_ENTERPRISE", "name": "Again", "socialCreditCode": "91110000600037341l"},
            "socialCreditCode",
        ),
        (
            CREATE_PERSON,
            "createPerson",
            "person",
            {"fullName": "Li Wei Again", "residentId": "11010519491231002x"},
            "residentId",
        ),
        (
            CREATE_USER,
            "createUser",
            "user",
            {"email": "ADMIN@platform.test", "displayName": "Again", "roles": ["PLATFORM_ADMIN"]},
            "email",
        ),
    ]
    for document, field, payload, input_, error_field in cases:
        errors = await _refused(
            client,
            owner_engine,
            admin,
            document=document,
            field=field,
            payload=payload,
            variables={"input": input_},
        )
        assert errors == [(error_field, "DUPLICATE")], field


# --- unexpected failures -------------------------------------------------------------------

SECRET = "secret-detail-4242 at /srv/db password=hunter2"


async def test_unexpected_exception_in_a_mutation_is_masked(
    client: httpx.AsyncClient,
    admin: str,
    owner_engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(SECRET)

    monkeypatch.setattr(tenant_service, "create_tenant", boom)
    before = await counts(owner_engine)
    response = await gql(
        client, admin, CREATE_TENANT, {"input": {"name": "C", "slug": "bank-c", "kind": "BANK"}}
    )
    assert response.status_code == 200, response.text
    assert _messages(response) == ["Unexpected error."]
    assert response.json()["errors"][0]["path"] == ["createTenant"]
    assert response.json()["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    for leak in ("secret-detail", "hunter2", "RuntimeError", "Traceback"):
        assert leak not in response.text
    assert await counts(owner_engine) == before


async def test_failure_after_a_write_leaves_nothing_behind(
    client: httpx.AsyncClient,
    admin: str,
    owner_engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The tenant row is flushed before the audit record fails: the use case's savepoint must
    # take it back, although the view commits the request's transaction.
    async def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(SECRET)

    monkeypatch.setattr(audit_repository, "record", boom)
    before = await counts(owner_engine)
    response = await gql(
        client, admin, CREATE_TENANT, {"input": {"name": "C", "slug": "bank-c", "kind": "BANK"}}
    )
    assert response.status_code == 200, response.text
    assert _messages(response) == ["Unexpected error."]
    assert "secret-detail" not in response.text
    assert await counts(owner_engine) == before


async def test_unexpected_exception_in_a_query_is_masked_and_the_next_request_works(
    client: httpx.AsyncClient, world: World, admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_sql(session: Any, ids: Any) -> Any:
        # A failing statement leaves the request's transaction aborted before the commit.
        await session.execute(text("select 1/0"))

    async def broken_python(session: Any, ids: Any) -> Any:
        raise RuntimeError(SECRET)

    query = "query($id: ID!) { node(id: $id) { id } }"
    variables = {"id": global_id("Tenant", world.a.id)}
    for broken in (broken_sql, broken_python):
        monkeypatch.setattr(tenant_repository, "tenants_by_ids", broken)
        response = await gql(client, admin, query, variables)
        assert response.status_code == 200, response.text
        assert response.json()["data"] == {"node": None}
        assert _messages(response) == ["Unexpected error."]
        for leak in ("secret-detail", "division", "RuntimeError"):
            assert leak not in response.text
        monkeypatch.undo()
        again = await gql(client, admin, query, variables)
        assert without_cost(again.json()) == {"data": {"node": {"id": variables["id"]}}}
