"""A burst of concurrent GraphQL requests against a running API, from a process of its own.

Every connection is opened first, then every request is written at once, so that the server
sees several hundred requests in flight together and each latency is the server's answer
time, not the client's connection set-up (plain HTTP/1.1 over asyncio streams: the client's
own work per request stays small). Prints one JSON object: the count of each status or
failure (a timeout, a reset or closed connection), the count of answers without the expected
shape, and the admitted (200) requests' latencies in seconds.

    python tests/api/burst_client.py HOST PORT TOKEN --requests 400 --timeout 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from typing import Any

QUERY = "query Burst { viewer { kind user { email } tenant { slug } } }"


def request_bytes(host: str, port: int, token: str) -> bytes:
    """One ``POST /graphql`` of :data:`QUERY` with the bearer token."""
    body = json.dumps({"query": QUERY}).encode()
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, dict[str, str], bytes]:
    """Write ``request``, read the response: status, headers (lower-case names), body."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


def well_formed(status: int, headers: dict[str, str], body: bytes) -> bool:
    """A 200 with the viewer and no error, or a 503 with Retry-After and OVERLOADED."""
    try:
        answer: Any = json.loads(body)
    except ValueError:
        return False
    if status == 200:
        return "errors" not in answer and bool(answer["data"]["viewer"])
    if status == 503:
        codes = [e.get("extensions", {}).get("code") for e in answer.get("errors", [])]
        return codes == ["OVERLOADED"] and headers.get("retry-after") == "1"
    return False


async def burst(host: str, port: int, token: str, requests: int, limit: float) -> dict[str, Any]:
    """Open ``requests`` connections, then send one request on each, all at once; each has
    ``limit`` seconds to be answered."""
    connections = await asyncio.gather(
        *(asyncio.open_connection(host, port) for _ in range(requests))
    )
    request = request_bytes(host, port, token)
    go = asyncio.Event()

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple:
        await go.wait()
        started = time.perf_counter()
        try:
            async with asyncio.timeout(limit):
                status, headers, body = await exchange(reader, writer, request)
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            return type(exc).__name__, time.perf_counter() - started, False
        finally:
            writer.close()
        return str(status), time.perf_counter() - started, well_formed(status, headers, body)

    tasks = [asyncio.create_task(one(r, w)) for r, w in connections]
    go.set()
    results = await asyncio.gather(*tasks)
    return {
        "statuses": dict(Counter(status for status, _, _ in results)),
        "malformed": sum(1 for _, _, ok in results if not ok),
        "admitted_seconds": sorted(s for status, s, _ in results if status == "200"),
    }


def main() -> None:
    """Parse the arguments, run the burst, print the summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("token")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    summary = asyncio.run(burst(args.host, args.port, args.token, args.requests, args.timeout))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
