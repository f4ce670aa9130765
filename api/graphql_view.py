"""The GraphQL endpoint. The view owns the request's session: it commits after a successful
execution and before the response is sent, and rolls back on any failure."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from cross_web import HTTPException
from graphql import ExecutionResult as GraphQLExecutionResult
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.execution import ExecutionResult, PreExecutionError

from api.context import Context, build_context
from api.state import AppState
from tenants import repository as tenancy

#: Largest multipart (file upload) request body read at all; a larger one is answered 413
#: before it is parsed. Above the document limit (10 MiB), so that an oversized document
#: still reaches its use case and is refused there with a typed code.
MAX_MULTIPART_BYTES = 32 * 1024 * 1024
# A multipart/form-data POST is a "simple" request a browser sends cross-site without a CORS
# preflight. Like Apollo Server, require a header that forces one.
PREFLIGHT_HEADERS = ("x-apollo-operation-name", "apollo-require-preflight")
CSRF_REFUSAL = (
    "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). "
    "Send a non-empty x-apollo-operation-name or apollo-require-preflight header with "
    "multipart requests."
)


class LendGraphQL(GraphQL):
    """Strawberry's ASGI view with our context and unit of work."""

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
        if scope["type"] == "http" and _is_multipart(scope):
            receive = _capped(receive, MAX_MULTIPART_BYTES)
        await super().__call__(scope, receive, send)

    async def parse_multipart(self, request: Any) -> dict[str, str]:
        # Checked before a byte of the body is read.
        if not any(request.headers.get(name, "").strip() for name in PREFLIGHT_HEADERS):
            raise HTTPException(400, CSRF_REFUSAL)
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_MULTIPART_BYTES:
            raise HTTPException(413, "Request body too large")
        result: dict[str, str] = await super().parse_multipart(request)
        return result

    async def get_context(  # type: ignore[override]  # Strawberry types the context as None
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        principal = request.scope.get("state", {}).get("principal")
        request_id = request.scope.get("state", {}).get("request_id")
        return build_context(self.state, principal, request_id)

    async def _require_active_principal(self, context: Context) -> None:
        # A disabled client, user or tenant loses access at once, not when its token expires.
        principal = context.principal
        if principal is None:
            return
        active = await tenancy.principal_active(
            context.session,
            client_id=principal.client_id,
            user_id=principal.user_id,
            tenant_id=principal.tenant_id,
        )
        if not active:
            raise HTTPException(401, "The token's client, user or tenant is disabled")

    def parse_json(self, data: str | bytes) -> Any:
        # Strawberry lets a body that is valid JSON but not an object (``5``, ``"x"``), bytes
        # that are not UTF-8 and absurdly nested arrays through to a 500; all are client errors.
        try:
            value = json.loads(data)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
            raise HTTPException(400, "Unable to parse request body as JSON") from exc
        if not isinstance(value, dict | list):
            raise HTTPException(400, "The request body must be a JSON object")
        return value

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        context: Context = kwargs["context"]
        sub_response = kwargs["sub_response"]
        try:
            await self._require_active_principal(context)
            result = await super().execute_operation(*args, **kwargs)
            if _refused_before_execution(result):
                # The document was refused before execution (syntax, validation, limits,
                # variables): a client error, per GraphQL over HTTP, and nothing to keep.
                sub_response.status_code = 400
                await context.session.rollback()
                return result
            await context.session.commit()
            return result
        except BaseException:
            await context.session.rollback()
            raise
        finally:
            await context.session.close()


def _refused_before_execution(result: object) -> bool:
    """Whether no field ran: Strawberry's pre-execution refusal, or graphql-core's refusal of
    the variables (``data`` null and no error tied to a field). A null ``data`` after fields
    ran - say a refused second mutation - is not one: the earlier fields' work stands. (Note
    that Strawberry's results are not graphql-core's ``ExecutionResult``.)"""
    if isinstance(result, PreExecutionError):
        return True
    if not isinstance(result, GraphQLExecutionResult | ExecutionResult):
        return False
    return (
        result.data is None
        and bool(result.errors)
        and all(e.path is None for e in result.errors or [])
    )


def _is_multipart(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return bytes(value).lower().startswith(b"multipart/")
    return False


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
                raise HTTPException(413, "Request body too large")
        return message

    return capped
