"""GraphQL errors in the logs, as an operator reads them.

Strawberry logs every error of an operation through ``strawberry.execution`` at ERROR with a
traceback, so a typo in a client's query looks like an outage. :class:`LoggedSchema` replaces
that with one structured line per error, with its code and the request ID:

- client errors (syntax, validation, limits, bad input) at INFO, permission refusals
  (``UNAUTHENTICATED``, ``FORBIDDEN``) at WARNING, neither with a traceback;
- unexpected failures (an exception that is not a GraphQL error: the ones ``MaskErrors``
  hides from the client) at ERROR with the traceback.

Strawberry calls ``process_errors`` once per error, before extensions such as ``MaskErrors``
rewrite the response, so the original exception is still at hand here."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import strawberry
import structlog
from graphql import GraphQLError, GraphQLSyntaxError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.execution import PreExecutionError

from api.metrics import count_graphql_error

log = structlog.get_logger("lendgraph.graphql")

PERMISSION_CODES = frozenset({"UNAUTHENTICATED", "FORBIDDEN"})
# Codes for errors that carry none, in the words of common GraphQL servers (Apollo).
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"
INTERNAL = "INTERNAL_SERVER_ERROR"
OVERLOADED = "OVERLOADED"
_VARIABLE_REFUSED = re.compile(r"^Variable '\$\w+' (?:has|got) invalid (?:default )?value")
_REFUSED_VALUE = re.compile(r"^(.*? has invalid value(?: at [\w.\[\]]+)?):")


def is_unexpected(error: GraphQLError) -> bool:
    """Whether ``error`` wraps an exception nobody raised on purpose. Refusals (permissions,
    validation, limits) carry no original error or a GraphQL error; the rule is the one the
    error masking applies, so what is logged as a failure is what the client sees masked."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def error_code(error: GraphQLError, execution_context: ExecutionContext | None) -> str:
    """The error's ``extensions.code``, or one derived from where it arose (while Strawberry
    processes errors: a result is stored only once execution ran)."""
    # Strawberry stores the result only once execution ran: before that, the document was
    # refused by validation (the depth and alias limits are validation rules).
    pre_execution = execution_context is not None and execution_context.result is None
    return code_of(error, pre_execution=pre_execution)


def code_of(error: GraphQLError, *, pre_execution: bool) -> str:
    """The error's ``extensions.code``, or one derived from where it arose: a syntax error,
    a document refused by validation (``pre_execution``), an unexpected failure, or a refused
    input value (variables that do not fit, an out-of-range argument)."""
    code = (error.extensions or {}).get("code")
    if isinstance(code, str) and code:
        return code
    if isinstance(error.original_error, PoolTimeout):
        return OVERLOADED  # answered 503 (api.overload), not a failure of the code
    if is_unexpected(error):
        return INTERNAL
    if isinstance(error, GraphQLSyntaxError) or isinstance(
        error.original_error, GraphQLSyntaxError
    ):
        return PARSE_FAILED
    if _VARIABLE_REFUSED.match(error.message):
        return BAD_USER_INPUT  # a valid document, given variables that do not fit it
    if pre_execution:
        return VALIDATION_FAILED
    return BAD_USER_INPUT


def _safe_message(error: GraphQLError) -> str:
    # graphql-core echoes a refused value in the reason it gives ("Variable '$n' has invalid
    # value at .input.id: String cannot represent a non string value: 1101..."); the value may
    # be personal data, so keep only what was refused and where. (graphql-core before 3.3
    # said "got invalid value 'x' at 'input.id'; ...".)
    message = error.message
    refused = _REFUSED_VALUE.match(message)
    if refused:
        return refused.group(1)
    if message.startswith("Variable '$") and " got invalid value " in message:
        return message.partition(" got invalid value ")[0] + " got an invalid value"
    return message


def _request_id(execution_context: ExecutionContext | None) -> str | None:
    bound = structlog.contextvars.get_contextvars().get("request_id")
    if bound:
        return str(bound)
    context = getattr(execution_context, "context", None)
    actor = getattr(context, "actor", None)
    request_id = getattr(actor, "request_id", None)
    return str(request_id) if request_id else None


def _operation(execution_context: ExecutionContext | None) -> str | None:
    if execution_context is None:
        return None
    try:
        return execution_context.operation_name
    except Exception:  # an unparsable document has no operation to name
        return None


def log_error(error: GraphQLError, execution_context: ExecutionContext | None = None) -> None:
    """One log line for one GraphQL error."""
    code = error_code(error, execution_context)
    fields: dict[str, Any] = {
        "code": code,
        "operation": _operation(execution_context),
        "path": ".".join(str(p) for p in error.path) if error.path else None,
        "request_id": _request_id(execution_context),
    }
    count_graphql_error(code)
    original = error.original_error
    if original is not None and is_unexpected(error) and code != OVERLOADED:
        log.error(
            "graphql_error",
            error=type(original).__name__,
            message=str(original),
            exc_info=(type(original), original, original.__traceback__),
            **fields,
        )
        return
    level = logging.WARNING if code in PERMISSION_CODES or code == OVERLOADED else logging.INFO
    log.log(level, "graphql_error", message=_safe_message(error), **fields)


class ErrorCodes(SchemaExtension):
    """Gives every error of a result an ``extensions.code``, the one it is logged with
    (:func:`code_of`): clients branch on the code, never on the message. It must come after
    ``MaskErrors`` in the schema's extensions, so that it still sees the unexpected failures
    (whose masked copies keep the code ``INTERNAL_SERVER_ERROR``)."""

    def on_operation(self) -> Iterator[None]:
        yield
        add_codes(self.execution_context.result)


def add_codes(result: object) -> None:
    """An ``extensions.code`` on every error of ``result`` that has none. Also called by the
    transport on the result, for the refusals Strawberry makes after the extensions have
    exited (a document that does not parse)."""
    errors = getattr(result, "errors", None)
    if not errors:
        return
    pre_execution = isinstance(result, PreExecutionError)
    for error in errors:
        if not (error.extensions or {}).get("code"):
            code = code_of(error, pre_execution=pre_execution)
            error.extensions = {**(error.extensions or {}), "code": code}


class LoggedSchema(strawberry.Schema):
    """The Strawberry schema with :func:`log_error` in place of Strawberry's error logging."""

    def process_errors(
        self,
        errors: list[GraphQLError],
        execution_context: ExecutionContext | None = None,
    ) -> None:
        """Log each error once, at the level its kind deserves."""
        for error in errors:
            log_error(error, execution_context)
