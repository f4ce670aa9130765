"""Limits on what one GraphQL document may ask for."""

from __future__ import annotations

from collections.abc import Callable

from graphql import GraphQLError
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from api.cost import QueryCost
from lendgraph.settings import Settings


def _should_mask(error: GraphQLError) -> bool:
    # Refusals we raise on purpose (permissions, validation, limits) carry no original error or
    # a GraphQLError; anything else is an unexpected failure and is masked.
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """Depth, alias and token limits, the query cost, parse/validation caches and error
    masking; each built fresh per operation."""
    return [
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
        lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
        lambda: QueryCost(max_cost=settings.max_query_cost),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        lambda: MaskErrors(should_mask_error=_should_mask, error_message="Unexpected error."),
    ]
