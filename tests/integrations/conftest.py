"""The sandbox providers on a loopback port for the whole module, and the production clients
pointed at them through settings, as a deployment would be."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from stdnum.cn import ric

from domain.risk.ports import RiskProviders
from integrations.risk import close_risk_providers, risk_providers
from integrations.sandboxes import SandboxServer
from lendgraph.settings import Settings

#: How long the sandbox holds a TIMEOUT request; far beyond any client timeout used here, so
#: a client that did not give up would get an answer (and the test would fail on it).
HANG_SECONDS = 20.0
#: The short client timeout of the timeout tests.
SHORT_TIMEOUT = 0.5


def resident_id(body: str) -> str:
    """A valid resident ID: 17 digits and their check digit (computed by python-stdnum)."""
    # python-stdnum takes the number with a placeholder where the check digit goes.
    return body + ric.calc_check_digit(body + "0")


GOOD_ID = resident_id("11010519491231002")


def eventually(condition: Callable[[], bool], within: float = 10.0) -> bool:
    """Whether ``condition`` holds within ``within`` seconds (for what another thread does
    after a call returns, such as the sandbox noticing a client went away)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(latency=0.0, hang_seconds=HANG_SECONDS) as server:
        yield server


def sandbox_settings(sandbox: SandboxServer, **overrides: object) -> Settings:
    """Settings naming the sandboxes, read from the variables ``lendgraph dev`` would set."""
    values: dict[str, object] = {
        name.removeprefix("LENDGRAPH_").lower(): value
        for name, value in sandbox.environment().items()
    }
    values.update(environment="test", provider_timeout_seconds=5.0)
    values.update(overrides)
    return Settings(**values)


async def open_providers(
    sandbox: SandboxServer,
    transport: httpx.AsyncBaseTransport | None = None,
    **overrides: object,
) -> RiskProviders:
    return risk_providers(sandbox_settings(sandbox, **overrides), transport=transport)


@pytest.fixture
async def providers(sandbox: SandboxServer) -> AsyncIterator[RiskProviders]:
    opened = await open_providers(sandbox)
    yield opened
    await close_risk_providers(opened)


@pytest.fixture
async def impatient(sandbox: SandboxServer) -> AsyncIterator[RiskProviders]:
    """Clients with a short timeout."""
    opened = await open_providers(sandbox, provider_timeout_seconds=SHORT_TIMEOUT)
    yield opened
    await close_risk_providers(opened)
