"""The GraphQL schema: every context's queries, mutations and subscriptions merged into one."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry import relay
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import Info

from api.calendars.mutations import CalendarMutations
from api.calendars.queries import CalendarQueries
from api.collateral.mutations import CollateralMutations
from api.collateral.queries import CollateralQueries
from api.collateral.types import DocumentNode, PurchaseOrderNode, WarehouseReceiptNode
from api.contracts.mutations import ContractMutations
from api.deals.mutations import DealMutations
from api.deals.queries import DealQueries
from api.deals.subscriptions import DealSubscriptions
from api.deals.types import DealNode
from api.error_logging import LoggedSchema
from api.idempotency import IdempotentAnswers
from api.ledger.queries import LedgerQueries
from api.limits import extensions
from api.loans.mutations import LoanMutations
from api.loans.queries import LoanQueries
from api.loans.types import LoanNode
from api.metrics import OperationMetrics
from api.overload import OverloadGuard
from api.parties.mutations import PartyMutations
from api.parties.types import OrganizationNode, PersonNode
from api.permissions import Authenticated
from api.platform.queries import PlatformQueries
from api.pledges.mutations import PledgeMutations
from api.prices.mutations import PriceMutations
from api.prices.queries import PriceQueries
from api.products.mutations import ProductMutations
from api.products.queries import ProductQueries
from api.products.types import ProductNode
from api.reviews.mutations import ReviewMutations
from api.reviews.queries import ReviewQueries
from api.scalars import SCALAR_MAP
from api.tenancy.mutations import TenancyMutations
from api.tenancy.types import OAuthClientNode, TenantNode, UserNode
from api.viewer.queries import ViewerQueries
from lendgraph.settings import Settings

MAX_NODES = 100
# Every Node type, by its GraphQL name; each resolves IDs with its own permission checks.
NODE_TYPES: dict[str, Any] = {
    "Tenant": TenantNode,
    "User": UserNode,
    "OAuthClient": OAuthClientNode,
    "Organization": OrganizationNode,
    "Person": PersonNode,
    "Product": ProductNode,
    "PurchaseOrder": PurchaseOrderNode,
    "WarehouseReceipt": WarehouseReceiptNode,
    "Document": DocumentNode,
    "Deal": DealNode,
    "Loan": LoanNode,
}


async def _resolve(info: Info, ids: list[relay.GlobalID]) -> list[relay.Node | None]:
    # Grouped by type so each type loads its objects in one batch, with its own checks.
    out: list[relay.Node | None] = [None] * len(ids)
    by_type: dict[str, list[int]] = {}
    for position, gid in enumerate(ids):
        if gid.type_name in NODE_TYPES:
            by_type.setdefault(gid.type_name, []).append(position)
    for type_name, positions in by_type.items():
        found = await NODE_TYPES[type_name].load_by_ids(
            info=info, node_ids=[ids[p].node_id for p in positions]
        )
        for position, node in zip(positions, found, strict=True):
            out[position] = node
    return out


@strawberry.type
class NodeQueries:
    @strawberry.field(
        description="Any object by its global ID; null when it does not exist or is not "
        "yours to see.",
        permission_classes=[Authenticated],
    )
    async def node(
        self,
        info: Info,
        id: Annotated[relay.GlobalID, strawberry.argument(description="A global ID.")],
    ) -> relay.Node | None:
        return (await _resolve(info, [id]))[0]

    @strawberry.field(
        description="Objects by global IDs, in order; null where not visible.",
        permission_classes=[Authenticated],
    )
    async def nodes(
        self,
        info: Info,
        ids: Annotated[
            list[relay.GlobalID],
            strawberry.argument(
                description="Global IDs, at most 100. Query cost: 1 per ID plus what each selects."
            ),
        ],
    ) -> list[relay.Node | None]:
        if len(ids) > MAX_NODES:
            raise GraphQLError(f"at most {MAX_NODES} IDs")
        return await _resolve(info, ids)


Query = merge_types(
    "Query",
    (
        ViewerQueries,
        NodeQueries,
        ProductQueries,
        CollateralQueries,
        DealQueries,
        CalendarQueries,
        PlatformQueries,
        LedgerQueries,
        LoanQueries,
        PriceQueries,
        ReviewQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        TenancyMutations,
        PartyMutations,
        ProductMutations,
        CollateralMutations,
        DealMutations,
        CalendarMutations,
        PriceMutations,
        ReviewMutations,
        ContractMutations,
        LoanMutations,
        PledgeMutations,
    ),
)

# Served over the WebSocket only (HTTP refuses subscriptions).
Subscription = merge_types("Subscription", (DealSubscriptions,))


def build_schema(settings: Settings) -> strawberry.Schema:
    """The schema with this process's limits."""
    return LoggedSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=list(NODE_TYPES.values()),
        # IdempotentAnswers before the limits, so that it settles idempotent answers after the
        # others (MaskErrors) are done. OperationMetrics first: it sees every operation, also
        # one a limit refuses before the others start. OverloadGuard last: its exit runs
        # before MaskErrors'.
        extensions=[OperationMetrics, IdempotentAnswers, *extensions(settings), OverloadGuard],
        config=StrawberryConfig(batching_config=None, scalar_map=SCALAR_MAP),
    )
