"""GraphQL types of supply-chain assets: purchase orders, warehouse receipts and documents.
Each type's read rule is its scope plus row-level security (its parties, the funders whose
deals name it, the agents of its owner; a document follows what it is attached to), applied
alike by ``node(id:)`` and by every field that returns one."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.pagination import check_first, decode_keyset, encode_keyset, page_info
from api.parties.types import OrganizationNode
from api.relay import load_node, load_nodes
from api.scalars import MoneyType
from domain.collateral import models, policy
from domain.collateral.repository import Keyset
from domain.kernel.scopes import Scope

if TYPE_CHECKING:
    from api.pledges.types import PledgeType

PurchaseOrderStatus = strawberry.enum(
    models.PurchaseOrderStatus,
    description="PENDING_CONFIRMATION until the buyer confirms or disputes it, once.",
)
WarehouseReceiptStatus = strawberry.enum(
    models.WarehouseReceiptStatus,
    description="ISSUED, or CANCELLED by the warehouse (never while a live deal holds it).",
)
DocumentKind = strawberry.enum(models.DocumentKind, description="What an uploaded document is.")

#: Largest page a connection serves.


async def _organization(info: Info, org_id: uuid.UUID | None) -> OrganizationNode | None:
    # The organization's one read rule (row-level security lets counterparties see each other).
    return await load_node(info, OrganizationNode, org_id)


@strawberry.type(
    name="Document",
    description="An uploaded file's record: its bytes are kept in document storage under "
    "their SHA-256.",
)
class DocumentNode(relay.Node):
    id: relay.NodeID[str]
    kind: DocumentKind = strawberry.field(description="What the document is.")  # type: ignore[valid-type]
    file_name: str = strawberry.field(description="The uploaded file's name, sanitised.")
    content_type: str = strawberry.field(
        description="MIME type recognised from the content (PDF, PNG or JPEG)."
    )
    size_bytes: int = strawberry.field(description="Size in bytes.")
    sha256: str = strawberry.field(description="SHA-256 of the content, lower-case hex.")
    created_at: datetime = strawberry.field(description="When it was uploaded.")
    attached_at: datetime | None = strawberry.field(
        description="When it was attached to an order or a receipt."
    )
    row: strawberry.Private[models.Document]

    @classmethod
    def from_row(cls, row: models.Document) -> DocumentNode:
        return cls(
            id=str(row.id),
            kind=row.kind,
            file_name=row.file_name,
            content_type=row.content_type,
            size_bytes=row.size_bytes,
            sha256=row.sha256,
            created_at=row.created_at,
            attached_at=row.attached_at,
            row=row,
        )

    @strawberry.field(description="The organization owning the document, if it is one.")
    async def owner(self, info: Info) -> OrganizationNode | None:
        return await _organization(info, self.row.owner_organization_id)

    @strawberry.field(description="The purchase order it is attached to, if any.")
    async def purchase_order(self, info: Info) -> PurchaseOrderNode | None:
        return await load_node(info, PurchaseOrderNode, self.row.purchase_order_id)

    @strawberry.field(description="The warehouse receipt it is attached to, if any.")
    async def warehouse_receipt(self, info: Info) -> WarehouseReceiptNode | None:
        return await load_node(info, WarehouseReceiptNode, self.row.warehouse_receipt_id)

    @classmethod
    async def load_by_ids(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[DocumentNode | None]:
        return await load_nodes(
            info,
            node_ids,
            loader=lambda loaders: loaders.documents,
            scope=Scope.DOCUMENTS_READ,
            to_node=cls.from_row,
        )


async def _documents(info: Info, loader: Any, key: uuid.UUID) -> list[DocumentNode]:
    if not info.context.actor.has(Scope.DOCUMENTS_READ):
        return []
    rows = await loader.load(key)
    return [DocumentNode.from_row(r) for r in rows or []]


@strawberry.type(
    name="PurchaseOrder",
    description="A purchase order / receivable: the buyer (a core enterprise) owes the "
    "seller (a trading company) the amount on the due date. Financeable once the buyer has "
    "confirmed it.",
)
class PurchaseOrderNode(relay.Node):
    id: relay.NodeID[str]
    number: str = strawberry.field(description="The order number, unique per buyer.")
    amount: MoneyType = strawberry.field(description="The amount the buyer owes.")
    issue_date: date = strawberry.field(description="When the order was issued.")
    due_date: date = strawberry.field(description="When the buyer pays.")
    status: PurchaseOrderStatus = strawberry.field(description="The buyer's decision.")  # type: ignore[valid-type]
    decided_at: datetime | None = strawberry.field(
        description="When the buyer confirmed or disputed it."
    )
    decision_note: str | None = strawberry.field(
        description="The buyer's note; always given for a dispute."
    )
    created_at: datetime = strawberry.field(description="When it was submitted.")
    row: strawberry.Private[models.PurchaseOrder]

    @classmethod
    def from_row(cls, row: models.PurchaseOrder) -> PurchaseOrderNode:
        return cls(
            id=str(row.id),
            number=row.number,
            amount=MoneyType.of(row.amount),
            issue_date=row.issue_date,
            due_date=row.due_date,
            status=row.status,
            decided_at=row.decided_at,
            decision_note=row.decision_note,
            created_at=row.created_at,
            row=row,
        )

    @strawberry.field(description="The seller: the trading company owed the amount.")
    async def seller(self, info: Info) -> OrganizationNode | None:
        return await _organization(info, self.row.seller_organization_id)

    @strawberry.field(description="The buyer: the core enterprise that owes the amount.")
    async def buyer(self, info: Info) -> OrganizationNode | None:
        return await _organization(info, self.row.buyer_organization_id)

    @strawberry.field(description="The partner that submitted it for the seller, if any.")
    async def submitted_by(self, info: Info) -> OrganizationNode | None:
        submitter = self.row.submitted_by_organization_id
        if submitter is None or submitter == self.row.seller_organization_id:
            return None
        return await _organization(info, submitter)

    @strawberry.field(description="Documents attached to it, oldest first.")
    async def documents(self, info: Info) -> list[DocumentNode]:
        return await _documents(
            info, info.context.loaders.documents_of_purchase_orders, self.row.id
        )

    @classmethod
    async def load_by_ids(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[PurchaseOrderNode | None]:
        return await load_nodes(
            info,
            node_ids,
            loader=lambda loaders: loaders.purchase_orders,
            scope=Scope.COLLATERAL_READ,
            to_node=cls.from_row,
        )


@strawberry.type(
    name="WarehouseReceipt",
    description="A receipt a supervised warehouse issued for goods it holds for their owner; "
    "it backs at most one live deal at a time.",
)
class WarehouseReceiptNode(relay.Node):
    id: relay.NodeID[str]
    number: str = strawberry.field(description="The receipt number, unique per warehouse.")
    goods_description: str = strawberry.field(description="What the goods are.")
    quantity: str = strawberry.field(
        description='Quantity held, as a decimal string with 6 decimals, e.g. "120.500000".'
    )
    unit: str = strawberry.field(description="Unit of the quantity, e.g. t or bale.")
    commodity_code: str | None = strawberry.field(
        description="The goods' commodity code (e.g. CU), which valuations price them by."
    )
    location: str = strawberry.field(description="Where in the warehouse the goods are.")
    unit_price: MoneyType = strawberry.field(description="Declared price of one unit.")
    declared_value: MoneyType = strawberry.field(
        description="Quantity x declared unit price, rounded half-up: the valuation input "
        "before a funder's haircut and LTV."
    )
    status: WarehouseReceiptStatus = strawberry.field(description="Issued or cancelled.")  # type: ignore[valid-type]
    created_at: datetime = strawberry.field(description="When it was issued.")
    cancelled_at: datetime | None = strawberry.field(description="When it was cancelled.")
    cancellation_reason: str | None = strawberry.field(description="Why it was cancelled.")
    row: strawberry.Private[models.WarehouseReceipt]

    @classmethod
    def from_row(cls, row: models.WarehouseReceipt) -> WarehouseReceiptNode:
        return cls(
            id=str(row.id),
            number=row.number,
            goods_description=row.goods_description,
            quantity=format(row.quantity, "f"),
            unit=row.unit,
            commodity_code=row.commodity_code,
            location=row.location,
            unit_price=MoneyType.of(row.unit_price),
            declared_value=MoneyType.of(policy.declared_value(row.quantity, row.unit_price)),
            status=row.status,
            created_at=row.created_at,
            cancelled_at=row.cancelled_at,
            cancellation_reason=row.cancellation_reason,
            row=row,
        )

    @strawberry.field(description="The warehouse holding the goods.")
    async def warehouse(self, info: Info) -> OrganizationNode | None:
        return await _organization(info, self.row.warehouse_organization_id)

    @strawberry.field(description="The owner of the goods (a cargo owner).")
    async def owner(self, info: Info) -> OrganizationNode | None:
        return await _organization(info, self.row.owner_organization_id)

    @strawberry.field(description="Documents attached to it, oldest first.")
    async def documents(self, info: Info) -> list[DocumentNode]:
        return await _documents(info, info.context.loaders.documents_of_receipts, self.row.id)

    @strawberry.field(
        description="The receipt's active pledge (REQUESTED, REGISTERED or "
        "CUSTODY_CONFIRMED), which locks it: to its funder, the receipt's warehouse and the "
        "platform; null when none or for anyone else."
    )
    async def active_pledge(
        self, info: Info
    ) -> Annotated[PledgeType, strawberry.lazy("api.pledges.types")] | None:
        from api.pledges.types import PledgeType
        from domain.pledges import service as pledges

        async with info.context.db() as session:
            row = await pledges.active_pledge_of_receipt(session, info.context.actor, self.row.id)
        return None if row is None else PledgeType.from_row(row)

    @classmethod
    async def load_by_ids(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[WarehouseReceiptNode | None]:
        return await load_nodes(
            info,
            node_ids,
            loader=lambda loaders: loaders.warehouse_receipts,
            scope=Scope.COLLATERAL_READ,
            to_node=cls.from_row,
        )


# -- connections ----------------------------------------------------------------------------------


@strawberry.type(description="A purchase order and its cursor in a connection.")
class PurchaseOrderEdge:
    cursor: str = strawberry.field(description="Opaque keyset cursor of this order.")
    node: PurchaseOrderNode = strawberry.field(description="The purchase order.")


@strawberry.type(description="A page of purchase orders, oldest first.")
class PurchaseOrderConnection:
    edges: list[PurchaseOrderEdge] = strawberry.field(description="The orders of this page.")
    page_info: relay.PageInfo = strawberry.field(description="Where this page ends.")


@strawberry.type(description="A warehouse receipt and its cursor in a connection.")
class WarehouseReceiptEdge:
    cursor: str = strawberry.field(description="Opaque keyset cursor of this receipt.")
    node: WarehouseReceiptNode = strawberry.field(description="The warehouse receipt.")


@strawberry.type(description="A page of warehouse receipts, oldest first.")
class WarehouseReceiptConnection:
    edges: list[WarehouseReceiptEdge] = strawberry.field(description="The receipts of this page.")
    page_info: relay.PageInfo = strawberry.field(description="Where this page ends.")


def encode_cursor(prefix: str, at: datetime, id: uuid.UUID) -> str:
    """An opaque cursor for the keyset position ``(created_at, id)``."""
    return encode_keyset(prefix, at, id)


def decode_cursor(prefix: str, cursor: str | None) -> Keyset | None:
    """The keyset position in ``cursor``; a GraphQL error when it is not one of ours."""
    found = decode_keyset(prefix, cursor, 1)
    return None if found is None else (found[0], found[1][0])


def order_connection(
    rows: list[models.PurchaseOrder], first: int, prefix: str
) -> PurchaseOrderConnection:
    """A connection from up to ``first + 1`` rows (the extra one only says there is more)."""
    edges = [
        PurchaseOrderEdge(
            cursor=encode_cursor(prefix, r.created_at, r.id), node=PurchaseOrderNode.from_row(r)
        )
        for r in rows[:first]
    ]
    return PurchaseOrderConnection(
        edges=edges, page_info=page_info([e.cursor for e in edges], len(rows) > first)
    )


def receipt_connection(
    rows: list[models.WarehouseReceipt], first: int, prefix: str
) -> WarehouseReceiptConnection:
    """A connection from up to ``first + 1`` rows (the extra one only says there is more)."""
    edges = [
        WarehouseReceiptEdge(
            cursor=encode_cursor(prefix, r.created_at, r.id),
            node=WarehouseReceiptNode.from_row(r),
        )
        for r in rows[:first]
    ]
    return WarehouseReceiptConnection(
        edges=edges, page_info=page_info([e.cursor for e in edges], len(rows) > first)
    )


__all__ = [
    "DocumentKind",
    "DocumentNode",
    "PurchaseOrderConnection",
    "PurchaseOrderNode",
    "PurchaseOrderStatus",
    "WarehouseReceiptConnection",
    "WarehouseReceiptNode",
    "WarehouseReceiptStatus",
    "check_first",
    "decode_cursor",
    "order_connection",
    "receipt_connection",
]
