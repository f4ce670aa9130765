"""``/metrics``: requests by route and status, GraphQL operations by name and outcome with
their latency, GraphQL errors by code and the database pool in use, as a scrape reads them;
and the multiprocess folder that ``serve --workers N`` prepares."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from lendgraph.cli import metrics_folder
from tests.support import access_token, gql, seed_world


async def _scrape(client) -> dict[tuple[str, frozenset], float]:  # type: ignore[no-untyped-def]
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_a_scrape_counts_operations_outcomes_errors_and_latency(client, app_state) -> None:
    world = await seed_world(app_state)
    token = await access_token(client, world.a.admin_email)
    before = await _scrape(client)

    assert (await gql(client, token, "query Mine { viewer { kind } }")).status_code == 200
    assert (await gql(client, token, "query Mine { viewer { kind } }")).status_code == 200
    assert (await gql(client, token, "query Typo { viewer { nope } }")).status_code == 400
    assert (await gql(client, token, "{ viewer { ")).status_code == 400

    after = await _scrape(client)

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    ops = "lendgraph_graphql_operations_total"
    assert delta(ops, operation="Mine", type="query", outcome="ok") == 2
    assert delta(ops, operation="Typo", type="query", outcome="refused") == 1
    assert delta(ops, operation="anonymous", type="unknown", outcome="refused") == 1
    errors = "lendgraph_graphql_errors_total"
    assert delta(errors, code="GRAPHQL_VALIDATION_FAILED") == 1
    assert delta(errors, code="GRAPHQL_PARSE_FAILED") == 1
    http = "lendgraph_http_requests_total"
    assert delta(http, route="/graphql", method="POST", status="200") == 2
    assert delta(http, route="/graphql", method="POST", status="400") == 2
    # The first scrape is counted by the second, under its own route.
    assert delta(http, route="/metrics", method="GET", status="200") == 1
    latency = "lendgraph_graphql_operation_duration_seconds_count"
    assert delta(latency, operation="Mine", type="query") == 2
    assert delta("lendgraph_http_request_duration_seconds_count", route="/graphql", method="POST")
    assert delta("lendgraph_http_request_duration_seconds_bucket", route="/graphql",
                 method="POST", le="+Inf") == 4  # fmt: skip
    # Unknown paths share one label, whatever they are.
    await client.get("/no/such/path")
    third = await _scrape(client)
    assert _value(third, http, route="other", method="GET", status="404") >= 1
    assert not [k for k in third if k[0] == http and ("route", "/no/such/path") in k[1]]


async def test_the_pool_in_use_follows_checkouts(client, app_state) -> None:
    before = await _scrape(client)
    in_use = _value(before, "lendgraph_db_pool_connections_in_use")
    # The capacity of the last engine built in this process (a serving process has one; the
    # e2e test of serve --workers 2 checks the sum over processes).
    assert _value(before, "lendgraph_db_pool_connections_max") > 0
    async with app_state.engine.connect() as conn, app_state.engine.connect() as other:
        del conn, other
        held = await _scrape(client)
        assert _value(held, "lendgraph_db_pool_connections_in_use") == in_use + 2
    released = await _scrape(client)
    assert _value(released, "lendgraph_db_pool_connections_in_use") == in_use


def test_metrics_folder_is_made_or_emptied_of_an_earlier_run(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    made = metrics_folder(environ)
    assert environ["PROMETHEUS_MULTIPROC_DIR"] == str(made) and made.is_dir()

    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"stale")
    (given / "keep.txt").write_text("not ours")
    environ = {"PROMETHEUS_MULTIPROC_DIR": str(given)}
    assert metrics_folder(environ) == given
    assert sorted(p.name for p in given.iterdir()) == ["keep.txt"]
