"""Every query of the collateral context, the batch getters of its DataLoaders, and the mapping
of its database constraints to typed refusals. Row-level security filters what each scope
sees; the "mine" pages still name the organization."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import any_, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from domain.collateral.models import (
    Document,
    PurchaseOrder,
    PurchaseOrderClaim,
    PurchaseOrderStatus,
    ReceiptClaim,
    WarehouseReceipt,
    WarehouseReceiptStatus,
)
from domain.persistence.base import uuid_array

#: A keyset position in a "mine" page: ``(created_at, id)``.
Keyset = tuple[datetime, uuid.UUID]

R = TypeVar("R", PurchaseOrder, WarehouseReceipt)

# -- purchase orders ------------------------------------------------------------------------------


async def purchase_orders_by_ids(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, PurchaseOrder]:
    """Batch getter: the visible orders among ``ids``."""
    if not ids:
        return {}
    rows = await session.scalars(
        select(PurchaseOrder).where(PurchaseOrder.id == any_(uuid_array(ids)))
    )
    return {row.id: row for row in rows}


async def purchase_order(
    session: AsyncSession, order_id: uuid.UUID, *, for_update: bool = False
) -> PurchaseOrder | None:
    """One visible order, fresh from the database; locked when ``for_update`` (which only the
    buyer and the platform may: the update policy applies to locking reads)."""
    stmt = (
        select(PurchaseOrder)
        .where(PurchaseOrder.id == order_id)
        .execution_options(populate_existing=True)
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def purchase_orders_page(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID | None,
    limit: int,
    after: Keyset | None = None,
    status: PurchaseOrderStatus | None = None,
) -> list[PurchaseOrder]:
    """Up to ``limit`` orders ``organization_id`` sells, buys or submitted (every visible
    order for None: the operator), oldest first, after the keyset position."""
    stmt = select(PurchaseOrder)
    if organization_id is not None:
        stmt = stmt.where(
            or_(
                PurchaseOrder.seller_organization_id == organization_id,
                PurchaseOrder.buyer_organization_id == organization_id,
                PurchaseOrder.submitted_by_organization_id == organization_id,
            )
        )
    if status is not None:
        stmt = stmt.where(PurchaseOrder.status == status)
    return list(await session.scalars(_page(stmt, PurchaseOrder, limit, after)))


# -- warehouse receipts ---------------------------------------------------------------------------


async def receipts_by_ids(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, WarehouseReceipt]:
    """Batch getter: the visible receipts among ``ids``."""
    if not ids:
        return {}
    rows = await session.scalars(
        select(WarehouseReceipt).where(WarehouseReceipt.id == any_(uuid_array(ids)))
    )
    return {row.id: row for row in rows}


async def receipt(
    session: AsyncSession, receipt_id: uuid.UUID, *, for_update: bool = False
) -> WarehouseReceipt | None:
    """One visible receipt, fresh from the database; locked when ``for_update``."""
    stmt = (
        select(WarehouseReceipt)
        .where(WarehouseReceipt.id == receipt_id)
        .execution_options(populate_existing=True)
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def receipts_page(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID | None,
    limit: int,
    after: Keyset | None = None,
    status: WarehouseReceiptStatus | None = None,
) -> list[WarehouseReceipt]:
    """Up to ``limit`` receipts ``organization_id`` issued (as the warehouse) or owns (every
    visible receipt for None: the operator), oldest first, after the keyset position."""
    stmt = select(WarehouseReceipt)
    if organization_id is not None:
        stmt = stmt.where(
            or_(
                WarehouseReceipt.warehouse_organization_id == organization_id,
                WarehouseReceipt.owner_organization_id == organization_id,
            )
        )
    if status is not None:
        stmt = stmt.where(WarehouseReceipt.status == status)
    return list(await session.scalars(_page(stmt, WarehouseReceipt, limit, after)))


def _page(stmt: Select[R], model: type[R], limit: int, after: Keyset | None) -> Select[R]:
    if after is not None:
        stmt = stmt.where(tuple_(model.created_at, model.id) > tuple_(*after))
    return stmt.order_by(model.created_at, model.id).limit(limit)


# -- receipt claims -------------------------------------------------------------------------------


async def live_claim_of_deal(
    session: AsyncSession, *, receipt_id: uuid.UUID, tenant_id: uuid.UUID, deal_id: uuid.UUID
) -> ReceiptClaim | None:
    """The deal's live claim on the receipt, if it holds one (visible to its tenant)."""
    stmt = select(ReceiptClaim).where(
        ReceiptClaim.receipt_id == receipt_id,
        ReceiptClaim.tenant_id == tenant_id,
        ReceiptClaim.deal_id == deal_id,
        ReceiptClaim.released_at.is_(None),
    )
    return (await session.scalars(stmt)).first()


async def release_claim(
    session: AsyncSession,
    *,
    receipt_id: uuid.UUID,
    tenant_id: uuid.UUID,
    deal_id: uuid.UUID,
    at: datetime,
) -> ReceiptClaim | None:
    """Release the deal's live claim on the receipt; the released claim, or None when the
    deal holds none."""
    stmt = (
        update(ReceiptClaim)
        .where(
            ReceiptClaim.receipt_id == receipt_id,
            ReceiptClaim.tenant_id == tenant_id,
            ReceiptClaim.deal_id == deal_id,
            ReceiptClaim.released_at.is_(None),
        )
        .values(released_at=at)
        .returning(ReceiptClaim)
        .execution_options(synchronize_session=False)
    )
    return (await session.scalars(stmt)).first()


async def claims_of_deal(
    session: AsyncSession, *, tenant_id: uuid.UUID, deal_id: uuid.UUID
) -> list[ReceiptClaim]:
    """Every claim a deal has made, oldest first."""
    stmt = (
        select(ReceiptClaim)
        .where(ReceiptClaim.tenant_id == tenant_id, ReceiptClaim.deal_id == deal_id)
        .order_by(ReceiptClaim.claimed_at, ReceiptClaim.id)
    )
    return list(await session.scalars(stmt))


# -- purchase order claims ------------------------------------------------------------------------


async def live_order_claim_of_deal(
    session: AsyncSession,
    *,
    purchase_order_id: uuid.UUID,
    tenant_id: uuid.UUID,
    deal_id: uuid.UUID,
) -> PurchaseOrderClaim | None:
    """The deal's live claim on the order, if it holds one."""
    stmt = select(PurchaseOrderClaim).where(
        PurchaseOrderClaim.purchase_order_id == purchase_order_id,
        PurchaseOrderClaim.tenant_id == tenant_id,
        PurchaseOrderClaim.deal_id == deal_id,
        PurchaseOrderClaim.released_at.is_(None),
    )
    return (await session.scalars(stmt)).first()


async def release_order_claim(
    session: AsyncSession,
    *,
    purchase_order_id: uuid.UUID,
    tenant_id: uuid.UUID,
    deal_id: uuid.UUID,
    at: datetime,
) -> PurchaseOrderClaim | None:
    """Release the deal's live claim on the order; the released claim, or None when the deal
    holds none."""
    stmt = (
        update(PurchaseOrderClaim)
        .where(
            PurchaseOrderClaim.purchase_order_id == purchase_order_id,
            PurchaseOrderClaim.tenant_id == tenant_id,
            PurchaseOrderClaim.deal_id == deal_id,
            PurchaseOrderClaim.released_at.is_(None),
        )
        .values(released_at=at)
        .returning(PurchaseOrderClaim)
        .execution_options(synchronize_session=False)
    )
    return (await session.scalars(stmt)).first()


async def order_claims_of_deal(
    session: AsyncSession, *, tenant_id: uuid.UUID, deal_id: uuid.UUID
) -> list[PurchaseOrderClaim]:
    """Every claim a deal has made on orders, oldest first."""
    stmt = (
        select(PurchaseOrderClaim)
        .where(PurchaseOrderClaim.tenant_id == tenant_id, PurchaseOrderClaim.deal_id == deal_id)
        .order_by(PurchaseOrderClaim.claimed_at, PurchaseOrderClaim.id)
    )
    return list(await session.scalars(stmt))


# -- documents ------------------------------------------------------------------------------------


async def documents_by_ids(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Document]:
    """Batch getter: the visible documents among ``ids``."""
    if not ids:
        return {}
    rows = await session.scalars(select(Document).where(Document.id == any_(uuid_array(ids))))
    return {row.id: row for row in rows}


async def document(
    session: AsyncSession, document_id: uuid.UUID, *, for_update: bool = False
) -> Document | None:
    """One visible document, fresh from the database; locked when ``for_update``."""
    stmt = (
        select(Document).where(Document.id == document_id).execution_options(populate_existing=True)
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def documents_of_purchase_orders(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Document]]:
    """Batch getter: the visible documents attached to each order, oldest first."""
    return await _documents_of(session, Document.purchase_order_id, ids)


async def documents_of_receipts(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Document]]:
    """Batch getter: the visible documents attached to each receipt, oldest first."""
    return await _documents_of(session, Document.warehouse_receipt_id, ids)


async def _documents_of(
    session: AsyncSession, column: Any, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Document]]:
    out: dict[uuid.UUID, list[Document]] = defaultdict(list)
    if not ids:
        return out
    stmt = (
        select(Document)
        .where(column == any_(uuid_array(ids)))
        .order_by(Document.created_at, Document.id)
    )
    for row in await session.scalars(stmt):
        out[getattr(row, column.key)].append(row)
    return out


def add(
    session: AsyncSession,
    row: PurchaseOrder | WarehouseReceipt | ReceiptClaim | PurchaseOrderClaim | Document,
) -> None:
    """Stage a new row; the caller's flush writes it."""
    session.add(row)
