"""Isolation of the ID arguments of queries and subscriptions, and of a deal's risk data.

``node`` and ``nodes`` are covered by tests/api/test_node_isolation.py, and the ID arguments
of mutations there too. Here every other ID-typed argument of a root Query field and of a
Subscription field (found by introspection, nested input types included) needs a row in
``QUERY_ID_ARGS`` or ``SUBSCRIPTION_ID_ARGS``: each proves that another tenant's object
reads like one that does not exist - the same refusal, or the same empty answer - while a
principal entitled to it gets it. A new ID argument without a row fails
``test_every_query_and_subscription_id_argument_has_a_refusal_case``.

And every field of ``Deal`` whose name speaks of risk data or reviews (risk, bureau, credit,
identity, valuation, assessment, review; found by introspection) is null or empty for every
principal that reaches bank A's deal but is not bank A's (the applicant and the partner app
through their own deal, the operator through ``node`` and its ``platformDeals``), while bank
A's first reviewer reads them; bank B's principals (risk:read included) reach it along no
path. The same holds for the deal each subscription change carries. A first reviewer's
notes and name stay with the funder too, the timeline included (the notes do not yet:
``TIMELINE_NOTES_LEAK``)."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.state import AppState
from domain.deals import repository as deals_repository
from domain.deals.models import DealStatus
from domain.kernel.money import Money
from domain.kernel.scopes import SERVICE_ACCOUNT_SCOPES
from domain.ledger import service as ledger
from domain.ledger.models import AccountKind, EntryCause
from domain.ledger.policy import AccountRef, credit, debit
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE, DbScope
from domain.products import service as product_service
from domain.products.models import ProductLine
from domain.reviews import service as review_service
from domain.risk.ports import CreditFile, CreditReport
from domain.risk.results import report_to_json
from lendgraph.demo import SEEDER
from lendgraph.settings import Settings
from tenants import service as tenant_service
from tenants.keys import SigningKeys
from tenants.models import ClientKind
from tests.api.test_live_status import (
    LiveServer,
    change,
    listening,
    live_server,
    receive,
    send_subscribe,
    socket_as,
    subscribed,
    until_listening,
    until_listening_at_most,
)
from tests.collateral_support import tenant_session
from tests.deals_support import Market, apply, consumer_deal, market, submit
from tests.products_support import consumer_terms
from tests.support import access_token, client_token, global_id, gql, without_cost


@dataclass
class Ctx:
    """The market, bank A's consumer deal of the young borrower through the partner app (a
    DRAFT), bank B's consumer deal of hers (a DRAFT), bank B's draft product, and a token per
    principal."""

    m: Market
    tokens: dict[str, str]
    ids: dict[str, uuid.UUID]

    def gid(self, type_name: str, key: str) -> str:
        return global_id(type_name, self.ids[key])


async def _app_token(client: httpx.AsyncClient, credentials: tuple[str, str]) -> str:
    response = await client_token(client, credentials)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


WIDE_B = ("wide-b", "wide-b-secret")


async def _books_of_b(state: AppState, tenant: uuid.UUID) -> None:
    """One entry in bank B's books: 1,000.00 from settlement cash to suspense."""
    async with open_session(state.sessions, DbScope(tenant_id=tenant)) as s:
        await ledger.post(
            s,
            tenant_id=tenant,
            cause=EntryCause.ADJUSTMENT,
            idempotency_reference="isolation-b",
            value_date=date(2027, 3, 1),
            postings=[
                debit(AccountRef(AccountKind.SUSPENSE), Money.parse("1000.00", "CNY")),
                credit(AccountRef(AccountKind.SETTLEMENT_CASH), Money.parse("1000.00", "CNY")),
            ],
            actor=SEEDER,
        )
        await s.commit()


@pytest.fixture
async def ctx(client: httpx.AsyncClient, app_state: AppState) -> Ctx:
    m = await market(app_state)
    world = m.world
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        draft = await product_service.create_product(
            s,
            SEEDER,
            product_line=ProductLine.CONSUMER_CREDIT,
            name="B hidden draft",
            terms=consumer_terms(),
            tenant_id=world.b.id,
        )
        # Bank B's own app with every scope a service account may hold (risk:read included).
        await tenant_service.create_client(
            s,
            SEEDER,
            name="wide b",
            kind=ClientKind.SERVICE_ACCOUNT,
            scopes=sorted(sc.value for sc in SERVICE_ACCOUNT_SCOPES),
            tenant_id=world.b.id,
            credentials=WIDE_B,
        )
        await s.commit()
    deal_a = (
        await apply(
            app_state,
            m.partner.actor(),
            **consumer_deal(
                m, "a", applicant_person_id=m.young.person_id, liveness_session="LS-7f3a9c"
            ),
        )
    ).deal.id
    deal_b = (await apply(app_state, m.young.actor(), **consumer_deal(m, "b"))).deal.id
    await _books_of_b(app_state, world.b.id)
    tokens = {
        "operator": await access_token(client, world.admin_email),
        "admin_a": await access_token(client, world.a.admin_email, tenant=world.a.slug),
        "admin_b": await access_token(client, world.b.admin_email, tenant=world.b.slug),
        "reviewer_a": await access_token(client, world.a.reviewer_email, tenant=world.a.slug),
        "reviewer_b": await access_token(client, world.b.reviewer_email, tenant=world.b.slug),
        "svc_b": await _app_token(client, WIDE_B),
        "applicant": await access_token(client, m.young.email),
        "partner": await _app_token(client, m.partner.credentials),
        "other_partner": await _app_token(client, m.other_partner.credentials),
        "seller": await access_token(client, m.chain.seller_user.email),
    }
    ids = {
        "tenant_a": world.a.id,
        "tenant_b": world.b.id,
        "deal_a": deal_a,
        "deal_b": deal_b,
        "product_b_draft": draft.product.id,
        "product_b": m.product("b", ProductLine.CONSUMER_CREDIT),
        "product_a": m.product("a", ProductLine.CONSUMER_CREDIT),
    }
    return Ctx(m=m, tokens=tokens, ids=ids)


def _masked(body: Any, gid: str) -> str:
    """``body`` as JSON with the UUID inside ``gid`` (and ``gid`` itself) replaced."""
    pk = base64.b64decode(gid).decode().split(":", 1)[1]
    return json.dumps(without_cost(body), sort_keys=True).replace(gid, "<gid>").replace(pk, "<id>")


def _type_of(gid: str) -> str:
    return base64.b64decode(gid).decode().split(":", 1)[0]


# --- ID arguments of queries (over HTTP) ---------------------------------------------------

QUOTE = """
query($productId: ProductID!) {
  quote(productId: $productId, amount: {amount: "50000.00", currency: "CNY"}, term: 12) {
    quote { product { id } version }
    userErrors { field code message }
  }
}"""

TRIAL_BALANCE = """
query($funderId: TenantID) {
  trialBalance(funderId: $funderId) { currency totalDebits { amount } }
}"""

PLATFORM_DEALS = """
query($funderId: TenantID) {
  platformDeals(first: 100, funderId: $funderId) { edges { node { id funder { id } } } }
}"""


def _quote_refused(body: dict[str, Any]) -> None:
    assert "errors" not in body, body
    payload = body["data"]["quote"]
    assert payload["quote"] is None, body
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        ("productId", "NOT_FOUND")
    ], body


def _quote_given(ctx: Ctx, gid: str, body: dict[str, Any]) -> None:
    assert "errors" not in body, body
    payload = body["data"]["quote"]
    assert payload["userErrors"] == [], body
    assert payload["quote"]["product"]["id"] == gid, body


def _forbidden(field: str) -> Callable[[dict[str, Any]], None]:
    def check(body: dict[str, Any]) -> None:
        assert (body.get("data") or {}).get(field) is None, body
        assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
            ([field], "FORBIDDEN")
        ], body

    return check


def _bank_b_deals_only(ctx: Ctx, gid: str, body: dict[str, Any]) -> None:
    # Bank B has one deal (the borrower's), bank A one (the partner's): only B's is listed.
    assert "errors" not in body, body
    edges = body["data"]["platformDeals"]["edges"]
    assert [(e["node"]["id"], e["node"]["funder"]["id"]) for e in edges] == [
        (ctx.gid("Deal", "deal_b"), gid)
    ], body


def _no_books(body: dict[str, Any]) -> None:
    assert without_cost(body) == {"data": {"trialBalance": []}}, body


def _bank_b_books(ctx: Ctx, gid: str, body: dict[str, Any]) -> None:
    assert without_cost(body) == {
        "data": {"trialBalance": [{"currency": "CNY", "totalDebits": {"amount": "1000.00"}}]}
    }, body


def _no_deals(body: dict[str, Any]) -> None:
    assert without_cost(body) == {"data": {"platformDeals": {"edges": []}}}, body


@dataclass(frozen=True)
class QueryIdArg:
    """An ID argument of a root query field (``path`` inside its arguments): the document
    (its one variable named like the argument), the principals that must be refused each
    object (``strangers``: principal and key of ``Ctx.ids``), how the refusal reads
    (``refused``), and the principals entitled to an object and what they get (``given``).
    A stranger's answer for the hidden object and for an unknown ID of the same type must be
    the same but for the ID. ``unknown_for_users`` checks what an entitled principal gets for
    an unknown ID (a refusal or an empty answer)."""

    field: str
    path: str
    document: str
    type_name: str
    strangers: tuple[tuple[str, str], ...]
    refused: Callable[[dict[str, Any]], None]
    users: tuple[tuple[str, str], ...]
    given: Callable[[Ctx, str, dict[str, Any]], None]
    unknown_for_users: Callable[[dict[str, Any]], None]

    @property
    def name(self) -> str:
        return f"{self.field}.{self.path}"

    async def send(self, client: httpx.AsyncClient, token: str, gid: str) -> dict[str, Any]:
        response = await gql(client, token, self.document, {self.path: gid})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


QUERY_ID_ARGS = [
    QueryIdArg(
        "quote",
        "productId",
        QUOTE,
        "Product",
        # Bank A's admin reads its own products only (no marketplace:read): bank B's offer is
        # not there for it; bank B's draft is nobody's but bank B's.
        strangers=(
            ("admin_a", "product_b"),
            ("admin_a", "product_b_draft"),
            ("applicant", "product_b_draft"),
            ("partner", "product_b_draft"),
            ("reviewer_a", "product_b_draft"),
        ),
        refused=_quote_refused,
        users=(("admin_b", "product_b"), ("applicant", "product_b"), ("partner", "product_b")),
        given=_quote_given,
        unknown_for_users=_quote_refused,
    ),
    QueryIdArg(
        # The operator's view: anyone else is refused whatever funder is named.
        "platformDeals",
        "funderId",
        PLATFORM_DEALS,
        "Tenant",
        strangers=(
            ("admin_a", "tenant_b"),
            ("reviewer_a", "tenant_b"),
            ("svc_b", "tenant_b"),
            ("applicant", "tenant_b"),
            ("partner", "tenant_b"),
        ),
        refused=_forbidden("platformDeals"),
        users=(("operator", "tenant_b"),),
        given=_bank_b_deals_only,
        unknown_for_users=_no_deals,
    ),
    QueryIdArg(
        # A funder's books are its own: another funder's read as none, like an unknown one.
        "trialBalance",
        "funderId",
        TRIAL_BALANCE,
        "Tenant",
        strangers=(("admin_a", "tenant_b"),),
        refused=_no_books,
        users=(("admin_b", "tenant_b"), ("operator", "tenant_b")),
        given=_bank_b_books,
        unknown_for_users=_no_books,
    ),
]


@dataclass(frozen=True)
class SubscriptionIdArg:
    """An ID argument of a subscription field: the strangers that must be refused the object
    at subscribe time as they are refused an unknown ID, and the users that hear its
    changes."""

    field: str
    path: str
    type_name: str
    key: str
    strangers: tuple[str, ...]
    users: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.field}.{self.path}"


SUBSCRIPTION_ID_ARGS = [
    SubscriptionIdArg(
        "dealStatusChanged",
        "dealId",
        "Deal",
        "deal_a",
        # Bank B's staff and app (risk:read and every scope but platform:admin), a partner app
        # the deal did not come through, another party.
        strangers=("admin_b", "reviewer_b", "svc_b", "other_partner", "seller"),
        users=("admin_a", "applicant", "partner", "operator"),
    ),
]

ID_ARGUMENTS_QUERY = """
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { name } } } }
{ __schema {
    queryType { fields { name args { name type { ...T } } } }
    subscriptionType { fields { name args { name type { ...T } } } }
    types { name kind inputFields { name type { ...T } } }
} }"""


async def test_every_query_and_subscription_id_argument_has_a_refusal_case(
    client: httpx.AsyncClient, ctx: Ctx
) -> None:
    response = await gql(client, ctx.tokens["operator"], ID_ARGUMENTS_QUERY)
    schema = response.json()["data"]["__schema"]
    inputs = {t["name"]: t for t in schema["types"] if t["kind"] == "INPUT_OBJECT"}

    def named(t: dict[str, Any]) -> str:
        while t.get("ofType"):
            t = t["ofType"]
        return str(t["name"])

    def id_paths(type_name: str, prefix: str, seen: frozenset[str]) -> set[str]:
        # The Relay ID and the typed ID scalars (DealID, TenantID, ...), inside input types too.
        if type_name.endswith("ID"):
            return {prefix}
        if type_name not in inputs or type_name in seen:
            return set()
        out: set[str] = set()
        for sub in inputs[type_name]["inputFields"]:
            out |= id_paths(named(sub["type"]), f"{prefix}.{sub['name']}", seen | {type_name})
        return out

    found: set[str] = set()
    roots = [schema["queryType"], schema["subscriptionType"]]
    for root in roots:
        for field in root["fields"]:
            if field["name"] in ("node", "nodes"):  # tests/api/test_node_isolation.py
                continue
            for arg in field["args"]:
                found |= {
                    f"{field['name']}.{p}"
                    for p in id_paths(named(arg["type"]), arg["name"], frozenset())
                }
    covered = {a.name for a in QUERY_ID_ARGS} | {a.name for a in SUBSCRIPTION_ID_ARGS}
    assert "dealStatusChanged.dealId" in found, "introspection found no subscription ID"
    assert not found - covered, f"ID arguments without a refusal case: {found - covered}"
    assert not covered - found, f"stale cases: {covered - found}"


@pytest.mark.parametrize("arg", QUERY_ID_ARGS, ids=lambda a: a.name)
async def test_query_id_argument_refuses_another_tenants_object_like_an_unknown_one(
    client: httpx.AsyncClient, ctx: Ctx, arg: QueryIdArg
) -> None:
    for stranger, key in arg.strangers:
        hidden_id = ctx.gid(arg.type_name, key)
        unknown_id = global_id(arg.type_name, uuid.uuid4())
        hidden = await arg.send(client, ctx.tokens[stranger], hidden_id)
        unknown = await arg.send(client, ctx.tokens[stranger], unknown_id)
        arg.refused(hidden)
        arg.refused(unknown)
        assert _masked(hidden, hidden_id) == _masked(unknown, unknown_id), (stranger, key)


@pytest.mark.parametrize("arg", QUERY_ID_ARGS, ids=lambda a: a.name)
async def test_query_id_argument_gives_an_entitled_principal_its_object(
    client: httpx.AsyncClient, ctx: Ctx, arg: QueryIdArg
) -> None:
    # The positive control: the refusals above are the caller's, not the query's.
    for user, key in arg.users:
        gid = ctx.gid(arg.type_name, key)
        arg.given(ctx, gid, await arg.send(client, ctx.tokens[user], gid))
        unknown = await arg.send(client, ctx.tokens[user], global_id(arg.type_name, uuid.uuid4()))
        arg.unknown_for_users(unknown)


# --- ID arguments of subscriptions (over the WebSocket) ------------------------------------


@pytest.fixture(scope="module")
def live(settings: Settings, signing_keys: SigningKeys) -> Iterator[LiveServer]:
    with live_server(settings, signing_keys) as server:
        yield server


async def _subscribe_error(live: LiveServer, token: str, field: str, variables: Any) -> Any:
    """The error messages and codes refusing a subscription of ``field`` with ``variables``."""
    async with socket_as(live, token) as ws:
        await send_subscribe(ws, "s", **variables)
        message = await receive(ws)
        assert message["type"] == "error" and message["id"] == "s", message
        return [(e["message"], e.get("extensions", {}).get("code")) for e in message["payload"]]


@pytest.mark.parametrize("arg", SUBSCRIPTION_ID_ARGS, ids=lambda a: a.name)
async def test_subscription_id_argument_refuses_another_tenants_object_like_an_unknown_one(
    live: LiveServer, ctx: Ctx, arg: SubscriptionIdArg
) -> None:
    await until_listening_at_most(live, 0)
    for stranger in arg.strangers:
        token = ctx.tokens[stranger]
        hidden = await _subscribe_error(
            live, token, arg.field, {arg.path: ctx.gid(arg.type_name, arg.key)}
        )
        unknown = await _subscribe_error(
            live, token, arg.field, {arg.path: global_id(arg.type_name, uuid.uuid4())}
        )
        assert hidden == unknown == [("no such deal", "NOT_FOUND")], stranger
    # Refused subscriptions listen no more.
    await until_listening_at_most(live, 0)
    assert listening(live) == 0


@pytest.mark.parametrize("arg", SUBSCRIPTION_ID_ARGS, ids=lambda a: a.name)
async def test_subscription_id_argument_lets_an_entitled_principal_hear_its_object(
    live: LiveServer, app_state: AppState, ctx: Ctx, arg: SubscriptionIdArg
) -> None:
    await until_listening_at_most(live, 0)
    gid = ctx.gid(arg.type_name, arg.key)
    async with AsyncExitStack() as stack:
        sockets = []
        for user in arg.users:
            ws = await stack.enter_async_context(socket_as(live, ctx.tokens[user]))
            await subscribed(live, ws, user, **{arg.path: gid})
            sockets.append((user, ws))
        # The partner app submits bank A's deal: every entitled subscriber hears it.
        outcome, errors = await submit(app_state, ctx.m.partner.actor(), ctx.ids["deal_a"])
        assert outcome is not None, errors
        for user, ws in sockets:
            heard = await change(ws, user)
            assert (heard["deal"]["id"], heard["status"]) == (gid, "SUBMITTED"), user


# --- a deal's risk data and reviews --------------------------------------------------------

#: Names of the Deal fields that carry risk data or the funder's reviews.
RISK_FIELD = re.compile(r"risk|bureau|credit|identity|valuation|assessment|review", re.I)
SCORE = 731


async def _deal_a_in_first_review(app_state: AppState, owner_engine: AsyncEngine, ctx: Ctx) -> None:
    """Bank A's deal submitted by the partner app (its risk checks are queued with the
    submission), moved to FIRST_REVIEW by hand with its first review opened (intake's step),
    and the bureau's report on the applicant written as a finished call."""
    deal_id = ctx.ids["deal_a"]
    outcome, errors = await submit(app_state, ctx.m.partner.actor(), deal_id)
    assert outcome is not None, errors
    async with tenant_session(app_state, ctx.m.world.a.id) as s:
        deal = await deals_repository.deal(s, deal_id, for_update=True)
        assert deal is not None
        deal.status = DealStatus.FIRST_REVIEW
        await s.flush()
        await review_service.open_first_review(s, deal)
        await s.commit()
    report = CreditReport(
        report_id="RPT-Q1",
        request_id="req-q1",
        generated_at=datetime(2026, 12, 4, 9, 30, tzinfo=UTC),
        file=CreditFile.FULL,
        score=SCORE,
        score_model="bureau-v5",
    )
    async with owner_engine.begin() as conn:
        kinds = (
            await conn.execute(
                text("select kind::text from integration_calls where deal_id = :d order by kind"),
                {"d": deal_id},
            )
        ).scalars()
        # A person's consumer deal: the bureau and the identity verifier.
        assert list(kinds) == ["BUREAU", "IDENTITY"]
        updated = await conn.execute(
            text(
                "update integration_calls set state = 'SUCCEEDED', attempts = 1,"
                " result = cast(:r as jsonb), finished_at = now()"
                " where deal_id = :d and kind = 'BUREAU'"
            ),
            {"r": json.dumps(report_to_json(report)), "d": deal_id},
        )
        assert updated.rowcount == 1


async def _risk_fields(client: httpx.AsyncClient, ctx: Ctx) -> dict[str, bool]:
    """The Deal fields carrying risk data or reviews, each with whether it is a list."""
    query = """
    { __type(name: "Deal") { fields { name type { kind name ofType { kind name ofType {
        kind name ofType { kind name } } } } } } }"""
    response = await gql(client, ctx.tokens["operator"], query)
    fields = response.json()["data"]["__type"]["fields"]
    out = {}
    for f in fields:
        if RISK_FIELD.search(f["name"]):
            t = f["type"]
            out[f["name"]] = (t["ofType"] if t["kind"] == "NON_NULL" else t)["kind"] == "LIST"
    return out


def _fragment(fields: dict[str, bool]) -> str:
    # __typename is enough to tell null or empty from something given.
    return "fragment R on Deal { id " + " ".join(f"{f} {{ __typename }}" for f in fields) + " }"


def _empty(fields: dict[str, bool]) -> dict[str, Any]:
    return {f: [] if is_list else None for f, is_list in fields.items()}


async def _reached(
    client: httpx.AsyncClient, ctx: Ctx, token: str, fields: dict[str, bool], path: str
) -> list[dict[str, Any]]:
    """Bank A's deal as ``token`` reads it along ``path`` (node, myDeals, platformDeals,
    deals, reviewQueue): the deal's answers, none when the path does not show it."""
    gid = ctx.gid("Deal", "deal_a")
    documents = {
        "node": "query($id: ID!) { node(id: $id) { ...R } }",
        "myDeals": "{ myDeals(first: 5) { edges { node { ...R } } } }",
        "platformDeals": "{ platformDeals(first: 5) { edges { node { ...R } } } }",
        "deals": "{ deals(first: 20) { edges { node { ...R } } } }",
        "reviewQueue": "{ reviewQueue(stage: FIRST, first: 20) { edges { deal { ...R } } } }",
    }
    response = await gql(client, token, documents[path] + _fragment(fields), {"id": gid})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    data = body["data"][path]
    if path == "node":
        found = [] if data is None else [data]
    else:
        found = [e.get("node") or e.get("deal") for e in data["edges"]]
    return [d for d in found if d is not None and d["id"] == gid]


#: Who reaches bank A's deal, along which paths, without being bank A's.
OUTSIDERS: dict[str, tuple[str, ...]] = {
    "applicant": ("node", "myDeals"),
    "partner": ("node", "myDeals"),
    "operator": ("node", "platformDeals"),
}
#: Bank B's principals, risk:read included: bank A's deal is along none of their paths.
BANK_B: dict[str, tuple[str, ...]] = {
    "admin_b": ("node", "deals"),
    "reviewer_b": ("node", "deals", "reviewQueue"),
    "svc_b": ("node", "deals"),
}


async def test_risk_and_review_fields_are_empty_for_everyone_but_the_funders_staff(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine, ctx: Ctx
) -> None:
    await _deal_a_in_first_review(app_state, owner_engine, ctx)
    fields = await _risk_fields(client, ctx)
    expected = {
        "riskChecks",
        "creditReport",
        "identityVerification",
        "collateralValuation",
        "riskAssessment",
        "reviews",
    }
    assert expected <= fields.keys(), fields
    gid = ctx.gid("Deal", "deal_a")
    empty = {"id": gid, **_empty(fields)}
    for who, paths in OUTSIDERS.items():
        for path in paths:
            seen = await _reached(client, ctx, ctx.tokens[who], fields, path)
            # Reached, so the nulls are the fields' refusal.
            assert seen == [empty], (who, path)
    for who, paths in BANK_B.items():
        for path in paths:
            assert await _reached(client, ctx, ctx.tokens[who], fields, path) == [], (who, path)


async def test_the_funders_first_reviewer_reads_the_risk_data_and_its_admin_the_reviews(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine, ctx: Ctx
) -> None:
    # The positive control of the test above, along the same paths' kind.
    await _deal_a_in_first_review(app_state, owner_engine, ctx)
    fields = await _risk_fields(client, ctx)
    query = """
    query($id: ID!) { node(id: $id) { ... on Deal {
      riskChecks { kind state } creditReport { score } reviews { stage round decision }
      identityVerification { verified } collateralValuation { __typename }
      riskAssessment { __typename }
    } } }"""
    variables = {"id": ctx.gid("Deal", "deal_a")}
    body = (await gql(client, ctx.tokens["reviewer_a"], query, variables)).json()
    assert "errors" not in body, body
    assert body["data"]["node"] == {
        "riskChecks": [
            {"kind": "BUREAU", "state": "SUCCEEDED"},
            {"kind": "IDENTITY", "state": "PENDING"},
        ],
        "creditReport": {"score": SCORE},
        "reviews": [{"stage": "FIRST", "round": 1, "decision": None}],
        # Not answered yet (identity), not a pledge (valuation), not assessed.
        "identityVerification": None,
        "collateralValuation": None,
        "riskAssessment": None,
    }
    for path in ("deals", "reviewQueue"):
        [seen] = await _reached(client, ctx, ctx.tokens["reviewer_a"], fields, path)
        assert seen["riskChecks"] == [{"__typename": "RiskCheck"}] * 2, path
        assert seen["creditReport"] == {"__typename": "CreditReport"}, path
        assert seen["reviews"] == [{"__typename": "DealReview"}], path
    # Bank A's admin holds deals:read, not risk:read: the reviews, and no risk data.
    [seen] = await _reached(client, ctx, ctx.tokens["admin_a"], fields, "node")
    assert seen == {
        **_empty(fields),
        "id": variables["id"],
        "reviews": [{"__typename": "DealReview"}],
    }


RISK_SUBSCRIPTION = """
subscription($dealId: DealID) {
  dealStatusChanged(dealId: $dealId) {
    status
    deal {
      id riskChecks { kind state } creditReport { score } identityVerification { verified }
      collateralValuation { __typename } riskAssessment { __typename } reviews { stage }
    }
  }
}"""


async def test_the_subscriptions_deal_shows_risk_data_to_the_funders_reviewer_only(
    live: LiveServer, app_state: AppState, ctx: Ctx
) -> None:
    # Each change carries the deal read afresh: through the same field rules as node.
    await until_listening_at_most(live, 0)
    gid = ctx.gid("Deal", "deal_a")
    users = ("reviewer_a", "admin_a", "applicant", "partner", "operator")
    async with AsyncExitStack() as stack:
        sockets = []
        for n, user in enumerate(users):
            ws = await stack.enter_async_context(socket_as(live, ctx.tokens[user]))
            payload = {"query": RISK_SUBSCRIPTION, "variables": {"dealId": gid}}
            await ws.send(json.dumps({"id": user, "type": "subscribe", "payload": payload}))
            await until_listening(live, n + 1)
            sockets.append((user, ws))
        outcome, errors = await submit(app_state, ctx.m.partner.actor(), ctx.ids["deal_a"])
        assert outcome is not None, errors
        heard = {user: await change(ws, user) for user, ws in sockets}
    nothing: dict[str, Any] = {
        "id": gid,
        "riskChecks": [],
        "creditReport": None,
        "identityVerification": None,
        "collateralValuation": None,
        "riskAssessment": None,
        "reviews": [],
    }
    # Submitted with its checks queued; no review opened yet.
    checks = [{"kind": "BUREAU", "state": "PENDING"}, {"kind": "IDENTITY", "state": "PENDING"}]
    assert heard["reviewer_a"] == {
        "status": "SUBMITTED",
        "deal": {**nothing, "riskChecks": checks},
    }
    for user in users[1:]:
        assert heard[user] == {"status": "SUBMITTED", "deal": nothing}, user


DECIDE_FIRST = """
mutation($input: DecideFirstReviewInput!) {
  decideFirstReview(input: $input) { deal { status } userErrors { field code message } }
}"""
#: A first reviewer's notes: the funder's internal record, built on the risk data.
REVIEW_NOTES = "Bureau score 731 but two recent inquiries; income unverified"
TIMELINE = "fragment R on Deal { id status reviews { notes } timeline { action note } }"


async def _reviewed(
    client: httpx.AsyncClient, app_state: AppState, owner: AsyncEngine, ctx: Ctx
) -> None:
    """Bank A's deal past its first review: its first reviewer approved it with notes."""
    await _deal_a_in_first_review(app_state, owner, ctx)
    variables = {
        "input": {
            "dealId": ctx.gid("Deal", "deal_a"),
            "decision": "APPROVE",
            "notes": REVIEW_NOTES,
        }
    }
    body = (await gql(client, ctx.tokens["reviewer_a"], DECIDE_FIRST, variables)).json()
    assert body["data"]["decideFirstReview"] == {
        "deal": {"status": "SECOND_REVIEW"},
        "userErrors": [],
    }, body


async def _read_with(
    client: httpx.AsyncClient, ctx: Ctx, who: str, path: str
) -> tuple[list[dict[str, Any]], str]:
    gid = ctx.gid("Deal", "deal_a")
    documents = {
        "node": "query($id: ID!) { node(id: $id) { ...R } }",
        "myDeals": "{ myDeals(first: 5) { edges { node { ...R } } } }",
        "platformDeals": "{ platformDeals(first: 5) { edges { node { ...R } } } }",
    }
    response = await gql(client, ctx.tokens[who], documents[path] + TIMELINE, {"id": gid})
    body = response.json()
    assert "errors" not in body, body
    data = body["data"][path]
    found = [data] if path == "node" else [e["node"] for e in data["edges"]]
    return [d for d in found if d is not None and d["id"] == gid], response.text


async def test_the_funders_staff_read_the_review_notes(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine, ctx: Ctx
) -> None:
    await _reviewed(client, app_state, owner_engine, ctx)
    [deal], _ = await _read_with(client, ctx, "admin_a", "node")
    assert deal["reviews"] == [{"notes": REVIEW_NOTES}, {"notes": None}]
    assert [e["action"] for e in deal["timeline"]][-1] == "deal.pass_first_review"


@pytest.mark.parametrize("who", sorted(OUTSIDERS))
async def test_the_review_notes_reach_no_one_outside_the_funder(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine, ctx: Ctx, who: str
) -> None:
    await _reviewed(client, app_state, owner_engine, ctx)
    for path in OUTSIDERS[who]:
        [deal], answer = await _read_with(client, ctx, who, path)
        assert deal["reviews"] == [], (who, path)
        # The decision is on the timeline (the status moved), its notes are not.
        assert [e["action"] for e in deal["timeline"]][-1] == "deal.pass_first_review"
        assert REVIEW_NOTES not in answer, (who, path)


async def test_the_reviewer_is_named_to_the_funder_only(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine, ctx: Ctx
) -> None:
    # The timeline says a person of the funder decided; who, only the funder's staff (and the
    # operator, who sees every user) are told.
    await _reviewed(client, app_state, owner_engine, ctx)
    query = """
    query($id: ID!) { node(id: $id) { ... on Deal {
      timeline { action actorKind actorUser { email } }
    } } }"""
    variables = {"id": ctx.gid("Deal", "deal_a")}
    reviewer = ctx.m.world.a.reviewer_email

    async def decided_by(who: str) -> tuple[dict[str, Any], str]:
        response = await gql(client, ctx.tokens[who], query, variables)
        body = response.json()
        assert "errors" not in body, body
        [entry] = [
            e for e in body["data"]["node"]["timeline"] if e["action"] == "deal.pass_first_review"
        ]
        return entry, response.text

    for who in ("admin_a", "operator"):
        entry, _ = await decided_by(who)
        assert entry["actorUser"] == {"email": reviewer}, who
    for who in ("applicant", "partner"):
        entry, answer = await decided_by(who)
        assert entry["actorUser"] is None, who
        assert reviewer not in answer, who
