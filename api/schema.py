"""The GraphQL schema: every context's queries and mutations merged into one."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from api.limits import extensions
from api.parties.mutations import PartyMutations
from api.parties.types import OrganizationNode, PersonNode
from api.tenancy.mutations import TenancyMutations
from api.tenancy.types import OAuthClientNode, TenantNode, UserNode
from api.viewer.queries import ViewerQueries
from lendgraph.settings import Settings


@strawberry.type
class NodeQueries:
    node: relay.Node | None = relay.node(
        description="Any object by its global ID; null when it "
        "does not exist or is not yours to see."
    )
    nodes: list[relay.Node | None] = relay.node(description="Objects by global IDs, in order.")


Query = merge_types("Query", (ViewerQueries, NodeQueries))
Mutation = merge_types("Mutation", (TenancyMutations, PartyMutations))


def build_schema(settings: Settings) -> strawberry.Schema:
    """The schema with this process's limits."""
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[TenantNode, UserNode, OAuthClientNode, OrganizationNode, PersonNode],
        extensions=extensions(settings),
        config=StrawberryConfig(batching_config=None),
    )
