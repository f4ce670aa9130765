"""A sandbox pledge registry: a real HTTP service speaking the registry protocol
(``integrations/README.md``), for tests and ``lendgraph dev``. Requests and answers are
signed and checked by the shared provider machinery (``integrations/provider.py``), which also
replays the first answer to a repeated ``Idempotency-Key``: a retried filing gets the first
registration back, never a second one.

A filing is refused when a party's unified social credit code is not valid (422
``INVALID_PARTY``) and when the same receipt of the same warehouse is already registered under
another filing (409 ``ALREADY_REGISTERED``). The words of the receipt number (split on ``-``,
``_`` and spaces) choose other outcomes:

===============  ===================================================================
``REFUSE``       422 ``REGISTRATION_REFUSED``, nothing filed
``TIMEOUT``      the filing is made, its answer held until the client gives up
``TRICKLE``      the filing is made, its answer sent a byte at a time
``UNAVAILABLE``  503, nothing filed
``MALFORMED``    the filing is made; the signed answer lacks the filing number
===============  ===================================================================

A filing is cancelled by ``POST /v1/registrations/{id}/cancellation`` (404
``REGISTRATION_NOT_FOUND`` for an unknown ID; cancelling a cancelled filing answers it again);
its goods may then be filed again. A word ``CANCEL`` + one of the words above in the filing's
receipt number (``CANCELUNAVAILABLE``, ``CANCELTIMEOUT``, ...) chooses that failure for the
cancellation only (``UNAVAILABLE``, ``REFUSE``: nothing cancelled; the others: cancelled, the
answer held, trickled or spoiled), the filing itself being made as usual.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from starlette.applications import Starlette
from starlette.routing import Route
from stdnum.cn import uscc

from domain.pledges.ports import RegistrationStatus
from integrations.provider import TRANSPORT_FAILURES, Call, Reply, SandboxProvider

__all__ = ["RegistrySandbox", "create_app", "registry_of"]

_FAILURES: Final = (*sorted(TRANSPORT_FAILURES), "MALFORMED", "REFUSE")


def _words(value: str) -> set[str]:
    return set(re.split(r"[-_\s]+", value.upper()))


class _Invalid(Exception):
    """A request the sandbox refuses (400 ``INVALID_REQUEST``)."""


class _InvalidParty(Exception):
    """A party whose unified social credit code is not valid (422 ``INVALID_PARTY``)."""


@dataclass
class _Filing:
    registration_id: str
    filing_number: str
    key_id: str
    reference: str
    warehouse_code: str
    receipt_number: str
    registered_at: datetime
    status: RegistrationStatus = RegistrationStatus.REGISTERED

    def json(self) -> dict[str, Any]:
        return {
            "registration_id": self.registration_id,
            "filing_number": self.filing_number,
            "status": self.status.value,
            "reference": self.reference,
            "registered_at": self.registered_at.isoformat(),
        }


def _object(data: Any, name: str) -> dict[str, Any]:
    value = data.get(name) if isinstance(data, dict) else None
    if not isinstance(value, dict):
        raise _Invalid(f"{name} must be an object")
    return value


def _text(data: dict[str, Any], name: str, where: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"{where}.{name} is required")
    return value


class RegistrySandbox:
    """The sandbox's filings. Runs on the server's event loop."""

    def __init__(self, provider: SandboxProvider) -> None:
        self.provider = provider
        # (key ID, registration ID): an account sees its own filings only.
        self._filings: dict[tuple[str, str], _Filing] = {}
        self._sequence = 0

    def app(self) -> Starlette:
        """The registry's routes behind the provider's checks."""
        return Starlette(
            routes=[
                Route(
                    "/v1/registrations", self.provider.endpoint(self._register), methods=["POST"]
                ),
                Route(
                    "/v1/registrations/{registration_id}",
                    self.provider.endpoint(self._read),
                    methods=["GET"],
                ),
                Route(
                    "/v1/registrations/{registration_id}/cancellation",
                    self.provider.endpoint(self._cancel),
                    methods=["POST"],
                ),
            ]
        )

    def filings(self, reference: str | None = None) -> list[dict[str, Any]]:
        """Every filing made (of one reference), as the registry states it."""
        return [
            f.json()
            for f in self._filings.values()
            if reference is None or f.reference == reference
        ]

    async def _register(self, call: Call) -> Reply:
        try:
            filing, words = self._filing_of(call)
        except _Invalid as exc:
            return Reply.refuse(400, "INVALID_REQUEST", str(exc))
        except _InvalidParty as exc:
            return Reply.refuse(422, "INVALID_PARTY", str(exc))
        failure = next((w for w in _FAILURES if w in words), None)
        if failure == "UNAVAILABLE":
            return Reply.unavailable()
        if failure == "REFUSE":
            return Reply.refuse(422, "REGISTRATION_REFUSED", "the registry refused the filing")
        taken = any(
            f.warehouse_code == filing.warehouse_code
            and f.receipt_number == filing.receipt_number
            and f.status is RegistrationStatus.REGISTERED
            for f in self._filings.values()
        )
        if taken:
            return Reply.refuse(
                409, "ALREADY_REGISTERED", "the goods are registered under another pledge"
            )
        self._filings[(filing.key_id, filing.registration_id)] = filing
        payload = filing.json()
        if failure == "MALFORMED":
            del payload["filing_number"]
        if failure in TRANSPORT_FAILURES:
            return Reply.failing(failure, payload)
        return Reply.ok(payload)

    async def _read(self, call: Call) -> Reply:
        filing = self._filings.get((call.key_id, call.request.path_params["registration_id"]))
        if filing is None:
            return Reply.refuse(404, "REGISTRATION_NOT_FOUND", "no such registration")
        return Reply.ok(filing.json())

    async def _cancel(self, call: Call) -> Reply:
        filing = self._filings.get((call.key_id, call.request.path_params["registration_id"]))
        if filing is None:
            return Reply.refuse(404, "REGISTRATION_NOT_FOUND", "no such registration")
        words = _words(filing.receipt_number)
        failure = next((w for w in _FAILURES if f"CANCEL{w}" in words), None)
        if failure == "UNAVAILABLE":
            return Reply.unavailable()
        if failure == "REFUSE":
            return Reply.refuse(422, "CANCELLATION_REFUSED", "the registry refused it")
        filing.status = RegistrationStatus.CANCELLED
        payload = filing.json()
        if failure == "MALFORMED":
            del payload["filing_number"]
        if failure in TRANSPORT_FAILURES:
            return Reply.failing(failure, payload)
        return Reply.ok(payload)

    def _filing_of(self, call: Call) -> tuple[_Filing, set[str]]:
        data = call.data
        pledgor = _object(data, "pledgor")
        warehouse = _object(data, "warehouse")
        pledgee = _object(data, "pledgee")
        collateral = _object(data, "collateral")
        _text(pledgor, "name", "pledgor")
        _text(warehouse, "name", "warehouse")
        _text(pledgee, "name", "pledgee")
        receipt_number = _text(collateral, "receipt_number", "collateral")
        _text(collateral, "goods_description", "collateral")
        _text(collateral, "unit", "collateral")
        try:
            quantity = Decimal(_text(collateral, "quantity", "collateral"))
        except InvalidOperation:
            raise _Invalid("collateral.quantity is not a decimal") from None
        if not quantity.is_finite() or quantity <= 0:
            raise _Invalid("collateral.quantity must be positive")
        value = _object(collateral, "declared_value")
        _text(value, "amount", "collateral.declared_value")
        _text(value, "currency", "collateral.declared_value")
        reference = _text(data, "reference", "registration")
        codes = (
            _text(pledgor, "social_credit_code", "pledgor"),
            _text(warehouse, "social_credit_code", "warehouse"),
        )
        if not all(uscc.is_valid(code) for code in codes):
            raise _InvalidParty("a party's unified social credit code is not valid")
        self._sequence += 1
        now = datetime.now(UTC)
        filing = _Filing(
            registration_id=f"RG-{uuid.uuid4().hex[:16].upper()}",
            filing_number=f"DJ{now:%Y%m%d}{self._sequence:08d}",
            key_id=call.key_id,
            reference=reference,
            warehouse_code=codes[1],
            receipt_number=receipt_number,
            registered_at=now,
        )
        return filing, _words(receipt_number)


def create_app(provider: SandboxProvider) -> Starlette:
    """The registry's routes behind ``provider``'s checks."""
    sandbox = RegistrySandbox(provider)
    app = sandbox.app()
    # The sandbox's own record of filings, for tests (``registry_of``).
    app.state.registry = sandbox
    return app


def registry_of(app: object) -> RegistrySandbox:
    """The registry sandbox mounted in ``app`` (the sandboxes' combined app)."""
    if not isinstance(app, Starlette):
        raise LookupError("not a Starlette app")
    for route in app.routes:
        inner = getattr(route, "app", None)
        found = getattr(getattr(inner, "state", None), "registry", None)
        if isinstance(found, RegistrySandbox):
            return found
    raise LookupError("no pledge registry sandbox in this app")
