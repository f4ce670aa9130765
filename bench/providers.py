"""What the signed provider protocol costs per call.

1. CPU (``time.process_time``) of the protocol's own work for one credit-report call, both
   sides: sign the request, verify it, sign the answer, verify it (digests included), against
   a floor of the JSON encoding and decoding the call does anyway plus one HMAC-SHA256 of the
   body (the least any authenticated call costs).
2. Wall time of one round trip on loopback: the real client against the sandbox bureau, against
   a plain httpx POST of the same body to a route on the same server that answers the same
   report unsigned.

Medians of ``--rounds`` rounds; ratios against the baselines of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.risk.ports import ConsentReference, CreditReportRequest, ProviderKind
from integrations.bureau import sandbox as bureau_sandbox
from integrations.bureau.client import HttpCreditBureau
from integrations.sandboxes import SandboxServer
from integrations.signing import (
    Credentials,
    HeaderLines,
    RequestView,
    ResponseView,
    sign_request,
    sign_response,
    verify_request,
    verify_response,
)

CONSENT = ConsentReference(
    "deal:bench", "credit-consent-2026-01", "ONLINE_CHECKBOX", datetime.now(UTC)
)
REQUEST = CreditReportRequest("11010519491231002X", "Zhang Min", CONSENT)
REPORT = json.dumps(bureau_sandbox._report("GOOD"), separators=(",", ":")).encode()
BODY = json.dumps(
    {"subject": {"resident_id": REQUEST.resident_id, "name": REQUEST.full_name}}
).encode()
KEY = Credentials("bench", b"s" * 32)
URL = "http://127.0.0.1:9/bureau/v1/credit-reports"


def floor_once() -> None:
    json.loads(json.dumps(json.loads(BODY)))
    json.loads(REPORT)
    hmac.new(KEY.secret, hashlib.sha256(BODY).digest(), hashlib.sha256).digest()


def protocol_once(i: int) -> None:
    request = RequestView(
        "POST", URL, HeaderLines([("content-type", "application/json"), ("x-request-id", str(i))])
    )
    sign_request(request, BODY, KEY, nonce=str(i))
    verify_request(request, BODY, {KEY.key_id: KEY.secret})
    answer = ResponseView(
        200, HeaderLines([("content-type", "application/json"), ("x-request-id", str(i))]), request
    )
    sign_response(answer, REPORT, KEY)
    verify_response(answer, REPORT, KEY)


def cpu_ms(fn, budget: float) -> float:  # type: ignore[no-untyped-def]
    calls, start = 0, time.process_time()
    while time.process_time() - start < budget:
        fn(calls)
        calls += 1
    return (time.process_time() - start) / calls * 1000


async def wall_ms(call, n: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(n):
        await call()
    return (time.perf_counter() - start) / n * 1000


async def plain_report(request: Request) -> Response:
    await request.body()
    return Response(REPORT, headers={"content-type": "application/json"})


async def round_trips(rounds: int, calls: int) -> tuple[list[float], list[float]]:
    server = SandboxServer()
    # The unsigned baseline route, on the same server and event loop as the sandbox.
    server._server.config.app.routes.append(Route("/plain", plain_report, methods=["POST"]))
    with server:
        client = HttpCreditBureau(
            server.url(ProviderKind.CREDIT_BUREAU),
            server.credentials[ProviderKind.CREDIT_BUREAU],
            timeout=10,
        )
        plain = httpx.AsyncClient()
        signed_runs, plain_runs = [], []
        try:
            await client.pull_report(REQUEST)
            await plain.post(server.base_url + "/plain", content=BODY)
            for _ in range(rounds):
                plain_runs.append(
                    await wall_ms(
                        lambda: plain.post(server.base_url + "/plain", content=BODY), calls
                    )
                )
                signed_runs.append(await wall_ms(lambda: client.pull_report(REQUEST), calls))
        finally:
            await client.aclose()
            await plain.aclose()
    return signed_runs, plain_runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--budget", type=float, default=0.3, help="CPU seconds per round")
    parser.add_argument("--calls", type=int, default=100, help="round trips per round")
    args = parser.parse_args()

    floor = statistics.median(
        cpu_ms(lambda _: floor_once(), args.budget) for _ in range(args.rounds)
    )
    protocol = statistics.median(cpu_ms(protocol_once, args.budget) for _ in range(args.rounds))
    print(f"cpu  floor {floor:.3f} ms  protocol {protocol:.3f} ms  x floor {protocol / floor:.1f}")
    signed, plain = asyncio.run(round_trips(args.rounds, args.calls))
    s, p = statistics.median(signed), statistics.median(plain)
    print(f"wall plain {p:.3f} ms  signed client {s:.3f} ms  x plain {s / p:.2f}")


if __name__ == "__main__":
    main()
