"""The document storage port: opaque bytes in, a content-addressed key out.

Cross-cutting: purchase orders, warehouse receipts, repayment vouchers and signed contracts all
keep files. Adapters live in ``integrations/storage/`` (local disk by default; an
S3-compatible store in production). The metadata (owner, kind, file name, hash) is a row in the
owning context's tables, written in the same transaction as the use case; the bytes are written
first, so a rolled-back transaction leaves at most an unreferenced blob, never a row without
its bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["DocumentStorage", "ObjectNotFound", "ObjectTooLarge", "StoredObject"]


@dataclass(frozen=True, slots=True)
class StoredObject:
    """Where the bytes went and what they were."""

    #: Opaque key to read the object back with.
    key: str
    #: Lower-case hex SHA-256 of the bytes.
    sha256: str
    #: Number of bytes.
    size: int


class ObjectTooLarge(Exception):
    """More than ``max_bytes`` were offered; nothing was kept."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"more than {max_bytes} bytes")
        self.max_bytes = max_bytes


class ObjectNotFound(LookupError):
    """No object under this key (or the key is not one this store issues)."""


@runtime_checkable
class DocumentStorage(Protocol):
    """Stores immutable objects."""

    async def put(
        self,
        content: bytes | AsyncIterable[bytes],
        *,
        content_type: str,
        max_bytes: int | None = None,
    ) -> StoredObject:
        """Store ``content`` and return its key, hash and size. The write is atomic: a reader
        sees the whole object or none of it. Raises :class:`ObjectTooLarge` (keeping nothing)
        when more than ``max_bytes`` arrive."""
        ...

    def open(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes, in chunks. Raises :class:`ObjectNotFound` for an unknown or
        malformed key."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...
