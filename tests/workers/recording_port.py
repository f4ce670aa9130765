"""Ports for the delivery tests, loaded into a real ``dramatiq`` worker process next to the
actors: each call appends to ``calls.log`` in ``LENDGRAPH_TEST_PORT_DIR`` (flushed to disk
before it goes on, so a SIGKILL loses nothing written), and behaves as files there say:
``hang-<KIND>`` makes the first attempt wait until the process is killed, ``fail-<KIND>``
(holding N) makes the first N attempts fail like a provider's 503."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.integration_calls.models import IntegrationKind
from domain.integration_calls.ports import CallRequest
from workers.actors.integrations import ports

DIR = Path(os.environ["LENDGRAPH_TEST_PORT_DIR"])
TIMEOUT = float(os.environ.get("LENDGRAPH_TEST_PORT_TIMEOUT", "5"))


def record(line: str) -> None:
    with (DIR / "calls.log").open("a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


class FilePort:
    def __init__(self, kind: IntegrationKind) -> None:
        self.kind = kind
        self.timeout_seconds = TIMEOUT

    async def prepare(self, session: AsyncSession, request: CallRequest) -> Mapping[str, Any]:
        line = await session.scalar(
            text("select product_line from deals where tenant_id = :t and id = :d"),
            {"t": request.tenant_id, "d": request.deal_id},
        )
        return {"line": line}

    async def call(self, request: CallRequest, inputs: Mapping[str, Any]) -> dict[str, Any]:
        ref = request.idempotency_reference
        record(f"start {self.kind.value} {ref} {request.attempt} {os.getpid()}")
        if (DIR / f"hang-{self.kind.value}").exists() and request.attempt == 1:
            await asyncio.Event().wait()
        fail = DIR / f"fail-{self.kind.value}"
        if fail.exists() and request.attempt <= int(fail.read_text()):
            raise RuntimeError("provider answered 503")
        record(f"done {self.kind.value} {ref} {request.attempt} {os.getpid()}")
        return {"kind": self.kind.value, "line": inputs["line"], "reference": str(ref)}


for _kind in IntegrationKind:
    ports.register(_kind, FilePort(_kind))
