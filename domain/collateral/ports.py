"""What the collateral context needs from outside: document storage. The port itself lives in
the kernel (``domain.kernel.storage``) because contracts and payments keep files too."""

from __future__ import annotations

from domain.kernel.storage import DocumentStorage, ObjectNotFound, ObjectTooLarge, StoredObject

__all__ = ["DocumentStorage", "ObjectNotFound", "ObjectTooLarge", "StoredObject"]
