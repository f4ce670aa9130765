"""GraphQL errors are logged once each, at a level that fits their kind: client errors at INFO,
permission refusals at WARNING, both without a traceback; unexpected failures at ERROR with
one. Strawberry's own error logger stays silent. (tests/e2e/test_cli.py checks the same
through a running ``lendgraph serve``.)"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.permission import BasePermission
from structlog.testing import capture_logs

from api.error_logging import LoggedSchema


class Refused(BasePermission):
    message = "Requires the deals:read scope"
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Query:
    @strawberry.field
    def ok(self) -> int:
        return 1

    @strawberry.field(permission_classes=[Refused])
    def secret(self) -> int:
        return 2

    @strawberry.field
    def boom(self) -> int:
        raise RuntimeError("the disk is on fire")

    @strawberry.field
    def picky(self, n: int) -> int:
        raise GraphQLError("n must be even", extensions={"code": "BAD_USER_INPUT"})


def _schema() -> LoggedSchema:
    def mask(error: GraphQLError) -> bool:
        return error.original_error is not None and not isinstance(
            error.original_error, GraphQLError
        )

    return LoggedSchema(
        query=Query,
        extensions=[lambda: MaskErrors(should_mask_error=mask, error_message="Unexpected error.")],
    )


async def _logged(
    caplog: pytest.LogCaptureFixture, query: str, variables: dict[str, Any] | None = None
) -> tuple[Any, list[dict[str, Any]]]:
    with caplog.at_level(logging.DEBUG, logger="strawberry.execution"), capture_logs() as logs:
        result = await _schema().execute(query, variable_values=variables)
    assert not [r for r in caplog.records if r.name == "strawberry.execution"]
    return result, [entry for entry in logs if entry["event"] == "graphql_error"]


async def test_syntax_error_is_info_without_traceback(caplog: pytest.LogCaptureFixture) -> None:
    result, logs = await _logged(caplog, "{ ok ")
    assert result.errors
    assert len(logs) == 1
    assert logs[0]["log_level"] == "info"
    assert logs[0]["code"] == "GRAPHQL_PARSE_FAILED"
    assert "exc_info" not in logs[0]


async def test_validation_error_is_info(caplog: pytest.LogCaptureFixture) -> None:
    _, logs = await _logged(caplog, "{ nope }")
    assert [(e["log_level"], e["code"]) for e in logs] == [("info", "GRAPHQL_VALIDATION_FAILED")]


async def test_permission_refusal_is_warning_with_its_code(
    caplog: pytest.LogCaptureFixture,
) -> None:
    result, logs = await _logged(caplog, "query Peek { ok secret }")
    assert result.errors[0].message == "Requires the deals:read scope"
    assert len(logs) == 1
    assert logs[0]["log_level"] == "warning"
    assert logs[0]["code"] == "FORBIDDEN"
    assert logs[0]["operation"] == "Peek"
    assert logs[0]["path"] == "secret"
    assert "exc_info" not in logs[0]


async def test_refused_variable_is_logged_without_its_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, logs = await _logged(
        caplog, "query ($n: Int!) { picky(n: $n) }", {"n": "110101199003077777"}
    )
    assert len(logs) == 1
    assert logs[0]["log_level"] == "info"
    assert logs[0]["code"] == "BAD_USER_INPUT"
    assert "110101199003077777" not in logs[0]["message"]
    assert logs[0]["message"] == "Variable '$n' has invalid value"


async def test_unexpected_failure_is_error_with_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    result, logs = await _logged(caplog, "{ ok boom }")
    # The client sees the masked message; the log keeps the original.
    assert result.errors[0].message == "Unexpected error."
    assert len(logs) == 1
    entry = logs[0]
    assert entry["log_level"] == "error"
    assert entry["code"] == "INTERNAL_SERVER_ERROR"
    assert entry["error"] == "RuntimeError"
    assert entry["message"] == "the disk is on fire"
    exc_type, exc, tb = entry["exc_info"]
    assert exc_type is RuntimeError
    assert str(exc) == "the disk is on fire"
    assert tb is not None
