"""The Starlette application: GraphQL, OAuth, provider callbacks, health and metrics behind
request-ID and bearer middleware."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import strawberry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute

from api import graphiql, health, metrics, oauth, overload, webhooks
from api.cost import MemoryBuckets
from api.graphql_view import LendGraphQL
from api.idempotency import ReplayedHeader
from api.middleware import BearerAuthMiddleware, RequestIdMiddleware
from api.schema import build_schema
from api.state import AppState
from domain.contracts import signing
from domain.events.listener import EventListener
from domain.persistence.engine import create_engine, session_factory
from integrations.jobs import job_queue
from integrations.storage import document_storage
from lendgraph import runtime
from lendgraph.settings import Settings
from tenants.keys import SigningKeys
from tenants.tokens import AccessTokenValidator


def events_dsn(settings: Settings) -> str:
    """The libpq URL the process's event listener connects to: the application's own."""
    url = runtime.app_url(settings).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def build_state(settings: Settings, keys: SigningKeys | None = None) -> AppState:
    """Process-wide resources. No connection is opened until the first request."""
    engine = create_engine(
        runtime.app_url(settings),
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout_seconds,
    )
    # create_engine lets as many connections overflow as the pool holds.
    metrics.instrument_pool(engine, settings.db_pool_size, settings.db_pool_size)
    keys = keys or runtime.signing_keys(settings)
    return AppState(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        keys=keys,
        validator=AccessTokenValidator(keys, settings.issuer, settings.audience),
        cipher=runtime.personal_data_cipher(settings),
        storage=document_storage(settings.data_dir),
        buckets=MemoryBuckets(settings.cost_bucket_capacity, settings.cost_restore_rate),
        jobs=job_queue(settings.broker_url),
    )


def create_app(
    settings: Settings, *, state: AppState | None = None, schema: strawberry.Schema | None = None
) -> Starlette:
    """The ASGI application for ``settings``; ``schema`` replaces the built one (tests that
    need types production does not have)."""
    if settings.environment != "production" and settings.issuer.startswith("http://"):
        # Authlib refuses plain-HTTP endpoints unless told this is a local deployment.
        os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    app_state = state or build_state(settings)
    graphql = LendGraphQL(schema or build_schema(settings), app_state)
    # The e-signature service's completion callback keeps the signed document in this
    # process's document store.
    signing.signed_documents.store = app_state.storage

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # What start-up built (the schema, the models, the settings) lives as long as the
        # process: kept out of the collector's generations, a full collection scans what
        # requests allocate (a few ms) rather than the whole heap (about 140 ms, a p99 stall).
        gc.collect()
        gc.freeze()
        # One LISTEN connection per process, as the application's role: subscriptions wait on
        # it and re-read what they show under their own scope.
        listener = EventListener(events_dsn(settings))
        await listener.start()
        app_state.events = listener
        try:
            yield
        finally:
            app_state.events = None
            await listener.close()
            await app_state.engine.dispose()
            metrics.process_exiting()

    routes = [
        *health.routes,
        *oauth.routes,
        # Provider callbacks: signed, not bearer-authenticated (see api/webhooks.py).
        *webhooks.routes(settings),
        Route("/metrics", metrics.endpoint, methods=["GET"]),
        *graphiql.routes(settings),
        # Every other method reaches the view, which answers all but POST with a GraphQL error.
        Route("/graphql", graphql),
        WebSocketRoute("/graphql", graphql),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(
                metrics.HttpMetrics,
                routes={getattr(r, "path", "") for r in routes},
                prefixes=[graphiql.STATIC_PATH],
            ),
            # Before the token is checked or the body read: a refusal costs next to nothing.
            Middleware(overload.InFlightLimit, limit=settings.requests_in_flight_limit),
            Middleware(BearerAuthMiddleware, validator=app_state.validator),
            Middleware(ReplayedHeader),
        ],
        exception_handlers=overload.EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.lendgraph = app_state
    return app
