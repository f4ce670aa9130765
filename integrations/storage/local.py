"""Document storage on local disk, under the data directory.

Objects are content-addressed: the key is the lower-case hex SHA-256 of the bytes, stored at
``<root>/objects/ab/cd/abcd...``. A write goes to a private temporary file in ``<root>/tmp``,
is flushed to disk, and is then renamed into place, so a reader sees a whole object or none.
Storing the same bytes twice stores them once. Keys are validated as 64 hex digits before a
path is built from them, so no key can reach outside the root.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Final

from domain.kernel.storage import ObjectNotFound, ObjectTooLarge, StoredObject

__all__ = ["LocalDocumentStorage"]

_KEY: Final = re.compile(r"^[0-9a-f]{64}$")
CHUNK_SIZE: Final[int] = 64 * 1024


async def _chunks(content: bytes | AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    if isinstance(content, bytes | bytearray | memoryview):
        data = bytes(content)
        for start in range(0, len(data), CHUNK_SIZE):
            yield data[start : start + CHUNK_SIZE]
        return
    async for chunk in content:
        yield chunk


def _fsync_dir(path: Path) -> None:
    # Make the rename itself durable (POSIX); not available everywhere.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class LocalDocumentStorage:
    """A :class:`~domain.kernel.storage.DocumentStorage` in a directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self._objects = self.root / "objects"
        self._tmp = self.root / "tmp"

    def path_of(self, key: str) -> Path:
        """Where the object ``key`` lives; ObjectNotFound for anything that is not a key."""
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ObjectNotFound("not a storage key")
        path = self._objects / key[:2] / key[2:4] / key
        # Belt and braces: the pattern admits no separator or dot, but never trust a path.
        if not path.resolve().is_relative_to(self._objects):
            raise ObjectNotFound("not a storage key")  # pragma: no cover
        return path

    async def put(
        self,
        content: bytes | AsyncIterable[bytes],
        *,
        content_type: str,
        max_bytes: int | None = None,
    ) -> StoredObject:
        """Write atomically (temporary file, fsync, rename) and return the content address.
        ``content_type`` is the caller's to record; the bytes alone decide the key."""
        await asyncio.to_thread(self._tmp.mkdir, parents=True, exist_ok=True)
        temporary = self._tmp / f"{uuid.uuid4().hex}.part"
        fd = await asyncio.to_thread(
            os.open, temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600
        )
        digest = hashlib.sha256()
        size = 0
        kept = False
        try:
            try:
                async for chunk in _chunks(content):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise ObjectTooLarge(max_bytes)
                    digest.update(chunk)
                    await asyncio.to_thread(os.write, fd, chunk)
                await asyncio.to_thread(os.fsync, fd)
            finally:
                os.close(fd)
            key = digest.hexdigest()
            final = self.path_of(key)
            await asyncio.to_thread(self._move_into_place, temporary, final)
            kept = True
            return StoredObject(key=key, sha256=key, size=size)
        finally:
            if not kept:
                temporary.unlink(missing_ok=True)

    def _move_into_place(self, temporary: Path, final: Path) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(temporary, 0o440)
        # Atomic; an existing object under this key has the same bytes.
        os.replace(temporary, final)
        _fsync_dir(final.parent)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks; ObjectNotFound for an unknown or malformed key."""
        path = self.path_of(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK_SIZE):
                yield chunk
        finally:
            handle.close()

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key`` (False for a malformed key)."""
        try:
            path = self.path_of(key)
        except ObjectNotFound:
            return False
        return await asyncio.to_thread(path.is_file)
