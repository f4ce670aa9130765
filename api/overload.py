"""Overload is answered, not queued.

Two bounds keep an API process's latency bounded when more work arrives than it can do:

- :class:`InFlightLimit` (ASGI middleware): at most ``LENDGRAPH_MAX_REQUESTS_IN_FLIGHT`` HTTP
  requests are served at once by one process; the next one is answered ``503`` with
  ``Retry-After`` at once, before its body is read or its token checked. Health and metrics
  stay outside the bound, so that probes and scrapes still see the process.
- The database pool's wait (``LENDGRAPH_DB_POOL_TIMEOUT_SECONDS``, short): a request that gets
  no connection in time is answered ``503`` too, whether the wait happened before execution
  (the active-principal check), in a resolver (an anonymous query's first read) or in an OAuth
  endpoint. The operation's unit of work is rolled back: a ``503`` means nothing was done.

Every refusal is a GraphQL error body, ``{"errors": [{"message", "extensions": {"code":
"OVERLOADED"}}]}``, as GraphQL clients read errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from api import metrics

OVERLOADED = "OVERLOADED"
#: Seconds a client is asked to wait before retrying: the pool's wait is of this order.
RETRY_AFTER_SECONDS = 1
#: Paths outside the bound: probes and scrapes must see a busy process.
UNBOUNDED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class Overloaded(GraphQLError):
    """No database connection came within the pool's timeout: the operation did not run."""

    def __init__(self, message: str = "The server is busy; retry shortly", **kwargs: Any) -> None:
        super().__init__(message, extensions={"code": OVERLOADED}, **kwargs)


def is_pool_timeout(error: BaseException | None) -> bool:
    """Whether ``error`` is the pool's refusal to wait longer for a connection."""
    return isinstance(error, PoolTimeout)


def overloaded(result: object) -> bool:
    """Whether an execution result carries an :class:`Overloaded` error (see
    :class:`OverloadGuard`)."""
    return any(isinstance(e, Overloaded) for e in getattr(result, "errors", None) or [])


def body(message: str) -> bytes:
    """The JSON GraphQL error body of a ``503``."""
    error = {"message": message, "extensions": {"code": OVERLOADED}}
    return json.dumps({"errors": [error]}).encode()


def _headers(content: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/json"),
        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
        (b"content-length", str(len(content)).encode()),
    ]


class InFlightLimit:
    """Pure ASGI middleware: serves at most ``limit`` HTTP requests at once and answers the
    others ``503`` with ``Retry-After`` immediately (WebSockets are long-lived and not
    counted; their operations still meet the pool's bound)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNBOUNDED_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            metrics.OVERLOADED.labels(reason="in_flight").inc()
            content = body("Too many requests in flight; retry shortly")
            await send({"type": "http.response.start", "status": 503, "headers": _headers(content)})
            await send({"type": "http.response.body", "body": content})
            return
        self.in_flight += 1
        metrics.IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            metrics.IN_FLIGHT.dec()


async def answer_overloaded(request: Request, exc: Exception) -> Response:
    """Starlette exception handler: a pool timeout (or :class:`Overloaded`) raised anywhere in
    a request becomes ``503`` with ``Retry-After``."""
    metrics.OVERLOADED.labels(reason="db_pool").inc()
    content = body("No database connection is free; retry shortly")
    return Response(
        content,
        status_code=503,
        media_type="application/json",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


#: For ``Starlette(exception_handlers=...)``.
EXCEPTION_HANDLERS: dict[Any, Any] = {PoolTimeout: answer_overloaded, Overloaded: answer_overloaded}


class OverloadGuard(SchemaExtension):
    """Turns a pool timeout that a resolver met into an :class:`Overloaded` error, before
    ``MaskErrors`` would hide it as an unexpected one (list it after ``MaskErrors``: its exit
    runs first). :func:`api.context.execute_in_unit_of_work` then rolls the operation back and
    raises, and the transport answers ``503``."""

    def on_operation(self) -> Iterator[None]:
        """Rewrite the result's pool-timeout errors."""
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if errors and any(is_pool_timeout(e.original_error) for e in errors):
            result.errors = [  # type: ignore[union-attr]
                Overloaded(path=e.path) if is_pool_timeout(e.original_error) else e for e in errors
            ]
