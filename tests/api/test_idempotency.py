"""Idempotency keys over HTTP (Stripe semantics): a retry with the same key and request gets
the first answer byte for byte (not the deal as it is now), marked by the Idempotent-Replayed
header; the key with another input or selection is refused; 200 concurrent requests with one
key make one deal, every other answer being that first answer or IDEMPOTENCY_IN_PROGRESS, and
no request fails; a refused request keeps no key. The mechanism is not the deals' own: a
schema of any mutation wrapped with ``idempotent`` gets the same, errors in the answer
included."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import strawberry
from graphql import GraphQLError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from strawberry.extensions import MaskErrors
from strawberry.http import process_result
from strawberry.types import Info

from api.context import db_scope
from api.errors import UserError, run_use_case
from api.idempotency import REPLAYED_HEADER, IdempotentAnswers, idempotent
from api.state import AppState
from domain.kernel.actor import Actor
from domain.kernel.errors import DomainError, ErrorCode
from domain.persistence.engine import open_session
from domain.products.models import ProductLine
from tests.deals_support import CONSENT, Market, counts, market
from tests.support import access_token, content_without_cost, global_id, gql

DEAL = """
    id status
    request { amount { amount currency } term purpose }
    consent { textVersion method givenAt }
    applicant { __typename ... on Person { fullName } }
    timeline { action toStatus occurredAt actorUser { email } }
"""
CREATE = f"""
mutation($input: CreateDealInput!) {{
  createDeal(input: $input) {{ deal {{ {DEAL} }} replayed userErrors {{ field code message }} }}
}}"""
SUBMIT = f"""
mutation($input: SubmitDealInput!) {{
  submitDeal(input: $input) {{ deal {{ {DEAL} }} userErrors {{ field code message }} }}
}}"""
UPDATE = """
mutation($input: UpdateDealInput!) {
  updateDeal(input: $input) { deal { request { term } } userErrors { code } }
}"""
WITHDRAW = """
mutation($input: WithdrawDealInput!) {
  withdrawDeal(input: $input) { deal { status } userErrors { code } }
}"""


def consumer_input(m: Market, **kw: Any) -> dict[str, Any]:
    return {
        "productId": global_id("Product", m.product("a", ProductLine.CONSUMER_CREDIT)),
        "amount": {"amount": "50000.00", "currency": "CNY"},
        "term": 12,
        "purpose": "Home renovation",
        "consent": {"textVersion": CONSENT.text_version, "method": CONSENT.method.value},
    } | kw


async def _young(client: httpx.AsyncClient, app_state: AppState) -> tuple[Market, str]:
    m = await market(app_state)
    return m, await access_token(client, m.young.email)


def _payload(response: httpx.Response, field: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return dict(body["data"][field])


def _literal(value: object) -> str:
    """``value`` as a GraphQL literal (the consent method is an enum, written bare)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if value == CONSENT.method.value or isinstance(value, int):
        return str(value)
    return json.dumps(value)


def _codes(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def _keys(owner: AsyncEngine) -> list[tuple[str, str]]:
    async with owner.connect() as conn:
        rows = await conn.execute(text("select operation, key from idempotency_keys order by 2"))
        return [(r[0], r[1]) for r in rows]


async def test_a_replay_is_the_first_answer_byte_for_byte_not_the_current_deal(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine
) -> None:
    m, token = await _young(client, app_state)
    variables = {"input": consumer_input(m, idempotencyKey="9f1c2a7e-create")}
    first = await gql(client, token, CREATE, variables)
    created = _payload(first, "createDeal")
    assert created["userErrors"] == [] and created["deal"]["request"]["term"] == 12
    assert REPLAYED_HEADER not in first.headers

    # The deal changes after the first answer ...
    edit = {"id": created["deal"]["id"], "term": 6}
    assert _payload(await gql(client, token, UPDATE, {"input": edit}), "updateDeal") == {
        "deal": {"request": {"term": 6}},
        "userErrors": [],
    }
    before = await counts(owner_engine)
    again = await gql(client, token, CREATE, variables)
    # ... and the retry still gets the first answer, byte for byte, and does nothing.
    assert again.status_code == 200
    assert content_without_cost(again.content) == content_without_cost(first.content)
    assert again.headers[REPLAYED_HEADER] == "createDeal"
    assert await counts(owner_engine) == before
    # The payload's deprecated flag is part of the answer, so false in both.
    assert json.loads(again.content)["data"]["createDeal"]["replayed"] is False


async def test_a_submission_replays_its_first_answer_after_the_deal_moved_on(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine
) -> None:
    m, token = await _young(client, app_state)
    deal = _payload(await gql(client, token, CREATE, {"input": consumer_input(m)}), "createDeal")
    variables = {"input": {"id": deal["deal"]["id"], "idempotencyKey": "submit-1"}}
    first = await gql(client, token, SUBMIT, variables)
    assert _payload(first, "submitDeal")["deal"]["status"] == "SUBMITTED"
    withdrawn = await gql(client, token, WITHDRAW, {"input": {"id": deal["deal"]["id"]}})
    assert _payload(withdrawn, "withdrawDeal")["deal"] == {"status": "WITHDRAWN"}

    before = await counts(owner_engine)
    again = await gql(client, token, SUBMIT, variables)
    # Not INVALID_TRANSITION, nor the WITHDRAWN deal: the answer the submission got.
    assert content_without_cost(again.content) == content_without_cost(first.content)
    assert again.headers[REPLAYED_HEADER] == "submitDeal"
    assert await counts(owner_engine) == before
    # Without the key, submitting again is refused by the lifecycle.
    plain = await gql(client, token, SUBMIT, {"input": {"id": deal["deal"]["id"]}})
    assert _codes(_payload(plain, "submitDeal")) == [("id", "INVALID_TRANSITION")]


async def test_the_key_with_another_input_or_selection_is_refused(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine
) -> None:
    m, token = await _young(client, app_state)
    input = consumer_input(m, idempotencyKey="k-1")
    first = await gql(client, token, CREATE, {"input": input})
    assert _payload(first, "createDeal")["userErrors"] == []
    before = await counts(owner_engine)

    reused = [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]
    other_input = await gql(client, token, CREATE, {"input": {**input, "term": 6}})
    assert _codes(_payload(other_input, "createDeal")) == reused
    # The stored answer cannot serve another selection: another request, refused alike.
    other_fields = """
    mutation($input: CreateDealInput!) {
      createDeal(input: $input) { deal { id } userErrors { field code } }
    }"""
    response = await gql(client, token, other_fields, {"input": input})
    assert _payload(response, "createDeal") == {
        "deal": None,
        "userErrors": [{"field": "idempotencyKey", "code": "IDEMPOTENCY_KEY_REUSED"}],
    }
    assert REPLAYED_HEADER not in response.headers
    assert await counts(owner_engine) == before

    # The same request written otherwise - the input inline rather than in variables - is the
    # same request.
    inline = CREATE.replace("($input: CreateDealInput!)", "").replace(
        "input: $input", f"input: {_literal(input)}"
    )
    again = await gql(client, token, inline, {})
    assert (
        content_without_cost(again.content) == content_without_cost(first.content)
        and again.headers[REPLAYED_HEADER] == "createDeal"
    )
    # A root alias is the retry's own: the stored answer is served under it.
    aliased = await gql(
        client, token, CREATE.replace("createDeal(", "apply: createDeal("), {"input": input}
    )
    assert aliased.json()["data"]["apply"] == first.json()["data"]["createDeal"]
    assert aliased.headers[REPLAYED_HEADER] == "apply"
    assert await counts(owner_engine) == before


async def test_a_fragment_counts_by_its_content_not_its_name(
    client: httpx.AsyncClient, app_state: AppState
) -> None:
    m, token = await _young(client, app_state)
    named = CREATE.replace(f"deal {{ {DEAL} }}", "deal { ...Mine }")
    variables = {"input": consumer_input(m, idempotencyKey="k-2")}
    first = await gql(client, token, named + f"fragment Mine on Deal {{ {DEAL} }}", variables)
    assert _payload(first, "createDeal")["userErrors"] == []
    renamed = named.replace("...Mine", "...Theirs") + f"fragment Theirs on Deal {{ {DEAL} }}"
    again = await gql(client, token, renamed, variables)
    assert (
        content_without_cost(again.content) == content_without_cost(first.content)
        and again.headers[REPLAYED_HEADER] == "createDeal"
    )
    inline = CREATE.replace(f"deal {{ {DEAL} }}", f"deal {{ ... on Deal {{ {DEAL} }} }}")
    again = await gql(client, token, inline, variables)
    assert (
        content_without_cost(again.content) == content_without_cost(first.content)
        and again.headers[REPLAYED_HEADER] == "createDeal"
    )


async def test_a_refused_request_keeps_no_key(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine
) -> None:
    m, token = await _young(client, app_state)
    no_consent = {k: v for k, v in consumer_input(m).items() if k != "consent"}
    deal = _payload(await gql(client, token, CREATE, {"input": no_consent}), "createDeal")
    variables = {"input": {"id": deal["deal"]["id"], "idempotencyKey": "retry-me"}}
    refused = _payload(await gql(client, token, SUBMIT, variables), "submitDeal")
    assert _codes(refused) == [("consent", "CONSENT_REQUIRED")]
    assert await _keys(owner_engine) == []
    edit = {"id": deal["deal"]["id"], "consent": consumer_input(m)["consent"]}
    assert (
        _payload(await gql(client, token, UPDATE, {"input": edit}), "updateDeal")["userErrors"]
        == []
    )
    retried = await gql(client, token, SUBMIT, variables)
    assert _payload(retried, "submitDeal")["deal"]["status"] == "SUBMITTED"
    assert REPLAYED_HEADER not in retried.headers
    assert await _keys(owner_engine) == [("submitDeal", "retry-me")]


async def test_200_concurrent_requests_with_one_key_make_one_deal(
    client: httpx.AsyncClient, app_state: AppState, owner_engine: AsyncEngine
) -> None:
    m, token = await _young(client, app_state)
    variables = {"input": consumer_input(m, idempotencyKey="burst-1")}
    responses = await asyncio.gather(*(gql(client, token, CREATE, variables) for _ in range(200)))

    # None failed (the test pool has 10 connections; nobody held one waiting for the first).
    assert [r.status_code for r in responses] == [200] * 200
    bodies = [r.json() for r in responses]
    assert all("errors" not in b for b in bodies), [b for b in bodies if "errors" in b][:1]
    in_progress = [
        r
        for r, b in zip(responses, bodies, strict=True)
        if _codes(b["data"]["createDeal"]) == [("idempotencyKey", "IDEMPOTENCY_IN_PROGRESS")]
    ]
    assert all(json.loads(r.content)["data"]["createDeal"]["deal"] is None for r in in_progress)
    answered = [r for r in responses if r not in in_progress]
    firsts = [r for r in answered if REPLAYED_HEADER not in r.headers]
    assert len(firsts) == 1
    first = firsts[0]
    assert _payload(first, "createDeal")["userErrors"] == []
    replays = [r for r in answered if r is not first]
    assert len(replays) + len(in_progress) == 199
    assert all(
        content_without_cost(r.content) == content_without_cost(first.content) for r in replays
    )
    assert all(r.headers[REPLAYED_HEADER] == "createDeal" for r in replays)

    after = await counts(owner_engine)
    assert (after["deals"], after["idempotency_keys"]) == (1, 1)
    # Once the first has answered, a retry is a replay; a changed body is refused.
    again = await gql(client, token, CREATE, variables)
    assert content_without_cost(again.content) == content_without_cost(first.content)
    changed = {"input": {**variables["input"], "purpose": "Kitchen"}}
    refused = _payload(await gql(client, token, CREATE, changed), "createDeal")
    assert _codes(refused) == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]
    assert await counts(owner_engine) == after


# -- any mutation ----------------------------------------------------------------------------------


@dataclass
class _Context:
    """What ``idempotent`` and ``IdempotentAnswers`` ask of the request's context."""

    actor: Actor
    session: AsyncSession

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        yield self.session


PAID: list[int] = []


@strawberry.input(description="A payment.")
class PayInput:
    amount: int = strawberry.field(description="Minor units.")
    idempotency_key: str | None = strawberry.field(default=None, description="Retry key.")


@strawberry.type(description="Result of pay.")
class PayPayload:
    payment: int | None = strawberry.field(description="The payment's number.")
    user_errors: list[UserError] = strawberry.field(description="Refusals.")

    @strawberry.field(description="How many payments were made so far (changes over time).")
    def paid_so_far(self) -> int:
        return len(PAID)

    @strawberry.field(description="A receipt; its printer is broken.")
    def receipt(self) -> str | None:
        raise RuntimeError("printer jammed at 10.0.0.7")


async def _pay(session: AsyncSession, actor: Actor, amount: int) -> int:
    if amount <= 0:
        raise DomainError(ErrorCode.INVALID_AMOUNT, "positive, please", "amount")
    await session.execute(text("select 1"))
    PAID.append(amount)
    return len(PAID)


@strawberry.type
class _Query:
    @strawberry.field(description="Nothing.")
    def ok(self) -> bool:
        return True


@strawberry.type
class _Mutation:
    @strawberry.mutation(description="Pay.")
    async def pay(self, info: Info, input: PayInput) -> PayPayload:
        async with info.context.db() as session:
            number, errors = await run_use_case(
                session,
                info.context.actor,
                idempotent(info, input, lambda s, a: _pay(s, a, input.amount)),
            )
        return PayPayload(payment=number, user_errors=errors)


def _masked(error: GraphQLError) -> bool:
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


PAY_SCHEMA = strawberry.Schema(
    query=_Query,
    mutation=_Mutation,
    extensions=[IdempotentAnswers, lambda: MaskErrors(should_mask_error=_masked)],
)
PAY = """
mutation($amount: Int!) {
  first: pay(input: {amount: $amount, idempotencyKey: "pay-1"}) {
    payment paidSoFar receipt userErrors { code }
  }
  other: pay(input: {amount: 1}) { payment }
}"""


async def _execute(app_state: AppState, actor: Actor, amount: int) -> str:
    async with open_session(app_state.sessions, db_scope(actor)) as session:
        result = await PAY_SCHEMA.execute(
            PAY, {"amount": amount}, context_value=_Context(actor, session)
        )
        await session.commit()
    return json.dumps(process_result(result))


async def test_any_mutation_replays_its_answer_errors_and_all(app_state, owner_engine) -> None:
    PAID.clear()
    actor = Actor(user_id=None, client_id="pay-app", tenant_id=None)
    first = await _execute(app_state, actor, 500)
    # Two payments: the keyed one and the unkeyed second field.
    assert PAID == [500, 1]
    assert json.loads(first) == {
        "data": {
            "first": {"payment": 1, "paidSoFar": 1, "receipt": None, "userErrors": []},
            "other": {"payment": 2},
        },
        "errors": [
            {
                "message": "Unexpected error.",
                "locations": [{"line": 4, "column": 23}],
                "path": ["first", "receipt"],
            }
        ],
    }
    second = await _execute(app_state, actor, 500)
    # The keyed payment is not made again and its answer (with its masked error, in its place)
    # is the first one, though paidSoFar has moved on; the unkeyed field paid again.
    assert PAID == [500, 1, 1]
    assert json.loads(second)["data"]["other"] == {"payment": 3}
    assert json.loads(second)["data"]["first"] == json.loads(first)["data"]["first"]
    assert json.loads(second)["errors"] == json.loads(first)["errors"]
    # A refusal keeps no key: a retry with a good amount pays.
    PAID.clear()
    refused = json.loads(
        await _execute(app_state, Actor(user_id=None, client_id="pay-2", tenant_id=None), 0)
    )
    assert refused["data"]["first"]["userErrors"] == [{"code": "INVALID_AMOUNT"}]
    async with owner_engine.connect() as conn:
        keys = (await conn.execute(text("select client_id from idempotency_keys"))).scalars().all()
    assert keys == ["pay-app"]


async def test_idempotent_needs_the_answers_extension(app_state, owner_engine) -> None:
    bare = strawberry.Schema(query=_Query, mutation=_Mutation)
    actor = Actor(user_id=None, client_id="pay-app", tenant_id=None)
    PAID.clear()
    async with open_session(app_state.sessions, db_scope(actor)) as session:
        result = await bare.execute(PAY, {"amount": 5}, context_value=_Context(actor, session))
        await session.commit()
    assert result.errors and "IdempotentAnswers" in result.errors[0].message
    assert result.data is None and PAID == []  # nothing paid, nothing kept
    async with owner_engine.connect() as conn:
        assert (await conn.scalar(text("select count(*) from idempotency_keys"))) == 0
