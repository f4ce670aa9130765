"""The integration ports of a worker process, by kind, and their wiring at start-up.

Whoever starts workers (``lendgraph worker``'s process set-up, ``lendgraph dev``) calls
:func:`wire` once: each risk check (credit report, identity, collateral valuation) gets its
port over the deployment's provider clients (:func:`integrations.risk.risk_providers`)."""

from __future__ import annotations

import structlog

from domain.integration_calls.models import IntegrationKind
from domain.integration_calls.ports import PortRegistry
from domain.risk.calls import BureauPort, IdentityPort
from domain.risk.valuation import ValuationPort
from integrations.risk import risk_providers
from lendgraph import runtime
from lendgraph.settings import ConfigurationError, Settings

log = structlog.get_logger("lendgraph.integrations")

#: The ports of this process.
ports = PortRegistry()


def wire(settings: Settings, registry: PortRegistry = ports) -> bool:
    """Register the risk-check ports on ``registry``; whether they were. Outside production
    a deployment without provider settings runs without them (its calls wait, visibly, in
    state PENDING); in production a missing setting is a start-up error."""
    try:
        providers = risk_providers(settings)
    except ConfigurationError as exc:
        if settings.environment == "production":
            raise
        log.warning("integration_ports_not_wired", reason=str(exc))
        return False
    cipher = runtime.personal_data_cipher(settings)
    timeout = settings.provider_timeout_seconds
    registry.register(
        IntegrationKind.BUREAU, BureauPort(providers.bureau, cipher, client_timeout=timeout)
    )
    registry.register(
        IntegrationKind.IDENTITY,
        IdentityPort(providers.identity, cipher, client_timeout=timeout),
    )
    registry.register(
        IntegrationKind.VALUATION, ValuationPort(providers.price_feed, client_timeout=timeout)
    )
    return True
