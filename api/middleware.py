"""Pure ASGI middleware: request IDs with access logs, and bearer-token validation."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenants.tokens import AccessTokenValidator, TokenRejected

log = structlog.get_logger("lendgraph.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Takes a safe ``X-Request-ID`` or makes one, binds it to every log line of the request
    and returns it in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope["type"] == "http":
                log.info(
                    "request",
                    method=scope.get("method"),
                    path=scope.get("path"),
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )


class BearerAuthMiddleware:
    """Validates ``Authorization: Bearer`` tokens before any handler runs. A request without a
    token continues anonymous; one with a bad token is answered 401 here."""

    def __init__(self, app: ASGIApp, validator: AccessTokenValidator) -> None:
        self.app = app
        self.validator = validator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The OAuth endpoints authenticate clients themselves (HTTP Basic or form fields).
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith("/oauth/"):
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        state["principal"] = None
        header = dict(scope["headers"]).get(b"authorization")
        if header is not None:
            scheme, _, token = header.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                await _unauthorized(scope, send, "invalid_request", "expected a bearer token")
                return
            try:
                state["principal"] = self.validator.principal(token.strip())
            except TokenRejected as exc:
                await _unauthorized(scope, send, "invalid_token", str(exc))
                return
        await self.app(scope, receive, send)


async def _unauthorized(scope: Scope, send: Send, error: str, description: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 4401, "reason": "Unauthorized"})
        return
    # RFC 6750's fields, and the GraphQL errors list a GraphQL client reads.
    body = json.dumps(
        {
            "error": error,
            "error_description": description,
            "errors": [{"message": description, "extensions": {"code": "UNAUTHENTICATED"}}],
        }
    ).encode()
    challenge = f'Bearer error="{error}", error_description="{description}"'
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", challenge.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
