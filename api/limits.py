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

from api.error_logging import INTERNAL, ErrorCodes
from api.ids import RelayIDLiterals, StrictRelayIDs
from lendgraph.settings import Settings


def _should_mask(error: GraphQLError) -> bool:
    # Refusals we raise on purpose (permissions, validation, limits) carry no original error or
    # a GraphQLError; anything else is an unexpected failure and is masked.
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class CodedMaskErrors(MaskErrors):
    """``MaskErrors`` whose masked copy keeps the code ``INTERNAL_SERVER_ERROR``: the message
    and the cause stay hidden, the kind of failure does not."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": INTERNAL}
        return masked


def extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """Depth, alias and token limits, parse/validation caches, error masking and an
    ``extensions.code`` on every error; each built fresh per operation."""
    return [
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
        lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
        lambda: AddValidationRules([RelayIDLiterals]),
        StrictRelayIDs,
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        lambda: CodedMaskErrors(should_mask_error=_should_mask, error_message="Unexpected error."),
        # After MaskErrors, so that its exit runs first and sees the unmasked failures.
        ErrorCodes,
    ]
