"""OAuth 2.0 HTTP endpoints: token, revocation, introspection, JWKS and server metadata."""

from __future__ import annotations

import json
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.state import AppState
from domain.kernel.scopes import Scope
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from tenants.oauth import OAuthServer, Store, TokenGenerator, make_request

_FORM = "application/x-www-form-urlencoded"


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.lendgraph
    return state


async def _run(request: Request, endpoint: str | None) -> Response:
    state = _state(request)
    if request.headers.get("content-type", "").split(";")[0].strip() != _FORM:
        return JSONResponse(
            {"error": "invalid_request", "error_description": f"use {_FORM}"}, status_code=400
        )
    form = {k: str(v) for k, v in (await request.form()).items()}
    settings = state.settings
    uri = settings.issuer.rstrip("/") + request.url.path
    oauth_request = make_request(request.method, uri, form, request.headers)
    # Looking clients and users up by credentials is a platform-level read.
    session = open_session(state.sessions, PLATFORM_SCOPE)
    try:
        server = OAuthServer(
            Store(session, settings.refresh_token_ttl_seconds),
            TokenGenerator(
                state.keys, settings.issuer, settings.audience, settings.access_token_ttl_seconds
            ),
            state.validator,
            password_grant=settings.password_grant_enabled,
        )
        if endpoint is None:
            status, body, headers = await anyio.to_thread.run_sync(
                server.create_token_response, oauth_request
            )
        else:
            status, body, headers = await anyio.to_thread.run_sync(
                server.create_endpoint_response, endpoint, oauth_request
            )
        # An error answer keeps nothing it wrote (e.g. the new refresh token of a rotation
        # that lost a race, or a refresh token spent by a request refused later on).
        if status < 400:
            await session.commit()
        else:
            await session.rollback()
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()
    payload = body if isinstance(body, str) else json.dumps(body)
    return Response(
        payload, status_code=status, headers=dict(headers), media_type="application/json"
    )


async def token(request: Request) -> Response:
    """RFC 6749 token endpoint."""
    return await _run(request, None)


async def revoke(request: Request) -> Response:
    """RFC 7009 revocation endpoint."""
    return await _run(request, "revocation")


async def introspect(request: Request) -> Response:
    """RFC 7662 introspection endpoint."""
    return await _run(request, "introspection")


async def jwks(request: Request) -> Response:
    """Every published signing key (public parts)."""
    return JSONResponse(
        _state(request).keys.public_jwks(), headers={"cache-control": "public, max-age=300"}
    )


async def metadata(request: Request) -> Response:
    """RFC 8414 authorization server metadata."""
    settings = _state(request).settings
    base = settings.issuer.rstrip("/")
    grants = ["client_credentials", "refresh_token"]
    if settings.password_grant_enabled:
        grants.append("password")
    body: dict[str, Any] = {
        "issuer": settings.issuer,
        "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "introspection_endpoint": f"{base}/oauth/introspect",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "grant_types_supported": grants,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": sorted(s.value for s in Scope),
        "response_types_supported": [],
    }
    return JSONResponse(body)


routes = [
    Route("/oauth/token", token, methods=["POST"]),
    Route("/oauth/revoke", revoke, methods=["POST"]),
    Route("/oauth/introspect", introspect, methods=["POST"]),
    Route("/.well-known/jwks.json", jwks, methods=["GET"]),
    Route("/.well-known/oauth-authorization-server", metadata, methods=["GET"]),
]
