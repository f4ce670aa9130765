"""Declarative base shared by every context's tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from enum import Enum as PyEnum
from typing import Any

from sqlalchemy import BindParameter, DateTime, Enum, MetaData, bindparam, func
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Root of all mapped tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def new_id() -> uuid.UUID:
    """A fresh random identifier for a row."""
    return uuid.uuid4()


class IdMixin:
    """Surrogate UUID key and creation time."""

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class TenantOwnedMixin:
    """Tenant-owned rows: ``(tenant_id, id)`` is the primary key, so that the data can be
    distributed by tenant later and every foreign key carries the tenant."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


def uuid_array(values: Iterable[uuid.UUID]) -> BindParameter[Any]:
    """One ``uuid[]`` parameter, for ``column = ANY(...)``: unlike an expanded ``IN (...)`` the
    statement text is the same for any number of keys, so the driver prepares it once."""
    array: ARRAY[Any] = ARRAY(UUID(as_uuid=True))
    return bindparam(None, list(values), type_=array, unique=True)


def checked_enum(cls: type[PyEnum], name: str) -> Enum:
    """A Python enum stored by member name as ``varchar(32)`` with a CHECK constraint (never a
    native PostgreSQL enum, which a migration cannot extend inside a transaction)."""
    return Enum(cls, name=name, native_enum=False, create_constraint=True, length=32)
