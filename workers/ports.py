"""The integration ports of a worker process, by kind, and their wiring at start-up.

Whoever starts workers (``lendgraph worker``'s process set-up, ``lendgraph dev``) calls
:func:`wire` once: each risk check (credit report, identity, collateral valuation) gets its
port over the deployment's provider clients (:func:`integrations.risk.risk_providers`), and
the payouts get the payment rail (:func:`integrations.payments.client.payout_rail`) with the
URL its callbacks are sent to (the API's public base, the issuer, + ``/webhooks/payments``),
and the contracts the e-signature service
(:func:`integrations.esign.client.esignature_from_settings`) with its callback URL (the issuer
+ ``/webhooks/esign``), and the pledges the pledge registry
(:func:`integrations.pledge_registry.client.pledge_registry`)."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from domain.contracts import signing as contract_signing
from domain.contracts.esign_ports import ESignature
from domain.integration_calls.models import IntegrationKind
from domain.integration_calls.ports import PortRegistry
from domain.payments.ports import PayoutRail
from domain.pledges.ports import PledgeRegistry
from domain.risk.calls import BureauPort, IdentityPort
from domain.risk.valuation import ValuationPort
from integrations.esign.client import esignature_from_settings
from integrations.payments.client import payout_rail
from integrations.pledge_registry.client import pledge_registry
from integrations.risk import risk_providers
from integrations.storage import document_storage
from lendgraph import runtime
from lendgraph.settings import ConfigurationError, Settings

log = structlog.get_logger("lendgraph.integrations")

#: The ports of this process.
ports = PortRegistry()

#: Where the payment rail posts its callbacks, under the API's public base.
CALLBACK_PATH = "/webhooks/payments"


@dataclass
class Payments:
    """The payment rail of this process (None until wired) and the callback URL it is given."""

    rail: PayoutRail | None = None
    callback_url: str | None = None


#: The payment rail of this process.
payments = Payments()


def wire_payments(settings: Settings, into: Payments = payments) -> bool:
    """Wire the payment rail; whether it was. Outside production a deployment without the
    rail's settings runs without it (its payouts wait, visibly, REQUESTED); in production a
    missing setting is a start-up error."""
    try:
        into.rail = payout_rail(settings)
    except ConfigurationError as exc:
        if settings.environment == "production":
            raise
        log.warning("payment_rail_not_wired", reason=str(exc))
        return False
    into.callback_url = settings.issuer.rstrip("/") + CALLBACK_PATH
    return True


#: Where the e-signature service posts its callbacks, under the API's public base.
ESIGN_CALLBACK_PATH = "/webhooks/esign"


@dataclass
class Signing:
    """The e-signature service of this process (None until wired) and its callback URL."""

    esign: ESignature | None = None
    callback_url: str | None = None


#: The e-signature service of this process.
signing = Signing()


def wire_signing(settings: Settings, into: Signing = signing) -> bool:
    """Wire the e-signature service; whether it was. Outside production a deployment without
    its settings runs without it (its contracts wait, visibly, SENT without an envelope); in
    production a missing setting is a start-up error."""
    try:
        into.esign = esignature_from_settings(settings)
    except ConfigurationError as exc:
        if settings.environment == "production":
            raise
        log.warning("esignature_not_wired", reason=str(exc))
        return False
    into.callback_url = settings.issuer.rstrip("/") + ESIGN_CALLBACK_PATH
    # A reconciled completion stores the signed document as the callback would.
    if contract_signing.signed_documents.store is None:
        contract_signing.signed_documents.store = document_storage(settings.data_dir)
    return True


@dataclass
class Pledges:
    """The pledge registry of this process (None until wired)."""

    registry: PledgeRegistry | None = None


#: The pledge registry of this process.
pledges = Pledges()


def wire_pledges(settings: Settings, into: Pledges = pledges) -> bool:
    """Wire the pledge registry; whether it was. Outside production a deployment without its
    settings runs without it (its pledges wait, visibly, REQUESTED); in production a missing
    setting is a start-up error."""
    try:
        into.registry = pledge_registry(settings)
    except ConfigurationError as exc:
        if settings.environment == "production":
            raise
        log.warning("pledge_registry_not_wired", reason=str(exc))
        return False
    return True


def wire(settings: Settings, registry: PortRegistry = ports) -> bool:
    """Register the risk-check ports on ``registry`` and wire the payment rail; whether the
    risk ports were. Outside production a deployment without provider settings runs without
    them (its calls wait, visibly, in state PENDING); in production a missing setting is a
    start-up error."""
    wire_payments(settings)
    wire_signing(settings)
    wire_pledges(settings)
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
