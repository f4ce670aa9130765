"""The risk checks end to end without a broker: a submitted deal's bureau and identity calls
run through the production ports and HTTP clients against the sandbox providers on loopback,
and each sandbox outcome leaves the row it should (a stored report, a retry with its error, a
permanent failure). The figures are the sandbox's, listed in ``integrations/README.md``.
What the deal shows of them over GraphQL is checked per principal."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from domain.integration_calls import service as calls
from domain.integration_calls.models import IntegrationKind
from domain.integration_calls.ports import PortRegistry
from domain.integration_calls.service import Outcome
from domain.risk.calls import BureauPort, IdentityPort
from domain.risk.ports import RiskProviders
from integrations.risk import close_risk_providers, risk_providers
from integrations.sandboxes import SandboxServer
from lendgraph.settings import Settings
from tests.deals_support import apply, consumer_deal, market, order_deal
from tests.jobs_support import RecordingQueue, calls_of, submit_with, tenant_uow
from tests.support import access_token, global_id, gql
from workers.actors.integrations import backoff_ms

#: The client timeout: short, so the sandbox's TIMEOUT outcome is given up on quickly.
CLIENT_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(latency=0.0, hang_seconds=10.0) as server:
        yield server


class Recording(httpx.AsyncHTTPTransport):
    """The network, keeping each request's path, JSON body and idempotency key."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, dict[str, Any], str | None]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        self.sent.append((request.url.path, body, request.headers.get("idempotency-key")))
        return await super().handle_async_request(request)

    def bodies(self, path: str) -> list[tuple[dict[str, Any], str | None]]:
        return [(body, key) for p, body, key in self.sent if p.endswith(path)]


@pytest.fixture
def network() -> Recording:
    return Recording()


@pytest.fixture
async def providers(sandbox: SandboxServer, network: Recording) -> AsyncIterator[RiskProviders]:
    values: dict[str, object] = {
        name.removeprefix("LENDGRAPH_").lower(): value
        for name, value in sandbox.environment().items()
    }
    values.update(environment="test", provider_timeout_seconds=CLIENT_TIMEOUT)
    opened = risk_providers(Settings(**values), transport=network)  # type: ignore[arg-type]
    yield opened
    await close_risk_providers(opened)


def _registry(app_state: Any, providers: RiskProviders) -> PortRegistry:
    ports = PortRegistry()
    ports.register(
        IntegrationKind.BUREAU,
        BureauPort(providers.bureau, app_state.cipher, client_timeout=CLIENT_TIMEOUT),
    )
    ports.register(
        IntegrationKind.IDENTITY,
        IdentityPort(providers.identity, app_state.cipher, client_timeout=CLIENT_TIMEOUT),
    )
    return ports


async def _submitted(
    app_state: Any, owner_engine: Any, name: str, **overrides: Any
) -> tuple[Any, uuid.UUID, dict[str, dict[str, Any]]]:
    """A submitted consumer deal whose applicant is called ``name`` (the sandboxes' outcome
    is its last word); its calls by kind."""
    m = await market(app_state)
    deal = (
        await apply(
            app_state,
            m.young.actor(),
            **consumer_deal(m, **{"liveness_session": "LS-7f3a9c", **overrides}),
        )
    ).deal.id
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("update persons set full_name = :n where id = :p"),
            {"n": name, "p": m.young.person_id},
        )
    assert await submit_with(app_state, m.young.actor(), deal, RecordingQueue()) == []
    return m, deal, {c["kind"]: c for c in await calls_of(owner_engine, deal)}


async def _run(app_state: Any, ports: PortRegistry, tenant: uuid.UUID, call_id: uuid.UUID):  # type: ignore[no-untyped-def]
    uow = tenant_uow(app_state, tenant, RecordingQueue())
    return await calls.run_call(
        uow, ports, tenant_id=tenant, call_id=call_id, backoff_ms=backoff_ms
    )


async def _row(owner_engine: Any, call_id: uuid.UUID) -> dict[str, Any]:
    async with owner_engine.connect() as conn:
        found = await conn.execute(
            text("select * from integration_calls where id = :i"), {"i": call_id}
        )
        return dict(found.one()._mapping)


async def test_a_good_file_is_pulled_once_and_kept_exactly(
    app_state, owner_engine, providers, network
) -> None:
    m, _, rows = await _submitted(app_state, owner_engine, "Wang Fang")
    ports = _registry(app_state, providers)
    bureau = rows["BUREAU"]
    result = await _run(app_state, ports, m.world.a.id, bureau["id"])
    assert (result.outcome, result.attempt) == (Outcome.SUCCEEDED, 1)
    row = await _row(owner_engine, bureau["id"])
    stored = row["result"]
    assert (row["state"], row["attempts"], row["last_error"]) == ("SUCCEEDED", 1, None)
    assert (stored["file"], stored["score"], stored["score_model"]) == (
        "FULL",
        742,
        "SANDBOX-CREDIT-2",
    )
    # 8,650.00 on the card and 612,400.00 on the mortgage, 865.00 and 4,380.00 a month.
    assert [(d["kind"], d["balance"], d["monthly_payment"]) for d in stored["debts"]] == [
        ("CREDIT_CARD", {"minor": 865000, "currency": "CNY"}, {"minor": 86500, "currency": "CNY"}),
        (
            "MORTGAGE",
            {"minor": 61240000, "currency": "CNY"},
            {"minor": 438000, "currency": "CNY"},
        ),
    ]
    assert [d["current"] for d in stored["delinquencies"]] == [False]
    assert stored["fraud_alerts"] == []
    # The bureau saw the applicant's real resident ID, the consent and the idempotency key.
    ((sent, key),) = network.bodies("/v1/credit-reports")
    assert sent["subject"]["name"] == "Wang Fang"
    assert sent["subject"]["resident_id"][6:14] == "19900307"
    assert sent["consent"]["reference"] == f"deal:{row['deal_id']}"
    assert sent["consent"]["method"] == "ONLINE_CHECKBOX"
    assert key == str(row["idempotency_reference"])


@pytest.mark.parametrize(
    "case",
    [
        ("Wang Fang Thin", "THIN", None, 0, []),
        ("Wang Fang Delinquent", "FULL", 561, 2, []),
        ("Wang Fang Fraud", "FULL", 701, 0, ["IDENTITY_THEFT_REPORTED"]),
    ],
)
async def test_each_file_outcome_is_kept_as_the_bureau_gave_it(
    app_state, owner_engine, providers, case
) -> None:
    name, file, score, current, alerts = case
    m, _, rows = await _submitted(app_state, owner_engine, name)
    result = await _run(
        app_state, _registry(app_state, providers), m.world.a.id, rows["BUREAU"]["id"]
    )
    assert result.outcome is Outcome.SUCCEEDED
    stored = (await _row(owner_engine, rows["BUREAU"]["id"]))["result"]
    assert (stored["file"], stored["score"]) == (file, score)
    assert sum(d["current"] for d in stored["delinquencies"]) == current
    assert [a["code"] for a in stored["fraud_alerts"]] == alerts


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("Wang Fang Timeout", "ProviderTimeout"),
        ("Wang Fang Unavailable", "ProviderUnavailable"),
        ("Wang Fang Malformed", "MalformedAnswer"),
    ],
)
async def test_a_failing_bureau_is_retried_with_backoff(
    app_state, owner_engine, providers, name, error
) -> None:
    m, _, rows = await _submitted(app_state, owner_engine, name)
    result = await _run(
        app_state, _registry(app_state, providers), m.world.a.id, rows["BUREAU"]["id"]
    )
    assert (result.outcome, result.retry_in_ms, result.attempt) == (Outcome.RETRY, 2_000, 1)
    row = await _row(owner_engine, rows["BUREAU"]["id"])
    assert (row["state"], row["attempts"], row["result"]) == ("PENDING", 1, None)
    assert row["last_error"].startswith(error)
    # Nothing of the applicant in what the row keeps of the error.
    assert "Wang" not in row["last_error"]


@pytest.mark.parametrize(
    "case",
    [
        ("Wang Fang", (True, True, True), []),
        ("Wang Fang Mismatch", (True, False, True), []),
        ("Wang Fang Spoof", (True, True, False), []),
    ],
)
async def test_identity_outcomes_are_kept_as_the_verifier_gave_them(
    app_state, owner_engine, providers, network, case
) -> None:
    name, checks, alerts = case
    m, _, rows = await _submitted(app_state, owner_engine, name)
    call = rows["IDENTITY"]
    result = await _run(app_state, _registry(app_state, providers), m.world.a.id, call["id"])
    assert result.outcome is Outcome.SUCCEEDED
    stored = (await _row(owner_engine, call["id"]))["result"]
    assert (stored["id_number_valid"], stored["name_matches"], stored["liveness_passed"]) == checks
    assert stored["fraud_alerts"] == alerts
    ((sent, key),) = network.bodies("/v1/verifications")
    assert sent["liveness"] == {"session_id": "LS-7f3a9c"}
    assert key == str(call["idempotency_reference"])


async def test_an_identity_check_without_a_liveness_capture_fails_at_once(
    app_state, owner_engine, providers, network
) -> None:
    m, _, rows = await _submitted(app_state, owner_engine, "Wang Fang", liveness_session=None)
    result = await _run(
        app_state, _registry(app_state, providers), m.world.a.id, rows["IDENTITY"]["id"]
    )
    assert (result.outcome, result.attempt) == (Outcome.FAILED, 1)
    row = await _row(owner_engine, rows["IDENTITY"]["id"])
    assert row["state"] == "FAILED"
    assert row["last_error"] == "PermanentFailure: the application records no liveness capture"
    assert network.sent == []  # nothing was sent


async def test_an_enterprise_applicant_gets_an_enterprise_report_and_no_identity_check(
    app_state, owner_engine, providers, network
) -> None:
    m = await market(app_state)
    seller = m.chain.seller_user.actor()
    deal = (await apply(app_state, seller, **order_deal(m))).deal.id
    assert await submit_with(app_state, seller, deal, RecordingQueue()) == []
    rows = {c["kind"]: c for c in await calls_of(owner_engine, deal)}
    assert sorted(rows) == ["BUREAU"]
    result = await _run(
        app_state, _registry(app_state, providers), m.world.a.id, rows["BUREAU"]["id"]
    )
    assert result.outcome is Outcome.SUCCEEDED
    ((sent, _),) = network.bodies("/v1/credit-reports")
    async with owner_engine.connect() as conn:
        code, org_name = (
            await conn.execute(
                text(
                    "select o.social_credit_code, o.name from deals d join organizations o"
                    " on o.id = d.applicant_organization_id where d.id = :d"
                ),
                {"d": deal},
            )
        ).one()
    assert sent["subject"] == {"social_credit_code": code, "name": org_name}


DEAL_RISK = """
query($id: ID!) { node(id: $id) { ... on Deal {
  riskChecks { kind state attempts maxAttempts lastError finishedAt }
  creditReport { file score currentDelinquencies debts { kind balance { amount currency } }
                 fraudAlerts { code } }
  identityVerification { verified nameMatches livenessPassed livenessScore }
} } }
"""


async def test_the_deal_shows_its_risk_data_to_the_funders_reviewers_only(
    app_state, owner_engine, providers, client
) -> None:
    m, deal, rows = await _submitted(app_state, owner_engine, "Wang Fang")
    ports = _registry(app_state, providers)
    for kind in ("BUREAU", "IDENTITY"):
        assert (await _run(app_state, ports, m.world.a.id, rows[kind]["id"])).outcome is (
            Outcome.SUCCEEDED
        )
    deal_id = global_id("Deal", deal)

    reviewer = await access_token(client, m.world.a.reviewer_email, tenant=m.world.a.slug)
    body = (await gql(client, reviewer, DEAL_RISK, {"id": deal_id})).json()
    node = body["data"]["node"]
    assert [(c["kind"], c["state"], c["attempts"]) for c in node["riskChecks"]] == [
        ("BUREAU", "SUCCEEDED", 1),
        ("IDENTITY", "SUCCEEDED", 1),
    ]
    assert node["creditReport"]["score"] == 742
    assert node["creditReport"]["currentDelinquencies"] == 0
    assert node["creditReport"]["debts"][0]["balance"] == {"amount": "8650.00", "currency": "CNY"}
    assert node["identityVerification"]["verified"] is True

    # The same deal, reached by others who may see it, shows no risk data.
    others = {
        "the applicant": await access_token(client, m.young.email),
        "the funder's admin without risk:read": await access_token(
            client, m.world.a.admin_email, tenant=m.world.a.slug, scope="deals:read"
        ),
        "the operator": await access_token(client, m.world.admin_email),
    }
    for who, token in others.items():
        seen = (await gql(client, token, DEAL_RISK, {"id": deal_id})).json()
        assert "errors" not in seen, (who, seen)
        node = seen["data"]["node"]
        assert node is not None, who
        assert (node["riskChecks"], node["creditReport"], node["identityVerification"]) == (
            [],
            None,
            None,
        ), who
