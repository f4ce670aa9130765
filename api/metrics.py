"""Application metrics in the Prometheus format at ``/metrics``.

- ``lendgraph_http_requests_total{route,method,status}`` and
  ``lendgraph_http_request_duration_seconds{route,method}`` (histogram): every HTTP request,
  by route (unknown paths are ``other``);
- ``lendgraph_graphql_operations_total{operation,type,outcome}`` and
  ``lendgraph_graphql_operation_duration_seconds{operation,type}`` (histogram): every GraphQL
  operation over HTTP or WebSocket, by operation name (``anonymous`` when it has none) and
  outcome (``ok``, ``error``: some field failed, ``refused``: nothing ran, ``overloaded``);
- ``lendgraph_graphql_errors_total{code}``: GraphQL errors by ``extensions.code``, counted
  where they are logged (:mod:`api.error_logging`);
- ``lendgraph_db_pool_connections_in_use`` and ``lendgraph_db_pool_connections_max``: the
  API's database pool, summed over live processes;
- ``lendgraph_http_requests_in_flight`` and ``lendgraph_overloaded_total{reason}``: the
  overload bounds (:mod:`api.overload`).

With ``PROMETHEUS_MULTIPROC_DIR`` set (``lendgraph serve --workers N`` sets it when it is not
given) every process writes its values there and a scrape of any process reports the sum of
all of them."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

#: Seconds: admitted requests should finish well within the pool's wait plus their own work.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "lendgraph_http_requests", "HTTP requests answered", ["route", "method", "status"]
)
HTTP_SECONDS = Histogram(
    "lendgraph_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["route", "method"],
    buckets=BUCKETS,
)
OPERATIONS = Counter(
    "lendgraph_graphql_operations",
    "GraphQL operations by name, type and outcome",
    ["operation", "type", "outcome"],
)
OPERATION_SECONDS = Histogram(
    "lendgraph_graphql_operation_duration_seconds",
    "Time to execute a GraphQL operation",
    ["operation", "type"],
    buckets=BUCKETS,
)
GRAPHQL_ERRORS = Counter("lendgraph_graphql_errors", "GraphQL errors by code", ["code"])
POOL_IN_USE = Gauge(
    "lendgraph_db_pool_connections_in_use",
    "Database connections checked out of the API's pool",
    multiprocess_mode="livesum",
)
POOL_MAX = Gauge(
    "lendgraph_db_pool_connections_max",
    "Most database connections the API's pool opens (pool size plus overflow)",
    multiprocess_mode="livesum",
)
IN_FLIGHT = Gauge(
    "lendgraph_http_requests_in_flight",
    "HTTP requests being served",
    multiprocess_mode="livesum",
)
OVERLOADED = Counter(
    "lendgraph_overloaded", "Requests answered 503 by the overload bounds", ["reason"]
)

# Operation names are chosen by clients: keep the label set bounded.
_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,63}$")
MAX_OPERATION_NAMES = 500
_seen_names: set[str] = set()


def operation_label(name: str | None) -> str:
    """The ``operation`` label of an operation name: the name itself, ``anonymous``,
    ``invalid`` for what is not a GraphQL name, or ``other`` once this process has seen
    :data:`MAX_OPERATION_NAMES` distinct names."""
    if not name:
        return "anonymous"
    if not _NAME.match(name):
        return "invalid"
    if name not in _seen_names:
        if len(_seen_names) >= MAX_OPERATION_NAMES:
            return "other"
        _seen_names.add(name)
    return name


def count_graphql_error(code: str) -> None:
    """Count one GraphQL error of ``code``."""
    GRAPHQL_ERRORS.labels(code=code).inc()


def instrument_pool(engine: AsyncEngine, pool_size: int, max_overflow: int) -> None:
    """Keep the pool gauges of ``engine`` current (checkout and checkin events)."""
    POOL_MAX.set(pool_size + max_overflow)
    target = engine.sync_engine

    def checked_out(*_: Any) -> None:
        POOL_IN_USE.inc()

    def checked_in(*_: Any) -> None:
        POOL_IN_USE.dec()

    event.listen(target, "checkout", checked_out)
    event.listen(target, "checkin", checked_in)


class HttpMetrics:
    """Pure ASGI middleware: counts and times every HTTP request by route and status."""

    def __init__(self, app: ASGIApp, routes: Iterable[str], prefixes: Iterable[str] = ()) -> None:
        self.app = app
        self.routes = frozenset(routes)
        self.prefixes = tuple(prefixes)

    def route(self, path: str) -> str:
        """The ``route`` label of a path: a known route, a known prefix, or ``other``."""
        if path in self.routes:
            return path
        for prefix in self.prefixes:
            if path.startswith(prefix):
                return prefix
        return "other"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            route, method = self.route(scope["path"]), scope.get("method", "")
            HTTP_REQUESTS.labels(route=route, method=method, status=str(status)).inc()
            HTTP_SECONDS.labels(route=route, method=method).observe(time.perf_counter() - started)


def _outcome(execution_context: Any) -> str:
    from api.context import refused_before_execution
    from api.overload import overloaded

    result = execution_context.result
    if result is None:  # refused by an extension (a limit, a syntax error) before execution
        return "refused"
    if overloaded(result):
        return "overloaded"
    if refused_before_execution(result):
        return "refused"
    return "error" if getattr(result, "errors", None) else "ok"


class OperationMetrics(SchemaExtension):
    """Counts and times each GraphQL operation by name, type and outcome (list it first, so
    that it also sees operations that another extension refuses on entry)."""

    def on_operation(self) -> Iterator[None]:
        """Time the operation; count its outcome."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self._record(started)

    def _record(self, started: float) -> None:
        context = self.execution_context
        try:
            name = context.operation_name
            kind = context.operation_type.value
        except Exception:  # an unparsable document has neither
            name, kind = None, "unknown"
        label = operation_label(name)
        OPERATIONS.labels(operation=label, type=kind, outcome=_outcome(context)).inc()
        OPERATION_SECONDS.labels(operation=label, type=kind).observe(time.perf_counter() - started)


def process_exiting() -> None:
    """In multiprocess mode, drop this process's live gauges (pool, requests in flight), so
    that a stopped or replaced worker no longer adds to the sums; its counters stay."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def registry() -> CollectorRegistry:
    """What a scrape reports: every process's values in multiprocess mode, else this one's."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected)  # type: ignore[no-untyped-call]
        return collected
    return DEFAULT_REGISTRY


async def endpoint(request: Request) -> Response:
    """Metrics in the Prometheus text format."""
    return Response(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)
