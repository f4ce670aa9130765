"""Query cost over HTTP and WebSocket: ``extensions.cost`` figures for three documents counted
by hand, a costly document refused before any resolver runs, and the per-client bucket
answered as 429 with ``Retry-After``.

Each test here gets an app of its own whose bucket runs on a clock the test moves, so every
figure is exact; the shared app's bucket is too large for any other test to empty."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.cost import MemoryBuckets
from api.state import AppState
from domain.products import policy as product_policy
from domain.products import service as product_service
from domain.products.models import ProductLine
from lendgraph.settings import Settings
from tests.api.test_websocket import authenticated, live_server, run, socket_to
from tests.conftest import ISSUER
from tests.deals_support import publish
from tests.products_support import consumer_terms
from tests.support import World, access_token, global_id, gql, seed_world

CAPACITY = 1000.0
RATE = 50.0


class Clock:
    """A clock that moves only when the test says."""

    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


@dataclasses.dataclass
class Metered:
    client: httpx.AsyncClient
    clock: Clock
    state: AppState


async def metered_app(
    settings: Settings, app_state: AppState, capacity: float, rate: float
) -> AsyncIterator[Metered]:
    clock = Clock()
    # The shared state's engine and keys, with buckets of its own.
    state = dataclasses.replace(app_state, buckets=MemoryBuckets(capacity, rate, clock=clock))
    transport = httpx.ASGITransport(app=create_app(settings, state=state))
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as client:
        yield Metered(client, clock, state)


@pytest.fixture
async def metered(settings: Settings, app_state: AppState) -> AsyncIterator[Metered]:
    async for m in metered_app(settings, app_state, CAPACITY, RATE):
        yield m


@pytest.fixture
async def small(settings: Settings, app_state: AppState) -> AsyncIterator[Metered]:
    """50 points, refilled at 2 a second."""
    async for m in metered_app(settings, app_state, 50.0, 2.0):
        yield m


def throttle(available: int, capacity: float = CAPACITY, rate: float = RATE) -> dict[str, Any]:
    return {"maximumAvailable": capacity, "currentlyAvailable": available, "restoreRate": rate}


def quotes(count: int) -> str:
    fields = " ".join(
        f'q{i}: quote(productId: $id, amount: {{amount: "10000.00", currency: "CNY"}}, '
        "term: 12) { quote { apr installments { dueDate total { amount } } } userErrors { code } }"
        for i in range(count)
    )
    return "query($id: ProductID!) { " + fields + " }"


class Calls:
    """Counts calls of the quote use case and of the schedule builder."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.quotes = 0
        self.schedules = 0
        quote, build = product_service.quote_product, product_policy.build_schedule

        async def counted_quote(*args: Any, **kwargs: Any) -> Any:
            self.quotes += 1
            return await quote(*args, **kwargs)

        def counted_build(*args: Any, **kwargs: Any) -> Any:
            self.schedules += 1
            return build(*args, **kwargs)

        monkeypatch.setattr(product_service, "quote_product", counted_quote)
        monkeypatch.setattr(product_policy, "build_schedule", counted_build)


async def _admin(client: httpx.AsyncClient, app_state: AppState) -> tuple[World, str]:
    world = await seed_world(app_state)
    return world, await access_token(client, world.a.admin_email)


async def test_cost_figures_of_three_documents(metered: Metered, app_state: AppState) -> None:
    world, token = await _admin(metered.client, app_state)
    for _ in range(3):
        await publish(app_state, world.a.id, ProductLine.CONSUMER_CREDIT, consumer_terms())

    # 1. Objects cost 1, scalars nothing: viewer 1 + user 1 + tenant 1.
    one = await gql(metered.client, token, "{ viewer { kind user { email } tenant { name } } }")
    assert one.status_code == 200 and "errors" not in one.json()
    assert one.json()["extensions"]["cost"] == {
        "requestedQueryCost": 3,
        "actualQueryCost": 3,
        "throttleStatus": throttle(1000 - 3),
    }

    # 2. A connection: 2 + first (10) x (node 1 + funder 1) requested; 3 products came back,
    # so 2 + 3 x 2 was used. The bucket gets back 22 - 8.
    page = """
    { products(first: 10) { edges { node { name funder { name } } } pageInfo { hasNextPage } } }"""
    two = await gql(metered.client, token, page)
    assert len(two.json()["data"]["products"]["edges"]) == 3
    assert two.json()["extensions"]["cost"] == {
        "requestedQueryCost": 22,
        "actualQueryCost": 8,
        "throttleStatus": throttle(997 - 8),
    }

    # 3. Fragments and aliases on nodes: 3 IDs x (node 1 + 10 memberships x (1 + tenant 1))
    # requested; the other bank's admin is not visible (null, nothing) and the unknown ID
    # neither, so one user with its one membership: 1 + (1 + 1).
    nodes = """
    fragment Where on Membership { roles tenant { slug } }
    query($ids: [ID!]!) {
      people: nodes(ids: $ids) { id ... on User { memberships { ...Where } } }
      me: viewer { kind }
    }"""
    ids = [
        global_id("User", world.a.admin_user_id),
        global_id("User", world.b.admin_user_id),
        global_id("User", world.admin_user_id),
    ]
    three = await gql(metered.client, token, nodes, {"ids": ids})
    body = three.json()
    assert [n is not None for n in body["data"]["people"]] == [True, False, False]
    assert body["extensions"]["cost"] == {
        "requestedQueryCost": 3 * (1 + 10 * 2) + 1,
        "actualQueryCost": (1 + 2) + 1,
        "throttleStatus": throttle(989 - 4),
    }

    # Time refills the bucket at 50 a second, never above its capacity.
    metered.clock.now += 0.2
    again = await gql(metered.client, token, "{ viewer { kind } }")
    assert again.json()["extensions"]["cost"]["throttleStatus"] == throttle(985 + 10 - 1)
    metered.clock.now += 60
    again = await gql(metered.client, token, "{ viewer { kind } }")
    assert again.json()["extensions"]["cost"]["throttleStatus"] == throttle(1000 - 1)


async def test_thirty_aliased_quotes_are_refused_before_any_schedule(
    metered: Metered, app_state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, token = await _admin(metered.client, app_state)
    product = await publish(app_state, world.a.id, ProductLine.CONSUMER_CREDIT, consumer_terms())
    calls = Calls(monkeypatch)
    variables = {"id": global_id("Product", product)}

    # The counters count: one quote is one use case call and one schedule.
    one = await gql(metered.client, token, quotes(1), variables)
    assert one.json()["data"]["q0"]["userErrors"] == [], one.json()
    assert (calls.quotes, calls.schedules) == (1, 1)
    assert one.json()["extensions"]["cost"]["requestedQueryCost"] == 50

    refused = await gql(metered.client, token, quotes(30), variables)
    assert refused.status_code == 400
    body = refused.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "MAX_COST_EXCEEDED", "cost": 1500, "maxCost": 1000}
    assert body["extensions"]["cost"] == {
        "requestedQueryCost": 30 * 50,
        "actualQueryCost": None,
        "throttleStatus": throttle(1000 - 50),  # nothing taken
    }
    assert (calls.quotes, calls.schedules) == (1, 1)

    # 20 quotes (1000) are within the maximum and run, once the bucket is full again.
    metered.clock.now += 60
    twenty = await gql(metered.client, token, quotes(20), variables)
    assert twenty.status_code == 200 and "errors" not in twenty.json()
    assert (calls.quotes, calls.schedules) == (21, 21)


async def test_an_empty_bucket_is_answered_429_with_retry_after(
    small: Metered, app_state: AppState
) -> None:
    world, token = await _admin(small.client, app_state)
    # 10 aliases x (viewer 1 + user 1): 20 points, all of them used.
    twenty = "{ " + " ".join(f"v{i}: viewer {{ user {{ email }} }}" for i in range(10)) + " }"
    seen = []
    for _ in range(2):
        response = await gql(small.client, token, twenty)
        assert response.status_code == 200
        seen.append(response.json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"])
    assert seen == [30, 10]

    throttled = await gql(small.client, token, twenty)
    assert throttled.status_code == 429
    # 10 points short at 2 a second.
    assert throttled.headers["retry-after"] == "5"
    body = throttled.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "THROTTLED", "retryAfter": 5}
    assert body["extensions"]["cost"] == {
        "requestedQueryCost": 20,
        "actualQueryCost": None,
        "throttleStatus": throttle(10, 50.0, 2.0),
    }
    # A cheaper document still fits; another user has a bucket of their own.
    assert (await gql(small.client, token, "{ viewer { kind } }")).status_code == 200
    other = await access_token(small.client, world.b.admin_email)
    assert (await gql(small.client, other, twenty)).status_code == 200

    small.clock.now += 5  # 9 + 10 points
    assert (await gql(small.client, token, twenty)).status_code == 429
    small.clock.now += 0.5
    retried = await gql(small.client, token, twenty)
    assert retried.status_code == 200
    assert retried.json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0

    # A document that could never fit the bucket is refused as too costly, not throttled.
    sixty = "{ " + " ".join(f"v{i}: viewer {{ user {{ email }} }}" for i in range(30)) + " }"
    too_big = await gql(small.client, token, sixty)
    assert too_big.status_code == 400
    assert too_big.json()["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


async def test_anonymous_callers_draw_on_their_address(small: Metered) -> None:
    # __typename is free; introspection too: the bucket of 127.0.0.1 stays full.
    response = await small.client.post("/graphql", json={"query": "{ __typename }"})
    assert response.json()["extensions"]["cost"] == {
        "requestedQueryCost": 0,
        "actualQueryCost": 0,
        "throttleStatus": throttle(50, 50.0, 2.0),
    }


async def test_refused_over_websocket_with_the_cost_reported(
    settings: Settings,
    signing_keys: Any,
    client: httpx.AsyncClient,
    app_state: AppState,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world, token = await _admin(client, app_state)
    product = await publish(app_state, world.a.id, ProductLine.CONSUMER_CREDIT, consumer_terms())
    calls = Calls(monkeypatch)
    variables = {"id": global_id("Product", product)}
    tight = settings.model_copy(update={"cost_bucket_capacity": 120.0, "cost_restore_rate": 0.01})
    with live_server(tight, signing_keys) as live:
        async with socket_to(live) as ws:
            await authenticated(ws, token)
            messages = await run(ws, quotes(30), variables)
            assert [m["type"] for m in messages] == ["next", "complete"]
            payload = messages[0]["payload"]
            assert payload["data"] is None
            assert payload["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
            cost = payload["extensions"]["cost"]
            assert (cost["requestedQueryCost"], cost["actualQueryCost"]) == (1500, None)
            assert (calls.quotes, calls.schedules) == (0, 0)

            # Two quotes (100 of 120 points) run and report their cost; then the bucket
            # cannot pay for two more.
            messages = await run(ws, quotes(2), variables)
            cost = messages[0]["payload"]["extensions"]["cost"]
            assert (cost["requestedQueryCost"], cost["actualQueryCost"]) == (100, 100)
            assert (calls.quotes, calls.schedules) == (2, 2)
            messages = await run(ws, quotes(2), variables)
            [error] = messages[0]["payload"]["errors"]
            assert error["extensions"]["code"] == "THROTTLED"
            assert error["extensions"]["retryAfter"] >= 1
            assert (calls.quotes, calls.schedules) == (2, 2)
