"""The GraphQL endpoint. The view owns the request's session: it commits after a successful
execution and before the response is sent, and rolls back on any failure."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from graphql import ExecutionResult
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from api.context import Context, build_context
from api.state import AppState


class LendGraphQL(GraphQL):  # type: ignore[type-arg]
    """Strawberry's ASGI view with our context and unit of work."""

    def __init__(self, schema: Any, state: AppState) -> None:
        super().__init__(
            schema,
            graphql_ide=None,  # GraphiQL would load assets from a CDN
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
        )
        self.state = state

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None = None
    ) -> Context:
        principal = request.scope.get("state", {}).get("principal")
        request_id = request.scope.get("state", {}).get("request_id")
        return build_context(self.state, principal, request_id)

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        context: Context = kwargs["context"]
        sub_response = kwargs["sub_response"]
        try:
            result = await super().execute_operation(*args, **kwargs)
            if isinstance(result, ExecutionResult) and result.data is None and result.errors:
                # The document was refused before execution (syntax, validation, limits):
                # a client error, per GraphQL over HTTP.
                sub_response.status_code = 400
            await context.session.commit()
            return result
        except BaseException:
            await context.session.rollback()
            raise
        finally:
            await context.session.close()
