"""What the integration-call mechanism needs from a provider adapter: one port per kind.

A port is called outside any transaction. ``prepare`` reads what the call sends (the
applicant, the collateral) in the unit of work that claims the call; ``call`` then asks the
provider, sending ``request.idempotency_reference`` so that a repeated attempt (after a
worker was killed mid-call) is answered without acting twice, and returns the result to keep
(a JSON object). Raising :class:`PermanentFailure` fails the call at once; any other error
(a timeout, a 5xx, a malformed answer) is retried with backoff while attempts remain.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from domain.integration_calls.models import IntegrationKind


@dataclass(frozen=True, slots=True)
class CallRequest:
    """One attempt of one call, as a port sees it."""

    tenant_id: uuid.UUID
    deal_id: uuid.UUID
    call_id: uuid.UUID
    kind: IntegrationKind
    idempotency_reference: uuid.UUID
    attempt: int


class PermanentFailure(Exception):
    """The provider refused in a way no retry changes (a bad request, no consent)."""


class IntegrationPort(Protocol):
    """A provider of one kind of call."""

    #: How long an attempt may take; also the lease an attempt holds on its row.
    timeout_seconds: float

    async def prepare(self, session: AsyncSession, request: CallRequest) -> Mapping[str, Any]:
        """What the call sends, read under the tenant's scope."""
        ...

    async def call(self, request: CallRequest, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Ask the provider; the result to keep."""
        ...


class PortRegistry:
    """The ports of one process, by kind (filled at start-up by whoever wires the adapters)."""

    def __init__(self) -> None:
        self._ports: dict[IntegrationKind, IntegrationPort] = {}

    def register(self, kind: IntegrationKind, port: IntegrationPort) -> None:
        """Make ``port`` answer calls of ``kind`` (replacing any earlier one)."""
        self._ports[kind] = port

    def unregister(self, kind: IntegrationKind) -> None:
        """Forget the port of ``kind``."""
        self._ports.pop(kind, None)

    def get(self, kind: IntegrationKind) -> IntegrationPort | None:
        """The port of ``kind``, if one is registered."""
        return self._ports.get(kind)
