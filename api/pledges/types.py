"""GraphQL types of pledges."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from api.collateral.types import WarehouseReceiptNode
from domain.pledges.models import Pledge
from domain.pledges.models import PledgeStatus as DomainPledgeStatus

PledgeStatus = strawberry.enum(
    DomainPledgeStatus,
    name="PledgeStatus",
    description="REQUESTED (being filed at the pledge registry), REGISTERED (filed: the "
    "filing number is public), CUSTODY_CONFIRMED (the warehouse holds the goods under the "
    "pledge), RELEASED (by the funder) or REFUSED (by the registry).",
)


@strawberry.type(
    name="Pledge",
    description="A warehouse receipt pledged to a deal: filed at the movable-property pledge "
    "registry, then confirmed by the warehouse. While it is REQUESTED, REGISTERED or "
    "CUSTODY_CONFIRMED the receipt cannot be cancelled, transferred or pledged again. Seen by "
    "the deal's funder, the receipt's warehouse and the platform.",
)
class PledgeType:
    status: PledgeStatus = strawberry.field(description="Where the pledge stands.")  # type: ignore[valid-type]
    filing_number: str | None = strawberry.field(
        description="The registry's public filing number, once REGISTERED."
    )
    registered_at: datetime | None = strawberry.field(description="When the registry filed it.")
    confirmed_at: datetime | None = strawberry.field(
        description="When the warehouse confirmed custody of the goods under the pledge."
    )
    released_at: datetime | None = strawberry.field(description="When the funder released it.")
    deregistered_at: datetime | None = strawberry.field(
        description="When the registry cancelled the filing after the release (the receipt "
        "is free in lendgraph from the release on; the registry follows)."
    )
    refusal_code: str | None = strawberry.field(
        description="The registry's reason, for a REFUSED pledge."
    )
    created_at: datetime = strawberry.field(description="When the pledge was requested.")
    row: strawberry.Private[Pledge]

    @classmethod
    def from_row(cls, row: Pledge) -> PledgeType:
        return cls(
            status=DomainPledgeStatus(row.status),
            filing_number=row.filing_number,
            registered_at=row.registered_at,
            confirmed_at=row.confirmed_at,
            released_at=row.released_at,
            deregistered_at=row.deregistered_at,
            refusal_code=row.refusal_code,
            created_at=row.created_at,
            row=row,
        )

    @strawberry.field(description="The pledged receipt, when you see it.")
    async def warehouse_receipt(self, info: Info) -> WarehouseReceiptNode | None:
        found = await info.context.loaders.warehouse_receipts.load(self.row.receipt_id)
        return None if found is None else WarehouseReceiptNode.from_row(found)
