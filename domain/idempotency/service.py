"""Idempotency of mutations (DESIGN.md section 9): the same key and the same request replay
the first answer; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED).

A key belongs to its principal (the OAuth client, the user if any, the tenant if any) and one
operation. :func:`begin` records it in the use case's transaction before the effect and
:func:`complete` stores the answer with the effect, so:

* concurrent duplicates resolve to one effect: the second insert waits on the unique key for
  the first transaction, then replays its answer;
* only successful answers are kept: a refused or rolled-back request removes its key with
  everything else it wrote, and a retry with the same key runs afresh.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from domain.idempotency import repository
from domain.kernel.actor import Actor
from domain.kernel.errors import DomainError, ErrorCode

MAX_KEY_LENGTH: Final[int] = 200
# Printable ASCII without blanks: UUIDs, ULIDs and the like.
_KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}", re.ASCII)


@dataclass(frozen=True, slots=True)
class Fresh:
    """The key is new: this request acts, then completes the key."""

    row_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Replay:
    """The key was used before for the same request: answer with its stored response."""

    response: dict[str, Any]


def clean_key(key: str, field: str = "idempotencyKey") -> str:
    """A key: 1 to 200 printable ASCII characters without blanks."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise DomainError(
            ErrorCode.INVALID,
            f"1 to {MAX_KEY_LENGTH} printable ASCII characters without blanks",
            field,
        )
    return key


def fingerprint(operation: str, body: Mapping[str, object]) -> str:
    """SHA-256 of the operation and its normalised input, as canonical JSON."""
    canonical = json.dumps(
        {"operation": operation, "body": body}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def begin(
    session: AsyncSession,
    actor: Actor,
    *,
    operation: str,
    key: str,
    request_hash: str,
    field: str = "idempotencyKey",
) -> Fresh | Replay:
    """Record ``key`` for this actor and operation, or find it: :class:`Fresh` when this
    request is the first, :class:`Replay` when an earlier one with the same fingerprint
    succeeded. IDEMPOTENCY_KEY_REUSED when the earlier request was a different one."""
    if actor.client_id is None:
        raise DomainError(ErrorCode.FORBIDDEN, "idempotency keys need a signed-in client", field)
    row_id = await repository.insert_new(
        session,
        tenant_id=actor.tenant_id,
        client_id=actor.client_id,
        user_id=actor.user_id,
        operation=operation,
        key=key,
        request_hash=request_hash,
    )
    if row_id is not None:
        return Fresh(row_id)
    row = await repository.find(
        session,
        tenant_id=actor.tenant_id,
        client_id=actor.client_id,
        user_id=actor.user_id,
        operation=operation,
        key=key,
    )
    if row is None or row.request_hash != request_hash:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "this idempotency key was used for another request; use a new key",
            field,
        )
    if row.response is None:  # pragma: no cover - a key is completed in its own transaction
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED, "a request with this key is in progress", field
        )
    return Replay(dict(row.response))


async def complete(session: AsyncSession, fresh: Fresh, response: dict[str, Any]) -> None:
    """Store the answer of the request that owns the key."""
    await repository.complete(session, fresh.row_id, response)


__all__ = ["MAX_KEY_LENGTH", "Fresh", "Replay", "begin", "clean_key", "complete", "fingerprint"]
