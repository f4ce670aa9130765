"""What each provider event does: the registry :data:`HANDLERS`, keyed by ``(provider,
event type)``.

A handler is ``async def handler(session, event) -> str | None``. ``event`` is the verified,
typed event of its provider (``domain.payments.ports.PayoutEvent`` for ``payments``,
``domain.contracts.esign_ports.EnvelopeEvent`` for ``esign``). It runs in the transaction that
records the event in the inbox, in the platform scope (a provider calls on behalf of every
tenant: the handler finds the tenant's rows from the event, e.g. a payout by its reference),
inside a savepoint of its own. Like every use case it flushes and never commits. It returns
``None`` when it applied the event, or a short word of its own for the inbox's ``outcome``
(``"superseded"`` for an event older than the state it would change). It raises
:class:`~domain.kernel.errors.DomainError` to refuse the event for good: its writes are
rolled back, the refusal is recorded and the provider is told to stop. Anything else it
raises rolls the whole delivery back and the provider is asked to retry.

A change that gives an event an effect adds one entry here, e.g.::

    HANDLERS[(Provider.PAYMENTS, "payout.settled")] = payouts.apply_settlement

An event type with no entry is recorded as ``ignored`` (and still only once)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


class Provider(StrEnum):
    """The providers that call back, by the path segment of their endpoint."""

    #: The payment rail (``payout.*`` events).
    PAYMENTS = "payments"
    #: The e-signature service (``signer.*`` and ``envelope.*`` events).
    ESIGN = "esign"


#: ``handler(session, event)``: see the module's docstring.
Handler = Callable[[AsyncSession, Any], Awaitable[str | None]]

#: The effect of each ``(provider, event type)``.
HANDLERS: dict[tuple[str, str], Handler] = {}


def _register_payouts() -> None:
    # Imported here: the payouts context reaches deals, loans and the ledger, none of which
    # needs the inbox.
    from domain.payouts import service as payouts

    HANDLERS[(Provider.PAYMENTS, "payout.settled")] = payouts.apply_settlement
    HANDLERS[(Provider.PAYMENTS, "payout.failed")] = payouts.apply_failure


_register_payouts()


def _register_signing() -> None:
    # Imported here, as the payouts: the contracts context reaches deals and the store (which
    # the edge that receives the callbacks sets: ``signing.signed_documents.store``).
    from domain.contracts import signing
    from domain.contracts.esign_ports import EventType

    HANDLERS[(Provider.ESIGN, EventType.SIGNER_SIGNED.value)] = signing.apply_signer_signed
    HANDLERS[(Provider.ESIGN, EventType.SIGNER_DECLINED.value)] = signing.apply_declined_signer
    HANDLERS[(Provider.ESIGN, EventType.ENVELOPE_COMPLETED.value)] = signing.apply_completed
    HANDLERS[(Provider.ESIGN, EventType.ENVELOPE_DECLINED.value)] = signing.apply_declined
    HANDLERS[(Provider.ESIGN, EventType.ENVELOPE_EXPIRED.value)] = signing.apply_expired


_register_signing()


def handler_for(provider: str, event_type: str) -> Handler | None:
    """The handler registered for ``provider``'s ``event_type``, if any."""
    return HANDLERS.get((provider, event_type))


__all__ = ["HANDLERS", "Handler", "Provider", "handler_for"]
