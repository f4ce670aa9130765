"""Receiving a provider's event: claim it in the inbox, apply its effect through its
registered handler, record what was done, all in the caller's transaction (flush, never
commit). The edge commits and only then answers the provider 2xx, so an answered event is
applied, and an event whose transaction failed is neither recorded nor applied (the provider's
retry brings it again).

Duplicates. ``(provider, event_id)`` is unique: a second delivery of an event (a retry after a
lost answer, a provider's duplicate, two deliveries at once) finds the first one's row and is
a duplicate, its handler not run again. A delivery of a known event ID with other content is
:class:`EventIdReused` (not applied; the first content stands). "The same content" is the same
body bytes or, should a provider re-serialise, the same JSON.

Out of order. The inbox applies each event once; that deliveries arriving in another order
converge to the same state is each handler's part. Events carry when they happened
(``occurred_at``) and, for envelopes and payouts, move a state forward only: a handler
compares the event with the state it would change and applies it only when it moves it
forward (a final status is never left; a signer's signature is kept whatever came before),
returning ``"superseded"`` for an event that is older than what it finds, so the inbox says
why nothing changed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from domain.kernel.errors import DomainError
from domain.webhooks import repository
from domain.webhooks.handlers import HANDLERS, Handler

#: The outcome of an event whose handler applied it.
APPLIED: Final = "applied"
#: The outcome of an event no handler is registered for.
IGNORED: Final = "ignored"
#: The longest outcome the inbox keeps (a handler's own word is cut to it).
MAX_OUTCOME: Final = 200


def refused(error: DomainError) -> str:
    """The outcome of an event its handler refused for good."""
    return f"refused: {error.code}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One verified delivery of a provider's event: what the inbox keeps of it, and the typed
    event its handler is given."""

    provider: str
    event_id: str
    event_type: str
    #: SHA-256 of the raw body, hex.
    body_sha256: str
    #: The event's JSON as it came (a signed document's content left out).
    payload: dict[str, Any]
    #: The provider's typed event (``PayoutEvent``, ``EnvelopeEvent``).
    event: object


@dataclass(frozen=True, slots=True)
class Receipt:
    """What receiving a delivery did: whether the event was known already, and its outcome
    (the earlier one for a duplicate)."""

    duplicate: bool
    outcome: str | None


class EventIdReused(Exception):
    """A known event ID delivered with other content: not applied."""


async def receive(
    session: AsyncSession,
    delivery: Delivery,
    *,
    handlers: Mapping[tuple[str, str], Handler] = HANDLERS,
) -> Receipt:
    """Apply ``delivery``'s event once: claim its ``(provider, event_id)`` in the inbox, run
    its handler (if any) in a savepoint, and record the outcome, all in ``session``'s
    transaction, which the caller commits.

    A handler's :class:`DomainError` is a permanent refusal: its savepoint is rolled back (none
    of its writes stay) and ``refused: <code>`` is recorded, so that the event is answered and
    not delivered again. Anything else a handler raises propagates, and the caller rolls the
    whole transaction back (the claim with it), so the provider's retry tries again. Raises
    :class:`EventIdReused` for a known event ID with other content."""
    keys = {"provider": delivery.provider, "event_id": delivery.event_id}
    claimed = await repository.claim(
        session,
        **keys,
        event_type=delivery.event_type,
        body_sha256=delivery.body_sha256,
        payload=delivery.payload,
    )
    if not claimed:
        known = await repository.recorded(
            session, **keys, body_sha256=delivery.body_sha256, payload=delivery.payload
        )
        if known is None:  # pragma: no cover - the conflict was with a committed row
            raise RuntimeError("the inbox refused the event but holds no row of it")
        if not known.same:
            raise EventIdReused(
                f"{delivery.provider} event {delivery.event_id} came again with other content"
            )
        return Receipt(duplicate=True, outcome=known.outcome)

    handler = handlers.get((delivery.provider, delivery.event_type))
    outcome: str
    if handler is None:
        outcome = IGNORED
    else:
        try:
            async with session.begin_nested():
                said = await handler(session, delivery.event)
                await session.flush()
        except DomainError as refusal:
            outcome = refused(refusal)
        else:
            outcome = said or APPLIED
    outcome = outcome[:MAX_OUTCOME]
    await repository.mark_processed(session, **keys, outcome=outcome)
    return Receipt(duplicate=False, outcome=outcome)


__all__ = [
    "APPLIED",
    "IGNORED",
    "Delivery",
    "EventIdReused",
    "Receipt",
    "receive",
    "refused",
]
