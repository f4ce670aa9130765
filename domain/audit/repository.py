"""Writes to the append-only audit log."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit.models import AuditEntry
from domain.kernel.actor import Actor


async def record(
    session: AsyncSession,
    actor: Actor,
    *,
    action: str,
    object_type: str,
    object_id: uuid.UUID | str,
    tenant_id: uuid.UUID | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one audit row in the caller's transaction."""
    await session.execute(
        insert(AuditEntry)
        .values(
            tenant_id=tenant_id,
            actor_user_id=actor.user_id,
            actor_client_id=actor.client_id,
            request_id=actor.request_id,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            details=details or {},
        )
        # No RETURNING: some writers may append rows that their scope cannot read back.
        .inline()
    )
