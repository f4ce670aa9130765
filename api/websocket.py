"""GraphQL over WebSocket (``graphql-transport-ws`` only) on the same unit of work as HTTP.

Strawberry's handler builds one context for the whole socket. Here the socket is only a
channel for one authenticated principal:

- ``connection_init`` carries the bearer token (``{"Authorization": "Bearer <jwt>"}``,
  ``{"authorization": ...}`` or ``{"token": "<jwt>"}``; without one, the token already verified
  on the upgrade request, if any). It is verified like an HTTP bearer token; a missing or
  unacceptable token closes the socket with 4401, a token whose client, user or tenant is
  disabled with 4403.
- Each query or mutation runs through :func:`api.context.execute_in_unit_of_work`, exactly as
  an HTTP request does; a principal disabled meanwhile closes the socket with 4403 (so does a
  subscription's read that finds it disabled).
- A subscription gets a context without a session: each ``info.context.db()`` use is a short
  unit of work, so no connection is held while it waits for events. A socket runs at most
  ``ws_max_subscriptions`` at once: the next subscribe is answered with an ``error`` message
  (code ``TOO_MANY_SUBSCRIPTIONS``) and the socket stays open.
- While the socket is open, the principal is re-checked every
  ``ws_principal_recheck_seconds`` on a short session of its own (4403 once disabled), and
  the socket closes at the token's ``exp`` (4401).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Any

import structlog
from graphql import GraphQLError, GraphQLSyntaxError, parse
from starlette.websockets import WebSocketDisconnect
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.utils.aio import aclosing
from strawberry.utils.operation import get_operation_type

from api.context import (
    Caller,
    Context,
    PrincipalInactive,
    execute_in_unit_of_work,
    principal_still_active,
)
from api.overload import Overloaded
from api.state import AppState
from tenants.tokens import Principal, TokenRejected

log = structlog.get_logger("lendgraph.ws")

#: Close codes (graphql-transport-ws uses 4400, 4401, 4403, 4408, 4409 and 4429).
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY_INITS = 4429
CLOSE_INTERNAL_ERROR = 1011

SOCKET_UNIT_OF_WORK_TYPES = frozenset({OperationType.QUERY, OperationType.MUTATION})
UNEXPECTED = "Unexpected error."
TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"


def bearer_token(payload: dict[str, Any]) -> str | None:
    """The access token a ``connection_init`` payload carries, or None when it carries none.

    Raises :class:`TokenRejected` for a value that is not a bearer token."""
    for key in ("Authorization", "authorization"):
        if key in payload:
            value = payload[key]
            if not isinstance(value, str):
                raise TokenRejected("expected a bearer token")
            scheme, _, token = value.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise TokenRejected("expected a bearer token")
            return token.strip()
    if "token" in payload:
        token = payload["token"]
        if not isinstance(token, str) or not token.strip():
            raise TokenRejected("expected a token")
        return token.strip()
    return None


@functools.lru_cache(maxsize=256)
def _parsed_operation_type(
    query: str, operation_name: str | None, max_tokens: int
) -> OperationType | None:
    try:
        document = parse(query, no_location=True, max_tokens=max_tokens)
        return get_operation_type(document, operation_name)
    except (GraphQLError, RuntimeError):  # RuntimeError: no such operation
        return None


def operation_type(query: object, operation_name: object, max_tokens: int) -> OperationType | None:
    """The type of the operation a document selects, or None when it cannot be told (the
    execution then refuses the document)."""
    if not isinstance(query, str) or not isinstance(operation_name, str | None):
        return None
    return _parsed_operation_type(query, operation_name, max_tokens)


class GraphQLTransportWSHandler(BaseGraphQLTransportWSHandler[Caller, Any]):
    """One socket: authenticated on ``connection_init``, watched while open, every operation
    in a unit of work of its own. ``context`` is the upgrade request's :class:`Caller`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app_state: AppState = kwargs["view"].state
        self.principal: Principal | None = None
        self.watch_task: asyncio.Task[None] | None = None
        self.closing = False
        #: The IDs of the subscriptions running on this socket.
        self.live_subscriptions: set[str] = set()

    # --- connection --------------------------------------------------------------------

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if self.connection_timed_out:
            return
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
        payload = message.get("payload")
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            await self.close(CLOSE_BAD_REQUEST, "Invalid connection init payload")
            return
        if self.connection_init_received:
            await self.close(CLOSE_TOO_MANY_INITS, "Too many initialisation requests")
            return
        self.connection_init_received = True
        try:
            principal = self.authenticate(payload)
        except TokenRejected as exc:
            log.info("websocket refused", reason=str(exc))
            await self.close(CLOSE_UNAUTHORIZED, "Unauthorized")
            return
        if not await self.still_active(principal):
            return
        self.principal = principal
        await self.send_message({"type": "connection_ack"})
        self.connection_acknowledged = True
        self.watch_task = asyncio.create_task(self.watch(principal))

    def authenticate(self, payload: dict[str, Any]) -> Principal:
        """The principal of the payload's token, or else of the upgrade request's token."""
        token = bearer_token(payload)
        if token is not None:
            return self.app_state.validator.principal(token)
        # BearerAuthMiddleware verified (or refused) an Authorization header on the upgrade.
        principal = self.context.principal
        if principal is None:
            raise TokenRejected("a bearer token is required")
        if principal.expires_at <= time.time():
            raise TokenRejected("invalid token")
        return principal

    async def still_active(self, principal: Principal) -> bool:
        """The active-principal check; closes the socket (4403, or 1011 when the check itself
        fails) and answers False when the principal may no longer use it."""
        try:
            active = await principal_still_active(self.app_state, principal)
        except Exception:
            # Fail closed: a socket whose principal cannot be checked is not kept open.
            log.exception("websocket principal check failed")
            await self.close(CLOSE_INTERNAL_ERROR, "Internal error")
            return False
        if not active:
            await self.close(CLOSE_FORBIDDEN, "Forbidden")
        return active

    async def watch(self, principal: Principal) -> None:
        """Close the socket when the token expires (4401) or its client, user or tenant is
        disabled (4403), checking every ``ws_principal_recheck_seconds``."""
        interval = self.app_state.settings.ws_principal_recheck_seconds
        while not self.closing:
            left = principal.expires_at - time.time()
            if left <= 0:
                await self.close(CLOSE_UNAUTHORIZED, "Token expired")
                return
            await asyncio.sleep(min(interval, left))
            if principal.expires_at > time.time() and not await self.still_active(principal):
                return

    async def close(self, code: int, reason: str) -> None:
        """Close the socket once. The other operations are cancelled first, so that nothing
        is sent after the close frame."""
        if self.closing:
            return
        self.closing = True
        current = asyncio.current_task()
        for operation_id, operation in list(self.operations.items()):
            if operation.task is not current:
                await self.cleanup_operation(operation_id)
        # The client may have gone, or Strawberry closed the socket itself (4400, 4408).
        with suppress(RuntimeError, WebSocketDisconnect):
            await self.websocket.close(code=code, reason=reason)

    async def shutdown(self) -> None:
        if self.watch_task:
            self.watch_task.cancel()
            with suppress(asyncio.CancelledError):
                await self.watch_task
        await super().shutdown()

    # --- operations --------------------------------------------------------------------

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.closing:
            return
        await super().handle_subscribe(message)

    def forget_id(self, id: str) -> None:
        # An operation ending after the socket was closed has already been forgotten.
        self.operations.pop(id, None)

    async def run_operation(self, operation: Operation[Caller, Any]) -> None:
        """Run one operation: a query or mutation in a unit of work, a subscription with a
        context whose every database use is a unit of work of its own."""
        try:
            kind = operation_type(
                operation.query,
                operation.operation_name,
                self.app_state.settings.max_query_tokens,
            )
            results: AsyncIterator[Any] | None
            if kind is OperationType.SUBSCRIPTION:
                if not await self.admit_subscription(operation):
                    return
                results = await self.subscribe(operation)
            else:
                results = await self.execute(operation)
            if results is None:
                return
            async with aclosing(results):
                if not await self.send_results(operation, results):
                    return
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except Exception as error:
            await self.handle_task_exception(error)
            with suppress(Exception):
                await operation.send_initial_errors([GraphQLError(UNEXPECTED)])
        finally:
            self.live_subscriptions.discard(operation.id)

    async def admit_subscription(self, operation: Operation[Caller, Any]) -> bool:
        """Count the subscription against the socket's cap; past it, answer the operation
        with an ``error`` message (the socket and its other operations go on) and say False."""
        cap = self.app_state.settings.ws_max_subscriptions
        # No await between the count and the add below: concurrent subscribes on one socket
        # cannot both take the last place.
        if len(self.live_subscriptions) >= cap:
            await operation.send_initial_errors(
                [
                    GraphQLError(
                        f"At most {cap} subscriptions run at once on one connection",
                        extensions={"code": TOO_MANY_SUBSCRIPTIONS},
                    )
                ]
            )
            return False
        self.live_subscriptions.add(operation.id)
        return True

    async def execute(self, operation: Operation[Caller, Any]) -> AsyncIterator[Any] | None:
        """A query or mutation, exactly as over HTTP; None when the socket was closed."""
        assert self.principal is not None  # subscribe before the ack closes the socket
        caller = Caller(
            principal=self.principal,
            request_id=self.context.request_id,
            client_address=self.context.client_address,
        )
        try:
            result = await execute_in_unit_of_work(
                self.schema,
                self.app_state,
                caller,
                query=operation.query,
                variables=operation.variables,
                operation_name=operation.operation_name,
                allowed_operation_types=SOCKET_UNIT_OF_WORK_TYPES,
                root_value=self.root_value,
            )
        except PrincipalInactive:
            await self.close(CLOSE_FORBIDDEN, "Forbidden")
            return None
        except Overloaded as exc:
            # Nothing ran: the operation fails, the socket stays open for a retry.
            await operation.send_initial_errors([exc])
            return None
        except CannotGetOperationTypeError as exc:
            await self.close(CLOSE_BAD_REQUEST, exc.as_http_error_reason())
            return None
        except InvalidOperationTypeError as exc:
            await self.close(CLOSE_BAD_REQUEST, exc.as_http_error_reason("WebSocket"))
            return None
        except MissingQueryError:
            await self.close(CLOSE_BAD_REQUEST, "No GraphQL query found in the request")
            return None
        return _one(result)

    async def subscribe(self, operation: Operation[Caller, Any]) -> AsyncIterator[Any]:
        """A subscription's results; its context holds no session."""
        assert self.principal is not None
        context = Context(
            state=self.app_state,
            principal=self.principal,
            actor=self.principal.actor(self.context.request_id),
        )
        results: AsyncIterator[Any] = await self.schema.subscribe(
            operation.query,
            variable_values=operation.variables,
            context_value=context,
            root_value=self.root_value,
            operation_name=operation.operation_name,
        )
        return results

    async def send_results(
        self, operation: Operation[Caller, Any], results: AsyncIterator[Any]
    ) -> bool:
        """Send each result as ``next``; False when the operation ended otherwise (an
        ``error`` message, or the socket closed)."""
        first = True
        async for result in results:
            if first and isinstance(result, PreExecutionError):
                assert result.errors
                if isinstance(result.errors[0], GraphQLSyntaxError):
                    # As Strawberry does: a document that does not parse closes the socket.
                    await self.close(CLOSE_BAD_REQUEST, result.errors[0].message)
                else:
                    await operation.send_initial_errors(result.errors)
                return False
            if not isinstance(result, ExecutionResult):
                # Incremental delivery has no graphql-transport-ws representation.
                await operation.send_initial_errors(
                    [GraphQLError("Incremental delivery is not supported over WebSocket")]
                )
                return False
            if any(_principal_inactive(e) for e in result.errors or []):
                # A subscription's read found the principal disabled: as for a query.
                await self.close(CLOSE_FORBIDDEN, "Forbidden")
                return False
            await operation.send_next(result)
            first = False
        return True


def _principal_inactive(error: GraphQLError) -> bool:
    return isinstance(error, PrincipalInactive) or isinstance(
        error.original_error, PrincipalInactive
    )


async def _one(result: ExecutionResult) -> AsyncIterator[ExecutionResult]:
    yield result
