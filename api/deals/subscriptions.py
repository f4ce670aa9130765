"""Live deal status: ``dealStatusChanged`` sends each committed status change of a deal the
subscriber may see, over the WebSocket.

The process's event listener hears every tenant's committed events by reference (IDs, type,
time, status). For each status-changing event of a deal, the subscription re-reads the deal in a
short unit of work of its own under the subscriber's scope, through the deal's one read rule
(the one ``node(id:)`` and the ``deals`` fields apply), and sends it only when that rule shows
it and it matches the filters. A notification no read could show (another funder's, to its
staff) is dropped before any read. The listener's bounded queue per subscription keeps a slow
subscriber from holding up the others: it loses its own oldest notifications instead."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from api.deals.types import DealNode, DealStatus
from api.ids import DealID
from api.permissions import has_scope
from api.products.types import ProductLine
from api.relay import load_node, parse_uuid
from domain.deals import models, service
from domain.events.listener import EventListener, Notification, Subscription
from domain.kernel.actor import Actor
from domain.kernel.scopes import Scope
from domain.products import models as product_models

#: What the deals service writes as an event's ``aggregate_type`` for a deal.
DEAL_AGGREGATE = "Deal"
#: The event types of the deals service that change a deal's status (its creation and edits
#: do not). A transition added to the service is announced once its type is named here.
STATUS_EVENTS = service.status_event_types()


@strawberry.type(description="A committed change of a deal's status.")
class DealStatusChange:
    deal: DealNode = strawberry.field(
        description="The deal, as it is when the change is sent (it may have moved on since)."
    )
    event_type: str = strawberry.field(
        description="What happened: deal.submitted, deal.withdrawn, ..."
    )
    status: DealStatus = strawberry.field(  # type: ignore[valid-type]
        description="The status the change moved the deal to."
    )
    occurred_at: datetime = strawberry.field(
        description="When the change was made (the time of its transaction)."
    )


def announces_status(note: Notification) -> bool:
    """Whether ``note`` is a status change of a deal."""
    return note.aggregate_type == DEAL_AGGREGATE and note.type in STATUS_EVENTS


def may_be_visible(actor: Actor, note: Notification) -> bool:
    """Whether the deal read rule could show ``note``'s deal to ``actor``, told from the
    notification alone. A principal bound to one tenant that is neither an applicant (no
    person or company of its own) nor the operator sees that tenant's deals only; for anyone
    else only the read itself tells."""
    if actor.is_platform or actor.tenant_id is None:
        return True
    if actor.person_id is not None or actor.organization_id is not None:
        return True
    return note.tenant_id == actor.tenant_id


def _status_of(note: Notification, deal: DealNode) -> models.DealStatus:
    # The status the event names; the deal's current one when it names none it is known by.
    if note.status is not None:
        try:
            return models.DealStatus(note.status)
        except ValueError:
            pass
    status: models.DealStatus = deal.status
    return status


def _listener(info: Info) -> EventListener:
    listener: EventListener | None = info.context.state.events
    if listener is None:
        # A process serving without its lifespan (no LISTEN connection) hears nothing.
        raise GraphQLError(
            "Live updates are not available", extensions={"code": "SERVICE_UNAVAILABLE"}
        )
    return listener


async def _changes(
    info: Info,
    subscription: Subscription,
    deal_id: uuid.UUID | None,
    product_line: product_models.ProductLine | None,
) -> AsyncGenerator[DealStatusChange, None]:
    actor: Actor = info.context.actor
    try:
        async for note in subscription:
            if not announces_status(note) or not may_be_visible(actor, note):
                continue
            if deal_id is not None and note.aggregate_id != str(deal_id):
                continue
            pk = parse_uuid(note.aggregate_id)
            if pk is None:
                continue
            # A unit of work of its own under the subscriber's scope (the context holds no
            # session), through the read rule node(id:) applies.
            deal = await load_node(info, DealNode, pk)
            if deal is None:
                continue
            if product_line is not None and deal.product_line != product_line:
                continue
            yield DealStatusChange(
                deal=deal,
                event_type=note.type,
                status=_status_of(note, deal),
                occurred_at=note.occurred_at or deal.updated_at,
            )
    finally:
        subscription.close()


@strawberry.type
class DealSubscriptions:
    @strawberry.subscription(
        description="Each committed status change of a deal you may see (a funder's staff "
        "their funder's deals, a partner app its channel's, a borrower its own, the operator "
        "every deal), from the moment of subscribing. The deal is read afresh for each change. "
        "Over the WebSocket only.",
        permission_classes=[has_scope(Scope.DEALS_READ)],
    )
    async def deal_status_changed(
        self,
        info: Info,
        deal_id: Annotated[
            DealID | None,
            strawberry.argument(
                description="Only this deal's changes; NOT_FOUND when it is not yours to see."
            ),
        ] = None,
        product_line: Annotated[
            ProductLine | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only deals of this product line."),
        ] = None,
    ) -> AsyncGenerator[DealStatusChange, None]:
        # Listening first, then checking the deal: nothing committed in between is missed.
        subscription = _listener(info).subscribe()
        try:
            wanted = None
            if deal_id is not None:
                wanted = parse_uuid(deal_id.node_id) if deal_id.type_name == "Deal" else None
                # The same answer for a deal that does not exist and one that is not yours.
                if wanted is None or await load_node(info, DealNode, wanted) is None:
                    raise GraphQLError("no such deal", extensions={"code": "NOT_FOUND"})
        except BaseException:
            subscription.close()
            raise
        return _changes(info, subscription, wanted, product_line)


__all__ = ["DealStatusChange", "DealSubscriptions", "announces_status", "may_be_visible"]
