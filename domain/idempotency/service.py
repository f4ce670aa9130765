"""Idempotency of mutations (DESIGN.md section 9, Stripe semantics): the same key and the same
request replay the first answer as it went out; the same key with another request is refused
(IDEMPOTENCY_KEY_REUSED); while the first request with a key is still running, others with the
key are answered IDEMPOTENCY_IN_PROGRESS at once.

A key belongs to its principal (the OAuth client, the user if any, the tenant if any) and one
operation. :func:`begin` records it in the transaction of the effect, before the effect, and
:func:`complete` stores the answer in the same transaction, so:

* only answered requests keep their key: a refused or rolled-back request takes its key back
  with everything else it wrote, and a retry with the same key runs afresh;
* of concurrent duplicates, one acts. The one that records the key first holds a
  transaction-level advisory lock on it until it commits; the others never wait for it (which
  would hold a pooled connection each, blocked on the unique index): they see the lock taken
  and answer IN_PROGRESS, or, once the first has committed, find its answer and replay it. (A
  refused first request releases the lock with its savepoint, and the next one acts.)

What "the same request" and "the answer" are is the caller's business (the GraphQL layer
fingerprints the input and the selection, and stores the serialised result); here they are a
fingerprint and an opaque text. Keys are kept at least 24 hours: :func:`purge_expired` (run
hourly by the scheduler) deletes older ones.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, TypedDict

from sqlalchemy.ext.asyncio import AsyncSession

from domain.idempotency import repository
from domain.idempotency.models import IdempotencyKey
from domain.kernel.actor import Actor
from domain.kernel.errors import DomainError, ErrorCode

MAX_KEY_LENGTH: Final[int] = 200
# Printable ASCII without blanks: UUIDs, ULIDs and the like.
_KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}", re.ASCII)


@dataclass(frozen=True, slots=True)
class Fresh:
    """The key is new: this request acts, then completes the key with its answer."""

    row_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Replay:
    """The key was answered before for the same request: that answer, as stored."""

    response: str


class _Identity(TypedDict):
    """A key's identity: its principal, its operation and the key itself."""

    tenant_id: uuid.UUID | None
    client_id: str
    user_id: uuid.UUID | None
    operation: str
    key: str


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
    """SHA-256 of the operation and its normalised request, as canonical JSON."""
    canonical = json.dumps(
        {"operation": operation, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def lock_key(
    *,
    tenant_id: uuid.UUID | None,
    client_id: str,
    user_id: uuid.UUID | None,
    operation: str,
    key: str,
) -> int:
    """The advisory lock of one principal's key for one operation: 64 bits of a SHA-256 over
    the same columns as the unique key, in PostgreSQL's signed ``bigint`` range. (Two keys
    sharing a lock would only make one of them answer IN_PROGRESS for a moment.)"""
    identity = json.dumps(
        ["idempotency_keys", str(tenant_id), client_id, str(user_id), operation, key],
        separators=(",", ":"),
    )
    digest = hashlib.sha256(identity.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _in_progress(field: str) -> DomainError:
    return DomainError(
        ErrorCode.IDEMPOTENCY_IN_PROGRESS,
        "a request with this idempotency key is still running; retry shortly with the same key",
        field,
    )


def _verdict(row: IdempotencyKey, request_hash: str, field: str) -> Replay:
    if row.request_hash != request_hash:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "this idempotency key was used for another request (other input or other "
            "selected fields); use a new key",
            field,
        )
    if row.response is None:
        # Begun earlier in this same transaction (the key twice in one document) and not
        # answered yet; other transactions never see a key before its answer.
        raise _in_progress(field)
    return Replay(row.response)


async def begin(
    session: AsyncSession,
    actor: Actor,
    *,
    operation: str,
    key: str,
    request_hash: str,
    field: str = "idempotencyKey",
) -> Fresh | Replay:
    """Record ``key`` for this actor and operation, or find its answer: :class:`Fresh` when
    this request is the first, :class:`Replay` when an earlier one with the same fingerprint
    was answered. IDEMPOTENCY_KEY_REUSED when the earlier request was another one;
    IDEMPOTENCY_IN_PROGRESS, without waiting, while another transaction holds the key."""
    clean_key(key, field)
    if actor.client_id is None:
        raise DomainError(ErrorCode.FORBIDDEN, "idempotency keys need a signed-in client", field)
    identity: _Identity = {
        "tenant_id": actor.tenant_id,
        "client_id": actor.client_id,
        "user_id": actor.user_id,
        "operation": operation,
        "key": key,
    }
    # Answered keys are replayed without the lock, so replays never make each other wait.
    row = await repository.find(session, **identity)
    if row is not None:
        return _verdict(row, request_hash, field)
    taken = await repository.try_lock(session, lock_key(**identity))
    # Whoever held the lock may have committed since the first look (its row is visible
    # before its lock is released); or the holder is a replay of an answered key.
    row = await repository.find(session, **identity)
    if row is not None:
        return _verdict(row, request_hash, field)
    if not taken:
        raise _in_progress(field)
    row_id = await repository.insert_new(session, request_hash=request_hash, **identity)
    if row_id is None:  # pragma: no cover - the lock keeps others from inserting this key
        raise _in_progress(field)
    return Fresh(row_id)


async def complete(session: AsyncSession, fresh: Fresh, response: str) -> bool:
    """Store the answer of the request that owns the key; whether the key still exists (it
    does not when the request's savepoint was rolled back, effect and key together)."""
    return await repository.complete(session, fresh.row_id, response)


async def purge_expired(session: AsyncSession) -> int:
    """Housekeeping: delete keys older than 24 hours; returns how many."""
    return await repository.purge_expired(session)


__all__ = [
    "MAX_KEY_LENGTH",
    "Fresh",
    "Replay",
    "begin",
    "clean_key",
    "complete",
    "fingerprint",
    "lock_key",
    "purge_expired",
]
