"""Limits on what one GraphQL document may ask for."""

from __future__ import annotations

from collections.abc import Callable

from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from api.cost import QueryCost
from api.error_logging import INTERNAL, ErrorCodes
from api.ids import RelayIDLiterals, StrictRelayIDs
from lendgraph.settings import Settings


def _should_mask(error: GraphQLError) -> bool:
    # Refusals we raise on purpose (permissions, validation, limits) carry no original error or
    # a GraphQLError; anything else is an unexpected failure and is masked.
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


#: Distinct documents whose parse and validation are kept (least recently used dropped).
DOCUMENT_CACHE_SIZE = 256


class CodedMaskErrors(MaskErrors):
    """``MaskErrors`` whose masked copy keeps the code ``INTERNAL_SERVER_ERROR``: the message
    and the cause stay hidden, the kind of failure does not."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": INTERNAL}
        return masked


def extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """Depth, alias and token limits, typed IDs, the query cost, parse/validation caches,
    error masking and an ``extensions.code`` on every error; each extension built fresh per
    operation.

    The validation rules are built once, here: a validation is cached under the document and
    the rule classes, and a limiter built per operation makes a new rule class each time, so
    that the cache would never hit. A document's verdict (errors included) is then kept by
    its text, in a bounded LRU."""
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        RelayIDLiterals,
    ]
    return [
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        lambda: AddValidationRules(rules),
        StrictRelayIDs,
        lambda: QueryCost(max_cost=settings.max_query_cost),
        lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
        lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
        lambda: CodedMaskErrors(should_mask_error=_should_mask, error_message="Unexpected error."),
        # After MaskErrors, so that its exit runs first and sees the unmasked failures.
        ErrorCodes,
    ]
