"""Use cases on supply-chain assets and documents.

* Purchase orders: the seller's users (or a partner app on the seller's behalf, or the
  platform) submit them; only the buyer core enterprise's users confirm or dispute them, once.
* Warehouse receipts: only the warehouse's users issue and cancel them.
* Receipt claims: :func:`claim_receipt` and :func:`release_receipt` are for the deals context.
  The guarantee that a receipt backs at most one live deal is the database's partial unique
  index, so two concurrent claims (even by two funders) cannot both commit.
* Documents: uploaded into a :class:`~domain.kernel.storage.DocumentStorage` after a size and
  type check (magic bytes, not the declared type), and attached to an order or a receipt.
* Reads for financing: :func:`order_for_financing` and :func:`receipt_valuation_inputs`.

Every use case flushes and never commits; refusals raise :class:`DomainError`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import repository as audit
from domain.collateral import policy, repository
from domain.collateral.models import (
    Document,
    DocumentKind,
    PurchaseOrder,
    PurchaseOrderClaim,
    PurchaseOrderStatus,
    ReceiptClaim,
    WarehouseReceipt,
    WarehouseReceiptStatus,
)
from domain.collateral.ports import DocumentStorage, ObjectTooLarge
from domain.events import repository as events
from domain.kernel.actor import Actor, require
from domain.kernel.clock import transaction_now
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.money import Money
from domain.kernel.scopes import Scope
from domain.parties import repository as parties
from domain.parties.models import OrganizationKind
from domain.persistence.base import new_id
from domain.persistence.constraints import refusing
from domain.pledges import repository as pledges


def _not_found(what: str, field: str) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"no such {what}", field)


def _pledge_locked(field: str) -> DomainError:
    return DomainError(
        ErrorCode.RECEIPT_PLEDGE_LOCKED,
        "the receipt is under an active pledge until the funder releases it",
        field,
    )


async def _record(
    session: AsyncSession,
    actor: Actor,
    *,
    action: str,
    event: str | None,
    object_type: str,
    object_id: uuid.UUID,
    details: dict[str, object],
) -> None:
    """The audit row and (unless ``event`` is None) the outbox event of a change to
    platform-level data."""
    await audit.record(
        session,
        actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        tenant_id=None,
        details=dict(details),
    )
    if event is not None:
        await events.append(
            session,
            tenant_id=None,
            type=event,
            aggregate_type=object_type,
            aggregate_id=object_id,
            payload=dict(details),
        )


async def _check_kind(
    session: AsyncSession,
    org_id: uuid.UUID,
    kind: OrganizationKind,
    field: str,
) -> bool:
    """Whether ``org_id`` is visible; a refusal when it is visible and of another kind. (An
    organization the actor cannot see is checked by the database on insert.)"""
    org = (await parties.organizations_by_ids(session, [org_id])).get(org_id)
    if org is None:
        return False
    if org.kind != kind:
        raise DomainError(
            ErrorCode.WRONG_ORGANIZATION_KIND,
            f"{org.name} is a {org.kind.value}, not a {kind.value}",
            field,
        )
    return True


# -- purchase orders ------------------------------------------------------------------------------


def _order_details(order: PurchaseOrder) -> dict[str, object]:
    return {
        "number": order.number,
        "amount": order.amount.to_decimal_string(),
        "currency": order.currency,
        "seller_organization_id": str(order.seller_organization_id),
        "buyer_organization_id": str(order.buyer_organization_id),
        "status": order.status.value,
    }


async def create_purchase_order(
    session: AsyncSession,
    actor: Actor,
    *,
    buyer_organization_id: uuid.UUID,
    number: str,
    amount: Money,
    issue_date: date,
    due_date: date,
    seller_organization_id: uuid.UUID | None = None,
) -> PurchaseOrder:
    """Submit a purchase order owed to the seller (the actor's organization unless named) by
    a core enterprise, pending the buyer's confirmation. The number is unique per buyer."""
    require(actor, Scope.COLLATERAL_WRITE)
    if actor.organization_id is None and not actor.is_platform:
        raise DomainError(
            ErrorCode.FORBIDDEN,
            "orders are submitted by the seller's users, a partner app or the platform",
            "sellerId",
        )
    seller = seller_organization_id or actor.organization_id
    if seller is None:
        raise DomainError(ErrorCode.REQUIRED, "the seller of the order", "sellerId")
    is_partner = False
    if actor.organization_id is not None and actor.organization_id != seller:
        own = (await parties.organizations_by_ids(session, [actor.organization_id])).get(
            actor.organization_id
        )
        is_partner = own is not None and own.kind == OrganizationKind.PARTNER
    submitter = policy.order_submitter(actor, seller, is_partner)
    terms = policy.validate_order(number, amount, issue_date, due_date)
    if not await _check_kind(
        session, buyer_organization_id, OrganizationKind.CORE_ENTERPRISE, "buyerId"
    ):
        raise _not_found("core enterprise", "buyerId")
    seller_visible = await _check_kind(
        session, seller, OrganizationKind.TRADE_ENTERPRISE, "sellerId"
    )
    # A partner cannot see the seller: the database checks its kind, and a wrong kind reads
    # as "not found" so that the partner learns nothing about organizations it cannot see.
    seller_refusal = (
        DomainError(
            ErrorCode.WRONG_ORGANIZATION_KIND, "the seller is not a trade enterprise", "sellerId"
        )
        if seller_visible
        else _not_found("trade enterprise", "sellerId")
    )
    order = PurchaseOrder(
        id=new_id(),
        seller_organization_id=seller,
        buyer_organization_id=buyer_organization_id,
        submitted_by_organization_id=submitter,
        number=terms.number,
        currency=terms.amount.currency,
        amount_minor=terms.amount.amount_minor,
        issue_date=terms.issue_date,
        due_date=terms.due_date,
        status=PurchaseOrderStatus.PENDING_CONFIRMATION,
        created_by_user_id=actor.user_id,
        created_by_client_id=None if actor.user_id else actor.client_id,
        updated_at=await transaction_now(session),
    )
    async with refusing(
        session,
        {
            "uq_purchase_orders_buyer_number": DomainError(
                ErrorCode.DUPLICATE, "the buyer already has an order with this number", "number"
            ),
            "ck_purchase_orders_seller_kind": seller_refusal,
            "fk_purchase_orders_seller_organization_id_organizations": _not_found(
                "trade enterprise", "sellerId"
            ),
            "ck_purchase_orders_buyer_kind": _not_found("core enterprise", "buyerId"),
            "fk_purchase_orders_buyer_organization_id_organizations": _not_found(
                "core enterprise", "buyerId"
            ),
            "ck_purchase_orders_distinct_parties": DomainError(
                ErrorCode.INVALID, "the seller cannot be its own buyer", "buyerId"
            ),
            "ck_purchase_orders_submitter_kind": DomainError(
                ErrorCode.FORBIDDEN, "only the seller or a partner submits an order", "sellerId"
            ),
            # A partner submits only for sellers it acts for; any other does not exist to it.
            "ck_purchase_orders_submitter_agent": _not_found("trade enterprise", "sellerId"),
        },
    ):
        repository.add(session, order)
    await _record(
        session,
        actor,
        action="purchase_order.create",
        event="purchase_order.submitted",
        object_type="PurchaseOrder",
        object_id=order.id,
        details=_order_details(order),
    )
    return order


async def confirm_purchase_order(
    session: AsyncSession, actor: Actor, *, purchase_order_id: uuid.UUID, note: str | None = None
) -> PurchaseOrder:
    """The buyer acknowledges the debt: PENDING_CONFIRMATION -> CONFIRMED."""
    return await _decide(
        session, actor, purchase_order_id, PurchaseOrderStatus.CONFIRMED, note, required=False
    )


async def dispute_purchase_order(
    session: AsyncSession, actor: Actor, *, purchase_order_id: uuid.UUID, note: str
) -> PurchaseOrder:
    """The buyer rejects the order, saying why: PENDING_CONFIRMATION -> DISPUTED."""
    return await _decide(
        session, actor, purchase_order_id, PurchaseOrderStatus.DISPUTED, note, required=True
    )


async def _decide(
    session: AsyncSession,
    actor: Actor,
    order_id: uuid.UUID,
    outcome: PurchaseOrderStatus,
    note: str | None,
    *,
    required: bool,
) -> PurchaseOrder:
    require(actor, Scope.COLLATERAL_WRITE)
    order = await repository.purchase_order(session, order_id)
    if order is None:
        raise _not_found("purchase order", "id")
    policy.check_decider(actor, order)
    clean_note = policy.clean_note(note, required=required)
    # Lock, then decide on the committed status (a concurrent decision waits here).
    order = await repository.purchase_order(session, order_id, for_update=True)
    if order is None:  # pragma: no cover - the buyer may lock what it sees
        raise _not_found("purchase order", "id")
    status = policy.decide(order, outcome)
    async with refusing(
        session,
        {
            "ck_purchase_orders_decided_once": DomainError(
                ErrorCode.INVALID_TRANSITION, "the order has already been decided", "id"
            )
        },
    ):
        order.status = status
        order.decided_by_user_id = actor.user_id
        order.decided_at = order.updated_at = await transaction_now(session)
        order.decision_note = clean_note
    verb = "confirm" if outcome is PurchaseOrderStatus.CONFIRMED else "dispute"
    await _record(
        session,
        actor,
        action=f"purchase_order.{verb}",
        event=f"purchase_order.{outcome.value.lower()}",
        object_type="PurchaseOrder",
        object_id=order.id,
        details={**_order_details(order), "note": clean_note},
    )
    return order


# -- warehouse receipts ---------------------------------------------------------------------------


def _receipt_details(receipt: WarehouseReceipt) -> dict[str, object]:
    return {
        "number": receipt.number,
        "warehouse_organization_id": str(receipt.warehouse_organization_id),
        "owner_organization_id": str(receipt.owner_organization_id),
        "quantity": str(receipt.quantity),
        "unit": receipt.unit,
        "unit_price": receipt.unit_price.to_decimal_string(),
        "currency": receipt.currency,
        "commodity_code": receipt.commodity_code,
        "status": receipt.status.value,
    }


async def issue_warehouse_receipt(
    session: AsyncSession,
    actor: Actor,
    *,
    owner_organization_id: uuid.UUID,
    number: str,
    goods_description: str,
    quantity: str | Decimal,
    unit: str,
    location: str,
    unit_price: Money,
    warehouse_organization_id: uuid.UUID | None = None,
    commodity_code: str | None = None,
) -> WarehouseReceipt:
    """A warehouse's user issues a receipt for goods it holds for their owner (a
    CARGO_OWNER). The number is unique per warehouse; the commodity code (optional) is what
    valuations price the goods by."""
    require(actor, Scope.COLLATERAL_WRITE)
    warehouse = warehouse_organization_id or actor.organization_id
    policy.check_warehouse_user(actor, warehouse, "warehouseId")
    assert warehouse is not None  # a warehouse user acts for its warehouse
    data = policy.validate_receipt(
        number=number,
        goods_description=goods_description,
        quantity=quantity,
        unit=unit,
        location=location,
        unit_price=unit_price,
        commodity_code=commodity_code,
    )
    await _check_kind(session, warehouse, OrganizationKind.WAREHOUSE, "warehouseId")
    receipt = WarehouseReceipt(
        id=new_id(),
        warehouse_organization_id=warehouse,
        owner_organization_id=owner_organization_id,
        number=data.number,
        goods_description=data.goods_description,
        quantity=data.quantity,
        unit=data.unit,
        location=data.location,
        currency=data.unit_price.currency,
        unit_price_minor=data.unit_price.amount_minor,
        commodity_code=data.commodity_code,
        status=WarehouseReceiptStatus.ISSUED,
        issued_by_user_id=actor.user_id,
        updated_at=await transaction_now(session),
    )
    async with refusing(
        session,
        {
            "uq_warehouse_receipts_warehouse_number": DomainError(
                ErrorCode.DUPLICATE, "the warehouse already issued this number", "number"
            ),
            # The same answer as a missing owner: a warehouse cannot see other parties, and
            # must not learn that an ID names some organization of another kind.
            "ck_warehouse_receipts_owner_kind": _not_found("cargo owner", "ownerId"),
            "fk_warehouse_receipts_owner_organization_id_organizations": _not_found(
                "cargo owner", "ownerId"
            ),
            "ck_warehouse_receipts_warehouse_kind": DomainError(
                ErrorCode.WRONG_ORGANIZATION_KIND, "the issuer is not a warehouse", "warehouseId"
            ),
            # Receipts go only to cargo owners the warehouse stores goods for (who authorised
            # it); to the warehouse, any other owner does not exist.
            "ck_warehouse_receipts_storage": _not_found("cargo owner", "ownerId"),
        },
    ):
        repository.add(session, receipt)
    await _record(
        session,
        actor,
        action="warehouse_receipt.issue",
        event="warehouse_receipt.issued",
        object_type="WarehouseReceipt",
        object_id=receipt.id,
        details=_receipt_details(receipt),
    )
    return receipt


async def cancel_warehouse_receipt(
    session: AsyncSession, actor: Actor, *, receipt_id: uuid.UUID, reason: str
) -> WarehouseReceipt:
    """The warehouse withdraws a receipt: ISSUED -> CANCELLED, refused while a live deal
    holds it (RECEIPT_ALREADY_PLEDGED, checked by the database under a row lock)."""
    require(actor, Scope.COLLATERAL_WRITE)
    receipt = await repository.receipt(session, receipt_id)
    if receipt is None:
        raise _not_found("warehouse receipt", "id")
    policy.check_warehouse_user(actor, receipt.warehouse_organization_id)
    clean_reason = policy.clean_text(reason, "reason", 500)
    receipt = await repository.receipt(session, receipt_id, for_update=True)
    if receipt is None:  # pragma: no cover - the warehouse may lock what it sees
        raise _not_found("warehouse receipt", "id")
    policy.check_cancellable(receipt)
    # The warehouse sees the pledges of its receipts; the database refuses it all the same.
    if await pledges.active_of_receipt(session, receipt_id) is not None:
        raise _pledge_locked("id")
    async with refusing(
        session,
        {
            "ck_warehouse_receipts_pledge_locked": _pledge_locked("id"),
            "ck_warehouse_receipts_not_pledged": DomainError(
                ErrorCode.RECEIPT_ALREADY_PLEDGED, "the receipt backs a live deal", "id"
            ),
            "ck_warehouse_receipts_cancelled_final": DomainError(
                ErrorCode.INVALID_TRANSITION, "the receipt is already cancelled", "id"
            ),
        },
    ):
        receipt.status = WarehouseReceiptStatus.CANCELLED
        receipt.cancelled_by_user_id = actor.user_id
        receipt.cancelled_at = receipt.updated_at = await transaction_now(session)
        receipt.cancellation_reason = clean_reason
    await _record(
        session,
        actor,
        action="warehouse_receipt.cancel",
        event="warehouse_receipt.cancelled",
        object_type="WarehouseReceipt",
        object_id=receipt.id,
        details={**_receipt_details(receipt), "reason": clean_reason},
    )
    return receipt


# -- receipt claims (for deals) -------------------------------------------------------------------


async def claim_receipt(
    session: AsyncSession, *, receipt_id: uuid.UUID, tenant_id: uuid.UUID, deal_id: uuid.UUID
) -> ReceiptClaim:
    """Make the deal ``(tenant_id, deal_id)`` the one live holder of an ISSUED receipt.

    For the deals context, whose use case checks who may do this and writes the audit row and
    event; the session must be bound to ``tenant_id`` (row-level security refuses a claim for
    another tenant: FORBIDDEN). Idempotent for the deal that already holds the receipt.
    Refusals: RECEIPT_ALREADY_PLEDGED (another live claim exists, by any funder; the partial
    unique index decides, so of two concurrent claims exactly one commits), RECEIPT_CANCELLED,
    NOT_FOUND. Runs in a savepoint: a refusal leaves the caller's transaction usable.
    """
    held = await repository.live_claim_of_deal(
        session, receipt_id=receipt_id, tenant_id=tenant_id, deal_id=deal_id
    )
    if held is not None:
        return held
    claim = ReceiptClaim(
        tenant_id=tenant_id,
        id=new_id(),
        receipt_id=receipt_id,
        deal_id=deal_id,
        claimed_at=await transaction_now(session),
    )
    try:
        async with refusing(
            session,
            {
                "uq_receipt_claims_live": DomainError(
                    ErrorCode.RECEIPT_ALREADY_PLEDGED,
                    "the receipt already backs a live deal",
                    "receiptId",
                ),
                "ck_receipt_claims_receipt_issued": DomainError(
                    ErrorCode.RECEIPT_CANCELLED, "the receipt has been cancelled", "receiptId"
                ),
                "fk_receipt_claims_receipt_id_warehouse_receipts": _not_found(
                    "warehouse receipt", "receiptId"
                ),
                "fk_receipt_claims_tenant_id_tenants": _not_found("tenant", "tenantId"),
                # Pledged to another deal (by any funder), though no longer claimed by it.
                "ck_receipt_claims_pledged_elsewhere": DomainError(
                    ErrorCode.RECEIPT_ALREADY_PLEDGED,
                    "the receipt is pledged to another deal",
                    "receiptId",
                ),
            },
        ):
            repository.add(session, claim)
    except DomainError as refusal:
        if refusal.code is ErrorCode.RECEIPT_ALREADY_PLEDGED:
            # The same deal claiming twice at once: the winner's claim is this deal's too.
            held = await repository.live_claim_of_deal(
                session, receipt_id=receipt_id, tenant_id=tenant_id, deal_id=deal_id
            )
            if held is not None:
                return held
        raise
    return claim


async def release_receipt(
    session: AsyncSession, *, receipt_id: uuid.UUID, tenant_id: uuid.UUID, deal_id: uuid.UUID
) -> ReceiptClaim:
    """End the deal's live claim on the receipt (loan settled, deal rejected or withdrawn,
    goods released); the receipt may then back another deal. NOT_FOUND when the deal holds
    no live claim on it (already released, or another tenant's)."""
    held = await pledges.active_of_receipt(session, receipt_id)
    if held is not None and (held.tenant_id, held.deal_id) == (tenant_id, deal_id):
        raise _pledge_locked("receiptId")
    async with refusing(session, {"ck_receipt_claims_pledge_locked": _pledge_locked("receiptId")}):
        released = await repository.release_claim(
            session,
            receipt_id=receipt_id,
            tenant_id=tenant_id,
            deal_id=deal_id,
            at=await transaction_now(session),
        )
    if released is None:
        raise DomainError(
            ErrorCode.NOT_FOUND, "the deal holds no live claim on this receipt", "receiptId"
        )
    return released


# -- purchase order claims (for deals) ------------------------------------------------------------


async def claim_purchase_order(
    session: AsyncSession,
    *,
    purchase_order_id: uuid.UUID,
    tenant_id: uuid.UUID,
    deal_id: uuid.UUID,
) -> PurchaseOrderClaim:
    """Make the deal ``(tenant_id, deal_id)`` the one live holder of a CONFIRMED order, so a
    receivable is never financed twice. The same contract as :func:`claim_receipt`: for the
    deals context (which checks who may and records the change), idempotent for the deal that
    holds the order, decided by the partial unique index ``uq_purchase_order_claims_live`` (of
    two concurrent claims exactly one commits). Refusals: PURCHASE_ORDER_ALREADY_FINANCED,
    PURCHASE_ORDER_NOT_CONFIRMED, NOT_FOUND. Runs in a savepoint."""
    held = await repository.live_order_claim_of_deal(
        session, purchase_order_id=purchase_order_id, tenant_id=tenant_id, deal_id=deal_id
    )
    if held is not None:
        return held
    claim = PurchaseOrderClaim(
        tenant_id=tenant_id,
        id=new_id(),
        purchase_order_id=purchase_order_id,
        deal_id=deal_id,
        claimed_at=await transaction_now(session),
    )
    try:
        async with refusing(
            session,
            {
                "uq_purchase_order_claims_live": DomainError(
                    ErrorCode.PURCHASE_ORDER_ALREADY_FINANCED,
                    "the order already backs a live deal",
                    "purchaseOrderId",
                ),
                "ck_purchase_order_claims_order_confirmed": DomainError(
                    ErrorCode.PURCHASE_ORDER_NOT_CONFIRMED,
                    "the order is not confirmed by its buyer",
                    "purchaseOrderId",
                ),
                "fk_purchase_order_claims_purchase_order_id_purchase_orders": _not_found(
                    "purchase order", "purchaseOrderId"
                ),
                "fk_purchase_order_claims_tenant_id_deals": _not_found("deal", "dealId"),
            },
        ):
            repository.add(session, claim)
    except DomainError as refusal:
        if refusal.code is ErrorCode.PURCHASE_ORDER_ALREADY_FINANCED:
            held = await repository.live_order_claim_of_deal(
                session, purchase_order_id=purchase_order_id, tenant_id=tenant_id, deal_id=deal_id
            )
            if held is not None:
                return held
        raise
    return claim


async def release_purchase_order(
    session: AsyncSession,
    *,
    purchase_order_id: uuid.UUID,
    tenant_id: uuid.UUID,
    deal_id: uuid.UUID,
) -> PurchaseOrderClaim:
    """End the deal's live claim on the order (deal withdrawn, rejected or settled); the order
    may then back another deal. NOT_FOUND when the deal holds no live claim on it."""
    released = await repository.release_order_claim(
        session,
        purchase_order_id=purchase_order_id,
        tenant_id=tenant_id,
        deal_id=deal_id,
        at=await transaction_now(session),
    )
    if released is None:
        raise DomainError(
            ErrorCode.NOT_FOUND, "the deal holds no live claim on this order", "purchaseOrderId"
        )
    return released


# -- reads for financing --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderForFinancing:
    """What ORDER_FINANCING needs of a purchase order: who owes whom how much, when, and
    whether the debtor confirmed it."""

    id: uuid.UUID
    number: str
    seller_organization_id: uuid.UUID
    buyer_organization_id: uuid.UUID
    amount: Money
    issue_date: date
    due_date: date
    status: PurchaseOrderStatus
    confirmed_at: datetime | None

    @property
    def confirmed(self) -> bool:
        """Whether the buyer has confirmed the order."""
        return self.status is PurchaseOrderStatus.CONFIRMED


async def order_for_financing(
    session: AsyncSession, *, purchase_order_id: uuid.UUID, require_confirmed: bool = False
) -> OrderForFinancing:
    """The order's financing view, as the session's scope sees it (NOT_FOUND otherwise);
    PURCHASE_ORDER_NOT_CONFIRMED when ``require_confirmed`` and it is not confirmed."""
    order = await repository.purchase_order(session, purchase_order_id)
    if order is None:
        raise _not_found("purchase order", "purchaseOrderId")
    if require_confirmed:
        policy.require_confirmed(order)
    return OrderForFinancing(
        id=order.id,
        number=order.number,
        seller_organization_id=order.seller_organization_id,
        buyer_organization_id=order.buyer_organization_id,
        amount=order.amount,
        issue_date=order.issue_date,
        due_date=order.due_date,
        status=order.status,
        confirmed_at=order.decided_at if order.status is PurchaseOrderStatus.CONFIRMED else None,
    )


@dataclass(frozen=True, slots=True)
class ReceiptValuationInputs:
    """What WAREHOUSE_RECEIPT_PLEDGE needs of a receipt to value the goods: quantity, unit,
    declared unit price and their product (before the funder's haircut and LTV)."""

    id: uuid.UUID
    number: str
    warehouse_organization_id: uuid.UUID
    owner_organization_id: uuid.UUID
    goods_description: str
    quantity: Decimal
    unit: str
    location: str
    unit_price: Money
    declared_value: Money
    status: WarehouseReceiptStatus


async def receipt_valuation_inputs(
    session: AsyncSession, *, receipt_id: uuid.UUID
) -> ReceiptValuationInputs:
    """The receipt's valuation inputs, as the session's scope sees it (NOT_FOUND otherwise:
    a funder sees a receipt its deal has claimed)."""
    receipt = await repository.receipt(session, receipt_id)
    if receipt is None:
        raise _not_found("warehouse receipt", "receiptId")
    return ReceiptValuationInputs(
        id=receipt.id,
        number=receipt.number,
        warehouse_organization_id=receipt.warehouse_organization_id,
        owner_organization_id=receipt.owner_organization_id,
        goods_description=receipt.goods_description,
        quantity=receipt.quantity,
        unit=receipt.unit,
        location=receipt.location,
        unit_price=receipt.unit_price,
        declared_value=policy.declared_value(receipt.quantity, receipt.unit_price),
        status=receipt.status,
    )


# -- documents ------------------------------------------------------------------------------------


async def _split_head(
    content: AsyncIterable[bytes], size: int
) -> tuple[bytes, AsyncIterator[bytes]]:
    """The first ``size`` bytes (or more, a whole chunk) and an iterator over everything."""
    iterator = aiter(content)
    head = b""
    while len(head) < size:
        try:
            head += await anext(iterator)
        except StopAsyncIteration:
            break

    async def everything() -> AsyncIterator[bytes]:
        if head:
            yield head
        async for chunk in iterator:
            yield chunk

    return head, everything()


async def _subject_visible(
    session: AsyncSession,
    purchase_order_id: uuid.UUID | None,
    warehouse_receipt_id: uuid.UUID | None,
) -> None:
    if (
        purchase_order_id is not None
        and await repository.purchase_order(session, purchase_order_id) is None
    ):
        raise _not_found("purchase order", "purchaseOrderId")
    if (
        warehouse_receipt_id is not None
        and await repository.receipt(session, warehouse_receipt_id) is None
    ):
        raise _not_found("warehouse receipt", "warehouseReceiptId")


def _subject_refusals() -> dict[str, DomainError]:
    return {
        "fk_documents_purchase_order_id_purchase_orders": _not_found(
            "purchase order", "purchaseOrderId"
        ),
        "fk_documents_warehouse_receipt_id_warehouse_receipts": _not_found(
            "warehouse receipt", "warehouseReceiptId"
        ),
        "fk_documents_owner_organization_id_organizations": _not_found("organization", "ownerId"),
    }


async def upload_document(
    session: AsyncSession,
    actor: Actor,
    storage: DocumentStorage,
    *,
    content: AsyncIterable[bytes],
    kind: DocumentKind,
    file_name: str | None,
    declared_content_type: str | None = None,
    declared_size: int | None = None,
    owner_organization_id: uuid.UUID | None = None,
    purchase_order_id: uuid.UUID | None = None,
    warehouse_receipt_id: uuid.UUID | None = None,
) -> Document:
    """Store an uploaded file and record it, owned by the actor's organization (or the person
    the actor is; the platform names the owner), optionally attached to an order or a receipt
    the actor sees. Refused before anything is stored: DOCUMENT_TOO_LARGE above the size
    limit (by the declared size, and again while the bytes arrive), DOCUMENT_TYPE_NOT_ALLOWED
    unless the first bytes are PDF, PNG or JPEG (and agree with a declared type)."""
    require(actor, Scope.DOCUMENTS_WRITE)
    owner_org, owner_person = policy.document_owner(actor, owner_organization_id)
    policy.check_one_subject(purchase_order_id, warehouse_receipt_id)
    policy.check_document_size(declared_size)
    await _subject_visible(session, purchase_order_id, warehouse_receipt_id)
    # Checked before storing, so a refused upload leaves no file behind.
    if (
        owner_org is not None
        and owner_org != actor.organization_id
        and owner_org not in await parties.organizations_by_ids(session, [owner_org])
    ):
        raise _not_found("organization", "ownerId")
    head, everything = await _split_head(content, policy.SNIFF_BYTES)
    if not head:
        raise DomainError(ErrorCode.REQUIRED, "the file is empty", "file")
    content_type = policy.check_document_type(head, declared_content_type)
    try:
        stored = await storage.put(
            everything, content_type=content_type, max_bytes=policy.MAX_DOCUMENT_BYTES
        )
    except ObjectTooLarge as exc:
        raise policy.too_large() from exc
    attached = purchase_order_id is not None or warehouse_receipt_id is not None
    document = Document(
        id=new_id(),
        owner_organization_id=owner_org,
        owner_person_id=owner_person,
        kind=kind,
        file_name=policy.clean_file_name(file_name),
        content_type=content_type,
        size_bytes=stored.size,
        sha256=stored.sha256,
        storage_key=stored.key,
        uploaded_by_user_id=actor.user_id,
        uploaded_by_client_id=None if actor.user_id else actor.client_id,
        purchase_order_id=purchase_order_id,
        warehouse_receipt_id=warehouse_receipt_id,
        attached_at=await transaction_now(session) if attached else None,
    )
    async with refusing(session, _subject_refusals()):
        repository.add(session, document)
    await _record(
        session,
        actor,
        action="document.upload",
        event=None,
        object_type="Document",
        object_id=document.id,
        details={
            "kind": kind.value,
            "content_type": content_type,
            "size": stored.size,
            "sha256": stored.sha256,
            "purchase_order_id": None if purchase_order_id is None else str(purchase_order_id),
            "warehouse_receipt_id": None
            if warehouse_receipt_id is None
            else str(warehouse_receipt_id),
        },
    )
    return document


async def attach_document(
    session: AsyncSession,
    actor: Actor,
    *,
    document_id: uuid.UUID,
    purchase_order_id: uuid.UUID | None = None,
    warehouse_receipt_id: uuid.UUID | None = None,
) -> Document:
    """Attach one of the actor's documents to an order or a receipt the actor sees, once."""
    require(actor, Scope.DOCUMENTS_WRITE)
    policy.check_one_subject(purchase_order_id, warehouse_receipt_id)
    if purchase_order_id is None and warehouse_receipt_id is None:
        raise DomainError(
            ErrorCode.REQUIRED, "the order or receipt to attach to", "purchaseOrderId"
        )
    document = await repository.document(session, document_id)
    if document is None:
        raise _not_found("document", "documentId")
    if not policy.document_owned_by(actor, document):
        raise DomainError(ErrorCode.FORBIDDEN, "only the owner attaches a document", "documentId")
    policy.check_attachable(document)
    await _subject_visible(session, purchase_order_id, warehouse_receipt_id)
    document = await repository.document(session, document_id, for_update=True)
    if document is None:  # pragma: no cover - the owner may lock what it sees
        raise _not_found("document", "documentId")
    policy.check_attachable(document)
    async with refusing(session, _subject_refusals()):
        document.purchase_order_id = purchase_order_id
        document.warehouse_receipt_id = warehouse_receipt_id
        document.attached_at = await transaction_now(session)
    await _record(
        session,
        actor,
        action="document.attach",
        event=None,
        object_type="Document",
        object_id=document.id,
        details={
            "purchase_order_id": None if purchase_order_id is None else str(purchase_order_id),
            "warehouse_receipt_id": None
            if warehouse_receipt_id is None
            else str(warehouse_receipt_id),
        },
    )
    return document


__all__ = [
    "OrderForFinancing",
    "ReceiptValuationInputs",
    "attach_document",
    "cancel_warehouse_receipt",
    "claim_purchase_order",
    "claim_receipt",
    "confirm_purchase_order",
    "create_purchase_order",
    "dispute_purchase_order",
    "issue_warehouse_receipt",
    "order_for_financing",
    "receipt_valuation_inputs",
    "release_purchase_order",
    "release_receipt",
    "upload_document",
]
