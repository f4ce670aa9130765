"""The same bad amount gets the same userError (field and code) from ``quote`` and from
``createDeal`` on the same product: a client validates an amount once, whichever it calls."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.state import AppState
from domain.products.models import ProductLine
from tests.deals_support import Market, market
from tests.support import access_token, global_id, gql

QUOTE = """
query($p: ProductID!, $amount: MoneyInput!) {
  quote(productId: $p, amount: $amount, term: 12) { quote { apr } userErrors { field code } }
}"""
CREATE = """
mutation($input: CreateDealInput!) {
  createDeal(input: $input) { deal { id } userErrors { field code } }
}"""

# Bank A's consumer product: 1,000.00 to 200,000.00 CNY (tests.products_support.base_terms).
BAD_AMOUNTS = [
    ("abc", "CNY", [("amount.amount", "INVALID_AMOUNT")]),
    ("", "CNY", [("amount.amount", "INVALID_AMOUNT")]),
    ("100.001", "CNY", [("amount.amount", "INVALID_AMOUNT")]),  # past the fen
    ("1e5", "CNY", [("amount.amount", "INVALID_AMOUNT")]),
    ("5,000.00", "CNY", [("amount.amount", "INVALID_AMOUNT")]),
    ("-5000.00", "CNY", [("amount", "INVALID_AMOUNT")]),  # parsed, then not above zero
    ("0.00", "CNY", [("amount", "INVALID_AMOUNT")]),
    ("999.99", "CNY", [("amount", "AMOUNT_NOT_OFFERED")]),
    ("200000.01", "CNY", [("amount", "AMOUNT_NOT_OFFERED")]),
    ("5000.00", "ZZZ", [("amount.currency", "INVALID_CURRENCY")]),
    ("5000.00", "cny", [("amount.currency", "INVALID_CURRENCY")]),
    ("5000.00", "USD", [("amount", "CURRENCY_MISMATCH")]),
]


@pytest.fixture
async def setup(client: httpx.AsyncClient, app_state: AppState) -> tuple[Market, str]:
    m = await market(app_state)
    return m, await access_token(client, m.young.email)


async def _refusals(
    client: httpx.AsyncClient, token: str, document: str, v: Any, field: str
) -> Any:
    response = await gql(client, token, document, v)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    payload = body["data"][field]
    assert payload["quote" if field == "quote" else "deal"] is None, payload
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


@pytest.mark.parametrize(("amount", "currency", "expected"), BAD_AMOUNTS, ids=str)
async def test_quote_and_create_deal_refuse_a_bad_amount_alike(
    client: httpx.AsyncClient,
    setup: tuple[Market, str],
    amount: str,
    currency: str,
    expected: list[tuple[str, str]],
) -> None:
    m, token = setup
    product = global_id("Product", m.product("a", ProductLine.CONSUMER_CREDIT))
    money = {"amount": amount, "currency": currency}
    quoted = await _refusals(client, token, QUOTE, {"p": product, "amount": money}, "quote")
    created = await _refusals(
        client,
        token,
        CREATE,
        {"input": {"productId": product, "amount": money, "term": 12, "purpose": "Sofa"}},
        "createDeal",
    )
    assert (quoted, created) == (expected, expected)


async def test_a_good_amount_is_quoted_and_applied_for(
    client: httpx.AsyncClient, setup: tuple[Market, str]
) -> None:
    m, token = setup
    product = global_id("Product", m.product("a", ProductLine.CONSUMER_CREDIT))
    money = {"amount": "5000.00", "currency": "CNY"}
    response = await gql(client, token, QUOTE, {"p": product, "amount": money})
    assert response.json()["data"]["quote"]["userErrors"] == []
    variables = {"input": {"productId": product, "amount": money, "term": 12, "purpose": "Sofa"}}
    response = await gql(client, token, CREATE, variables)
    assert response.json()["data"]["createDeal"]["userErrors"] == []
