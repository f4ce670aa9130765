"""The GraphQL endpoint. Each operation owns its session: it is committed after a successful
execution and before the response is sent, and rolled back on any failure. WebSockets
(``graphql-transport-ws`` only) are served by :mod:`api.websocket` on the same unit of work."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import structlog
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.execution import ExecutionResult
from strawberry.types.graphql import OperationType

from api.context import (
    Caller,
    PrincipalInactive,
    execute_in_unit_of_work,
    refused_before_execution,
)
from api.cost import retry_after
from api.state import AppState
from api.websocket import GraphQLTransportWSHandler

log = structlog.get_logger("lendgraph.graphql")

#: Largest multipart (file upload) request body read at all; a larger one is answered 413
#: before it is parsed. Above the document limit (10 MiB), so that an oversized document
#: still reaches its use case and is refused there with a typed code.
MAX_MULTIPART_BYTES = 32 * 1024 * 1024
#: Largest JSON request body: far above any document the token limit lets through (2,000
#: tokens) with its variables; a larger one is answered 413 before it is parsed.
MAX_JSON_BYTES = 1024 * 1024
#: Subscriptions are served over the WebSocket only.
HTTP_OPERATION_TYPES = frozenset({OperationType.QUERY, OperationType.MUTATION})
# A multipart/form-data POST is a "simple" request a browser sends cross-site without a CORS
# preflight. Like Apollo Server, require a header that forces one.
PREFLIGHT_HEADERS = ("x-apollo-operation-name", "apollo-require-preflight")
CSRF_REFUSAL = (
    "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). "
    "Send a non-empty x-apollo-operation-name or apollo-require-preflight header with "
    "multipart requests."
)


#: The ``extensions.code`` of a refusal before execution, by HTTP status (Apollo's words where
#: it has one).
HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


class Refused(HTTPException):
    """A request refused before any GraphQL document is executed, with the ``extensions.code``
    it is answered with (by default the status's :data:`HTTP_CODES` entry)."""

    def __init__(
        self, status_code: int, reason: str, code: str | None = None, **headers: str
    ) -> None:
        super().__init__(status_code, reason)
        self.code = code or HTTP_CODES.get(status_code, "BAD_REQUEST")
        self.headers = headers


def refusal_response(exc: HTTPException) -> Response:
    """A refusal as GraphQL over HTTP has it: a JSON body ``{"errors": [{"message",
    "extensions": {"code"}}]}`` with the refusal's 4xx status, never plain text."""
    code = exc.code if isinstance(exc, Refused) else HTTP_CODES.get(exc.status_code, "BAD_REQUEST")
    headers = exc.headers if isinstance(exc, Refused) else {}
    # A client's error: one line at INFO with its code (the request ID is bound to the line),
    # like the refusals of a document (api.error_logging).
    log.info("graphql_refused", code=code, status=exc.status_code, message=exc.reason)
    body = {"errors": [{"message": exc.reason, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


class LendGraphQL(GraphQL[Caller, Any]):
    """Strawberry's ASGI view: every query and mutation, over HTTP or WebSocket, runs in its
    own unit of work (:func:`api.context.execute_in_unit_of_work`)."""

    graphql_transport_ws_handler_class = GraphQLTransportWSHandler

    def __init__(self, schema: Any, state: AppState) -> None:
        super().__init__(
            schema,
            graphql_ide=None,  # GraphiQL would load assets from a CDN
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
            multipart_uploads_enabled=True,  # uploadDocument; CSRF-guarded below
        )
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            receive = _admitted(scope, receive)
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as exc:  # Strawberry's and ours, raised before execution
            response = refusal_response(exc)
        await response(scope, receive, send)

    async def parse_multipart(self, request: Any) -> dict[str, str]:
        # Checked before a byte of the body is read.
        if not any(request.headers.get(name, "").strip() for name in PREFLIGHT_HEADERS):
            raise Refused(400, CSRF_REFUSAL)
        result: dict[str, str] = await super().parse_multipart(request)
        return result

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Caller:
        # Not yet a resolver's context: each operation builds its own in its unit of work.
        state = request.scope.get("state", {})
        return Caller(
            principal=state.get("principal"),
            request_id=state.get("request_id"),
            client_address=request.client.host if request.client else None,
        )

    def encode_json(self, data: object) -> bytes:
        # orjson: about ten times the standard library's speed on a page of results.
        return orjson.dumps(data)

    def parse_json(self, data: str | bytes) -> Any:
        # Strawberry lets a body that is valid JSON but not an object (``5``, ``"x"``), bytes
        # that are not UTF-8 and absurdly nested arrays through to a 500; all are client errors.
        try:
            value = orjson.loads(data)
        except (ValueError, RecursionError) as exc:  # orjson.JSONDecodeError is a ValueError
            raise Refused(400, "Unable to parse request body as JSON") from exc
        if not isinstance(value, dict | list):
            raise Refused(400, "The request body must be a JSON object")
        return value

    async def execute_operation(  # noqa: PLR0917  # Strawberry's signature
        self,
        request: Request,
        request_adapter: Any,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Caller,
        root_value: Any,
        sub_response: Response,
    ) -> ExecutionResult:
        if isinstance(request_data, list):  # refused while parsing: batching is off
            raise Refused(400, "Batching is not enabled")
        method = request_adapter.method
        try:
            result = await execute_in_unit_of_work(
                self.schema,
                self.state,
                context,
                query=request_data.query,
                variables=request_data.variables,
                operation_name=request_data.operation_name,
                extensions=request_data.extensions,
                allowed_operation_types=HTTP_OPERATION_TYPES,
                root_value=root_value,
            )
        except PrincipalInactive as exc:
            raise Refused(401, exc.message) from exc
        except CannotGetOperationTypeError as exc:
            raise Refused(400, exc.as_http_error_reason(), "OPERATION_RESOLUTION_FAILURE") from exc
        except InvalidOperationTypeError as exc:
            raise Refused(400, exc.as_http_error_reason(method)) from exc
        except MissingQueryError as exc:
            raise Refused(400, "No GraphQL query found in the request") from exc
        if refused_before_execution(result):
            # The document was refused before execution (syntax, validation, limits,
            # variables): a client error, per GraphQL over HTTP.
            sub_response.status_code = 400
            if (wait := retry_after(result)) is not None:  # the query cost bucket is empty
                sub_response.status_code = 429
                sub_response.headers["Retry-After"] = str(wait)
        return result


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


def _admitted(scope: Scope, receive: Receive) -> Receive:
    """Refuses what GraphQL over HTTP refuses before reading a byte of the body - a method
    other than POST (405), a media type other than JSON or multipart (415), a declared length
    over the cap (413) - and returns ``receive`` capped at the body's limit."""
    if scope["method"] != "POST":
        raise Refused(405, "GraphQL is served over POST only", Allow="POST")
    media_type = _header(scope, b"content-type").split(";")[0].strip().lower()
    if media_type == "application/json":
        limit = MAX_JSON_BYTES
    elif media_type == "multipart/form-data":
        limit = MAX_MULTIPART_BYTES
    else:
        raise Refused(415, "Send the request as application/json (or multipart/form-data)")
    length = _header(scope, b"content-length")
    if length.isdigit() and int(length) > limit:
        raise Refused(413, "Request body too large")
    return _capped(receive, limit)


def _capped(receive: Receive, limit: int) -> Receive:
    """``receive`` that refuses (413) a body growing past ``limit`` bytes, for bodies sent
    without, or with a false, Content-Length."""
    seen = 0

    async def capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise Refused(413, "Request body too large")
        return message

    return capped
