"""Mutations on supply-chain assets: submit, confirm and dispute purchase orders; issue and
cancel warehouse receipts; upload and attach documents (GraphQL multipart request)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from api.collateral.types import DocumentKind, DocumentNode, PurchaseOrderNode, WarehouseReceiptNode
from api.errors import UserError, run_use_case
from api.ids import DocumentID, OrganizationID, PurchaseOrderID, WarehouseReceiptID
from api.permissions import has_scope
from api.relay import id_of, required
from api.scalars import MoneyInput
from domain.collateral import service
from domain.kernel.errors import DomainError, ErrorCode
from domain.kernel.scopes import Scope

#: Bytes read from an upload at a time.
UPLOAD_CHUNK = 64 * 1024


# -- purchase orders ------------------------------------------------------------------------------


@strawberry.input(description="A purchase order to submit for the buyer's confirmation.")
class CreatePurchaseOrderInput:
    buyer_id: OrganizationID = strawberry.field(description="The core enterprise that owes.")
    number: str = strawberry.field(description="The order number, unique per buyer.")
    amount: MoneyInput = strawberry.field(description="The amount owed.")
    issue_date: date = strawberry.field(description="When the order was issued.")
    due_date: date = strawberry.field(description="When the buyer pays (not before issue).")
    seller_id: OrganizationID | None = strawberry.field(
        default=None,
        description="The trading company owed the amount: your own organization when "
        "omitted; required for a partner app or the platform acting on its behalf.",
    )


@strawberry.type(description="Result of createPurchaseOrder.")
class CreatePurchaseOrderPayload:
    purchase_order: PurchaseOrderNode | None = strawberry.field(description="The new order.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


@strawberry.input(description="The buyer's confirmation of a purchase order.")
class ConfirmPurchaseOrderInput:
    id: PurchaseOrderID = strawberry.field(description="The purchase order.")
    note: str | None = strawberry.field(default=None, description="An optional note.")


@strawberry.input(description="The buyer's dispute of a purchase order.")
class DisputePurchaseOrderInput:
    id: PurchaseOrderID = strawberry.field(description="The purchase order.")
    note: str = strawberry.field(description="Why the order is disputed (required).")


@strawberry.type(description="Result of confirmPurchaseOrder or disputePurchaseOrder.")
class DecidePurchaseOrderPayload:
    purchase_order: PurchaseOrderNode | None = strawberry.field(description="The decided order.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


# -- warehouse receipts ---------------------------------------------------------------------------


@strawberry.input(description="A warehouse receipt to issue for goods held.")
class IssueWarehouseReceiptInput:
    owner_id: OrganizationID = strawberry.field(description="The goods' owner (a cargo owner).")
    number: str = strawberry.field(description="The receipt number, unique per warehouse.")
    goods_description: str = strawberry.field(description="What the goods are.")
    quantity: str = strawberry.field(
        description='Quantity held: a decimal string, at most 6 decimals, e.g. "120.5".'
    )
    unit: str = strawberry.field(description="Unit of the quantity, e.g. t.")
    location: str = strawberry.field(description="Where in the warehouse the goods are.")
    unit_price: MoneyInput = strawberry.field(description="Declared price of one unit.")
    warehouse_id: OrganizationID | None = strawberry.field(
        default=None, description="The issuing warehouse: your own organization when omitted."
    )
    commodity_code: str | None = strawberry.field(
        default=None,
        description="The goods' exchange or spot-market commodity code, e.g. CU (copper), "
        "upper-cased, 1-32 of A-Z 0-9 . _ -; valuations price the goods by it. Goods without "
        "one are left unvalued.",
    )


@strawberry.type(description="Result of issueWarehouseReceipt.")
class IssueWarehouseReceiptPayload:
    warehouse_receipt: WarehouseReceiptNode | None = strawberry.field(
        description="The new receipt."
    )
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


@strawberry.input(description="A warehouse receipt to cancel.")
class CancelWarehouseReceiptInput:
    id: WarehouseReceiptID = strawberry.field(description="The warehouse receipt.")
    reason: str = strawberry.field(description="Why it is cancelled.")


@strawberry.type(description="Result of cancelWarehouseReceipt.")
class CancelWarehouseReceiptPayload:
    warehouse_receipt: WarehouseReceiptNode | None = strawberry.field(
        description="The cancelled receipt."
    )
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


# -- documents ------------------------------------------------------------------------------------


@strawberry.input(
    description="A file to upload, sent as a GraphQL multipart request: PDF, PNG or JPEG "
    "(recognised by content), at most 10 MiB."
)
class UploadDocumentInput:
    file: Upload = strawberry.field(description="The file (a multipart part).")
    kind: DocumentKind = strawberry.field(description="What the document is.")  # type: ignore[valid-type]
    purchase_order_id: PurchaseOrderID | None = strawberry.field(
        default=None, description="Attach it to this purchase order."
    )
    warehouse_receipt_id: WarehouseReceiptID | None = strawberry.field(
        default=None, description="Attach it to this warehouse receipt."
    )
    owner_id: OrganizationID | None = strawberry.field(
        default=None,
        description="The owning organization, for the platform only: your own otherwise.",
    )


@strawberry.type(description="Result of uploadDocument.")
class UploadDocumentPayload:
    document: DocumentNode | None = strawberry.field(description="The stored document.")
    user_errors: list[UserError] = strawberry.field(description="Why the upload was refused.")


@strawberry.input(description="A document of yours to attach to an order or a receipt.")
class AttachDocumentInput:
    document_id: DocumentID = strawberry.field(description="The document.")
    purchase_order_id: PurchaseOrderID | None = strawberry.field(
        default=None, description="The purchase order to attach it to."
    )
    warehouse_receipt_id: WarehouseReceiptID | None = strawberry.field(
        default=None, description="The warehouse receipt to attach it to."
    )


@strawberry.type(description="Result of attachDocument.")
class AttachDocumentPayload:
    document: DocumentNode | None = strawberry.field(description="The attached document.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


async def _read(upload: Any) -> AsyncIterator[bytes]:
    # Strawberry hands over Starlette's UploadFile (spooled to disk beyond 1 MiB). Anything
    # else (a JSON value sent in place of a multipart part) is refused as input.
    if not callable(getattr(upload, "read", None)):
        raise DomainError(ErrorCode.REQUIRED, "send the file as a multipart request part", "file")
    while chunk := await upload.read(UPLOAD_CHUNK):
        yield chunk


@strawberry.type
class CollateralMutations:
    @strawberry.mutation(
        description="Submit a purchase order owed to a trading company by a core enterprise; "
        "it waits for the buyer's confirmation.",
        permission_classes=[has_scope(Scope.COLLATERAL_WRITE)],
    )
    async def create_purchase_order(
        self, info: Info, input: CreatePurchaseOrderInput
    ) -> CreatePurchaseOrderPayload:
        async with info.context.db() as session:
            order, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.create_purchase_order(
                    s,
                    a,
                    buyer_organization_id=required(
                        id_of(input.buyer_id, "Organization", "buyerId")
                    ),
                    seller_organization_id=id_of(input.seller_id, "Organization", "sellerId"),
                    number=input.number,
                    amount=input.amount.to_money("amount"),
                    issue_date=input.issue_date,
                    due_date=input.due_date,
                ),
            )
        return CreatePurchaseOrderPayload(
            purchase_order=PurchaseOrderNode.from_row(order) if order else None,
            user_errors=errors,
        )

    @strawberry.mutation(
        description="Confirm a purchase order as its buyer (a core-enterprise user): the "
        "debt is acknowledged and the order becomes financeable.",
        permission_classes=[has_scope(Scope.COLLATERAL_WRITE)],
    )
    async def confirm_purchase_order(
        self, info: Info, input: ConfirmPurchaseOrderInput
    ) -> DecidePurchaseOrderPayload:
        async with info.context.db() as session:
            order, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.confirm_purchase_order(
                    s,
                    a,
                    purchase_order_id=required(id_of(input.id, "PurchaseOrder", "id")),
                    note=input.note,
                ),
            )
        return DecidePurchaseOrderPayload(
            purchase_order=PurchaseOrderNode.from_row(order) if order else None,
            user_errors=errors,
        )

    @strawberry.mutation(
        description="Dispute a purchase order as its buyer (a core-enterprise user), "
        "saying why; it can then not be financed.",
        permission_classes=[has_scope(Scope.COLLATERAL_WRITE)],
    )
    async def dispute_purchase_order(
        self, info: Info, input: DisputePurchaseOrderInput
    ) -> DecidePurchaseOrderPayload:
        async with info.context.db() as session:
            order, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.dispute_purchase_order(
                    s,
                    a,
                    purchase_order_id=required(id_of(input.id, "PurchaseOrder", "id")),
                    note=input.note,
                ),
            )
        return DecidePurchaseOrderPayload(
            purchase_order=PurchaseOrderNode.from_row(order) if order else None,
            user_errors=errors,
        )

    @strawberry.mutation(
        description="Issue a warehouse receipt for goods the warehouse holds (a warehouse user).",
        permission_classes=[has_scope(Scope.COLLATERAL_WRITE)],
    )
    async def issue_warehouse_receipt(
        self, info: Info, input: IssueWarehouseReceiptInput
    ) -> IssueWarehouseReceiptPayload:
        async with info.context.db() as session:
            receipt, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.issue_warehouse_receipt(
                    s,
                    a,
                    owner_organization_id=required(
                        id_of(input.owner_id, "Organization", "ownerId")
                    ),
                    warehouse_organization_id=id_of(
                        input.warehouse_id, "Organization", "warehouseId"
                    ),
                    number=input.number,
                    goods_description=input.goods_description,
                    quantity=input.quantity,
                    unit=input.unit,
                    location=input.location,
                    unit_price=input.unit_price.to_money("unitPrice"),
                    commodity_code=input.commodity_code,
                ),
            )
        return IssueWarehouseReceiptPayload(
            warehouse_receipt=WarehouseReceiptNode.from_row(receipt) if receipt else None,
            user_errors=errors,
        )

    @strawberry.mutation(
        description="Cancel a warehouse receipt (a user of its warehouse); refused while a "
        "live deal holds it.",
        permission_classes=[has_scope(Scope.COLLATERAL_WRITE)],
    )
    async def cancel_warehouse_receipt(
        self, info: Info, input: CancelWarehouseReceiptInput
    ) -> CancelWarehouseReceiptPayload:
        async with info.context.db() as session:
            receipt, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.cancel_warehouse_receipt(
                    s,
                    a,
                    receipt_id=required(id_of(input.id, "WarehouseReceipt", "id")),
                    reason=input.reason,
                ),
            )
        return CancelWarehouseReceiptPayload(
            warehouse_receipt=WarehouseReceiptNode.from_row(receipt) if receipt else None,
            user_errors=errors,
        )

    @strawberry.mutation(
        description="Upload a document (GraphQL multipart request). Refused before anything "
        "is stored when larger than 10 MiB or not a PDF, PNG or JPEG by its content.",
        permission_classes=[has_scope(Scope.DOCUMENTS_WRITE)],
    )
    async def upload_document(
        self, info: Info, input: UploadDocumentInput
    ) -> UploadDocumentPayload:
        upload: Any = input.file
        storage = info.context.state.storage
        async with info.context.db() as session:
            document, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.upload_document(
                    s,
                    a,
                    storage,
                    content=_read(upload),
                    kind=input.kind,
                    file_name=getattr(upload, "filename", None),
                    declared_content_type=getattr(upload, "content_type", None),
                    declared_size=getattr(upload, "size", None),
                    owner_organization_id=id_of(input.owner_id, "Organization", "ownerId"),
                    purchase_order_id=id_of(
                        input.purchase_order_id, "PurchaseOrder", "purchaseOrderId"
                    ),
                    warehouse_receipt_id=id_of(
                        input.warehouse_receipt_id, "WarehouseReceipt", "warehouseReceiptId"
                    ),
                ),
            )
        return UploadDocumentPayload(
            document=DocumentNode.from_row(document) if document else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Attach one of your documents to a purchase order or a warehouse receipt.",
        permission_classes=[has_scope(Scope.DOCUMENTS_WRITE)],
    )
    async def attach_document(
        self, info: Info, input: AttachDocumentInput
    ) -> AttachDocumentPayload:
        async with info.context.db() as session:
            document, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.attach_document(
                    s,
                    a,
                    document_id=required(id_of(input.document_id, "Document", "documentId")),
                    purchase_order_id=id_of(
                        input.purchase_order_id, "PurchaseOrder", "purchaseOrderId"
                    ),
                    warehouse_receipt_id=id_of(
                        input.warehouse_receipt_id, "WarehouseReceipt", "warehouseReceiptId"
                    ),
                ),
            )
        return AttachDocumentPayload(
            document=DocumentNode.from_row(document) if document else None, user_errors=errors
        )
