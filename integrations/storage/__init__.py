"""Document storage adapters. Local disk under the data directory is the default; an
S3-compatible adapter implementing the same port goes here for production."""

from __future__ import annotations

from pathlib import Path

from domain.kernel.storage import DocumentStorage
from integrations.storage.local import LocalDocumentStorage

__all__ = ["LocalDocumentStorage", "document_storage"]


def document_storage(data_dir: str | Path) -> DocumentStorage:
    """The document store of a deployment: ``<data_dir>/documents`` on local disk."""
    return LocalDocumentStorage(Path(data_dir) / "documents")
