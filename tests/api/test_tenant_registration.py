"""A funder's registration number (its unified social credit code) at onboarding: recorded
upper-cased when its check character is right, refused with INVALID_SOCIAL_CREDIT_CODE when
it is not, refused with DUPLICATE when another funder has it, and optional (such a funder gets
no contract: tests/integration/test_contracts.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import FUNDER_CODES, World, access_token, gql, seed_world, without_cost

CREATE = """
mutation($input: CreateTenantInput!) { createTenant(input: $input) {
  tenant { slug registrationNumber } userErrors { code field } } }"""


@pytest.fixture
async def world(app_state: Any) -> World:
    return await seed_world(app_state)


@pytest.fixture
async def admin(client: httpx.AsyncClient, world: World) -> str:
    return await access_token(client, world.admin_email)


async def _create(client: httpx.AsyncClient, admin: str, slug: str, code: str | None) -> Any:
    variables: dict[str, Any] = {"input": {"name": slug, "slug": slug, "kind": "BANK"}}
    if code is not None:
        variables["input"]["registrationNumber"] = code
    response = await gql(client, admin, CREATE, variables)
    return without_cost(response.json())["data"]["createTenant"]


async def test_a_valid_code_is_recorded_upper_cased(client, admin) -> None:
    # 91440300MA5H3K7Q9 + check character 9 (GB 32100-2015, computed by hand with the
    # weights 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28 mod 31).
    created = await _create(client, admin, "bank-reg", "91440300ma5h3k7q99")
    assert created == {
        "tenant": {"slug": "bank-reg", "registrationNumber": "91440300MA5H3K7Q99"},
        "userErrors": [],
    }


async def test_a_wrong_check_character_is_refused(client, admin) -> None:
    refused = await _create(client, admin, "bank-bad", "91440300MA5H3K7Q98")
    assert refused == {
        "tenant": None,
        "userErrors": [{"code": "INVALID_SOCIAL_CREDIT_CODE", "field": "registrationNumber"}],
    }


async def test_another_funders_code_is_refused(client, admin) -> None:
    refused = await _create(client, admin, "bank-copy", FUNDER_CODES[0])
    assert refused == {
        "tenant": None,
        "userErrors": [{"code": "DUPLICATE", "field": "registrationNumber"}],
    }


async def test_the_code_is_optional(client, admin) -> None:
    created = await _create(client, admin, "bank-none", None)
    assert created == {
        "tenant": {"slug": "bank-none", "registrationNumber": None},
        "userErrors": [],
    }
