"""GraphiQL on ``GET /graphql`` for a browser (``Accept: text/html``), with its JavaScript and
CSS served from this package (``static/``, see ``VENDORED.md``): no CDN, so the page works
with no internet. On by default in dev and test, off by default in production
(``LENDGRAPH_GRAPHIQL``). Any other ``GET /graphql`` (a client that does not ask for HTML, or
GraphiQL off) is a JSON GraphQL error: queries are served over POST only."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from lendgraph.settings import Settings

STATIC_PATH = "/graphiql/static"
# Scripts and styles from this origin only; GraphiQL sets inline styles and the editor fonts
# are data: URLs in its CSS.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


@lru_cache(maxsize=1)
def page() -> str:
    """The GraphiQL page."""
    template = resources.files(__package__).joinpath("index.html").read_text("utf-8")
    return template.replace("{static}", STATIC_PATH).replace("{endpoint}", "/graphql")


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "").lower()


def _not_served(message: str) -> Response:
    error = {"message": message, "extensions": {"code": "METHOD_NOT_ALLOWED"}}
    return JSONResponse({"errors": [error]}, status_code=405, headers={"Allow": "POST"})


def routes(settings: Settings) -> list[BaseRoute]:
    """``GET /graphql`` and, when GraphiQL is on, its assets; list them before the POST route."""
    enabled = settings.graphiql_enabled

    async def get_graphql(request: Request) -> Response:
        if _wants_html(request):
            if enabled:
                return HTMLResponse(
                    page(),
                    headers={
                        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                        "X-Content-Type-Options": "nosniff",
                        "Cache-Control": "no-store",
                    },
                )
            return _not_served("GraphiQL is off here (LENDGRAPH_GRAPHIQL); send queries with POST")
        return _not_served("Send GraphQL queries with POST; GET serves GraphiQL to browsers only")

    found: list[BaseRoute] = [Route("/graphql", get_graphql, methods=["GET"])]
    if enabled:
        found.append(
            Mount(STATIC_PATH, app=StaticFiles(packages=[(__package__, "static")]), name="graphiql")
        )
    return found
