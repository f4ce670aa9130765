"""``GET /graphql``: GraphiQL for a browser, with every asset served from the package and equal
to what VENDORED.md records; a JSON GraphQL error for any other client; off by default in
production, on when the setting says so."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx

from api.app import create_app
from tests.conftest import ISSUER

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
VENDORED = Path(__file__).resolve().parents[2] / "api" / "graphiql" / "VENDORED.md"


def _recorded_checksums() -> dict[str, str]:
    rows = re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", VENDORED.read_text(), re.M)
    return dict(rows)


async def test_a_browser_gets_graphiql_with_its_assets_from_the_package(client) -> None:
    page = await client.get("/graphql", headers=BROWSER)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/graphiql/static/") for s in sources), sources
    assert "http" not in " ".join(sources)

    recorded = _recorded_checksums()
    assert set(recorded) == {
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
    }
    for source in sources:
        asset = await client.get(source)
        assert asset.status_code == 200, source
        name = source.rsplit("/", 1)[1]
        if name in recorded:  # the vendored files, byte for byte
            assert hashlib.sha256(asset.content).hexdigest() == recorded[name], name
    assert (await client.get("/graphiql/static/licenses/graphiql.LICENSE")).status_code == 200


async def test_a_client_that_does_not_ask_for_html_gets_a_json_error(client) -> None:
    for accept in (None, "application/json", "*/*"):
        headers = {"Accept": accept} if accept else {}
        response = await client.get("/graphql", params={"query": "{ __typename }"}, headers=headers)
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert response.headers["content-type"].startswith("application/json")
        (error,) = response.json()["errors"]
        assert error["extensions"] == {"code": "METHOD_NOT_ALLOWED"}


async def test_graphiql_is_off_by_default_in_production_and_on_when_set(
    settings, app_state
) -> None:
    production = settings.model_copy(update={"environment": "production"})
    for env_settings, served in (
        (production, False),
        (production.model_copy(update={"graphiql": True}), True),
        (settings.model_copy(update={"graphiql": False}), False),
    ):
        app = create_app(env_settings, state=app_state)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as c:
            page = await c.get("/graphql", headers=BROWSER)
            asset = await c.get("/graphiql/static/graphiql.min.js")
        if served:
            assert page.status_code == 200 and asset.status_code == 200
        else:
            assert page.status_code == 405
            assert page.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
            assert asset.status_code == 404


async def test_the_introspection_graphiql_sends_is_answered_within_the_limits(client) -> None:
    """GraphiQL 3 asks for the schema with graphql-js's introspection query (descriptions of
    the schema and deprecated input values included): the depth, alias and token limits let
    it through, so its docs and completion work."""
    from graphql import get_introspection_query

    query = get_introspection_query(
        descriptions=True, schema_description=True, input_value_deprecation=True
    )
    response = await client.post("/graphql", json={"query": query, "operationName": None})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"
