"""A sandbox commodity price feed: a real HTTP service speaking the quote protocol
(``integrations/README.md``), for tests and ``lendgraph dev``.

The commodity code chooses the answer: a known code (:data:`PRICES`) is quoted at its fixed
price; ``<CODE>-STALE`` is quoted as of ten days ago; ``<CODE>-TIMEOUT``, ``-TRICKLE``,
``-UNAVAILABLE`` (503) and ``-MALFORMED`` (a signed quote without a price) fail as their names
say; an unknown code is refused (404 ``UNKNOWN_COMMODITY``), and a currency other than CNY
(422 ``UNSUPPORTED_CURRENCY``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

from integrations.provider import TRANSPORT_FAILURES, Call, Reply, SandboxProvider

__all__ = ["PRICES", "STALE_DAYS", "create_app"]

#: Code: (price of one unit in CNY, unit, market).
PRICES: dict[str, tuple[str, str, str]] = {
    "CU": ("71230.00", "t", "SANDBOX-SHFE"),  # copper cathode
    "AL": ("19420.00", "t", "SANDBOX-SHFE"),  # primary aluminium
    "RB": ("3580.00", "t", "SANDBOX-SHFE"),  # rebar
    "A": ("4380.00", "t", "SANDBOX-DCE"),  # soybean no. 1
    "C": ("2310.00", "t", "SANDBOX-DCE"),  # yellow corn
    "CF": ("14650.00", "t", "SANDBOX-CZCE"),  # cotton
}
STALE_DAYS = 10
BEHAVIOURS = ("STALE", "TIMEOUT", "TRICKLE", "UNAVAILABLE", "MALFORMED")


def _quote(code: str, base: str, *, stale: bool) -> dict[str, Any]:
    price, unit, market = PRICES[base]
    as_of = datetime.now(UTC).replace(microsecond=0)
    if stale:
        as_of -= timedelta(days=STALE_DAYS)
    return {
        "quote_id": f"PQ-{uuid.uuid4().hex[:16].upper()}",
        "commodity": code,
        "price": {"amount": price, "currency": "CNY"},
        "unit": unit,
        "as_of": as_of.isoformat(),
        "source": market,
    }


async def _quote_endpoint(call: Call) -> Reply:
    code = str(call.request.path_params["code"])
    base, _, behaviour = code.rpartition("-") if "-" in code else (code, "", "")
    if behaviour and behaviour not in BEHAVIOURS:
        base, behaviour = code, ""
    if base not in PRICES:
        return Reply.refuse(404, "UNKNOWN_COMMODITY", "no quotes for this commodity")
    if call.request.query_params.get("currency", "CNY") != "CNY":
        return Reply.refuse(422, "UNSUPPORTED_CURRENCY", "quotes are in CNY")
    quote = _quote(code, base, stale=behaviour == "STALE")
    if behaviour in TRANSPORT_FAILURES:
        return Reply.failing(behaviour, quote)
    if behaviour == "MALFORMED":
        del quote["price"]
    return Reply.ok(quote)


def create_app(provider: SandboxProvider) -> Starlette:
    """The feed's routes behind ``provider``'s checks."""
    return Starlette(
        routes=[Route("/v1/quotes/{code}", provider.endpoint(_quote_endpoint), methods=["GET"])]
    )
