"""Every query on tenants, users, memberships, OAuth clients and refresh tokens. Queries name
the tenant where they have one; row-level security is the backstop underneath."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import any_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.persistence.base import uuid_array
from tenants.models import Membership, OAuthClient, RefreshToken, Status, Tenant, User


async def tenants_by_ids(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Tenant]:
    """Batch getter for tenants visible in this scope."""
    if not ids:
        return {}
    rows = await session.scalars(select(Tenant).where(Tenant.id == any_(uuid_array(ids))))
    return {row.id: row for row in rows}


async def tenant_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    """A tenant by its slug, if visible."""
    return (await session.scalars(select(Tenant).where(Tenant.slug == slug))).first()


async def users_by_ids(
    session: AsyncSession,
    ids: Sequence[uuid.UUID],
    *,
    members_of: uuid.UUID | None = None,
    only_self: uuid.UUID | None = None,
) -> dict[uuid.UUID, User]:
    """Batch getter for users: all visible ones, or only members of one tenant (plus the
    caller), or only the caller."""
    if not ids:
        return {}
    stmt = select(User).where(User.id == any_(uuid_array(ids)))
    if members_of is not None:
        members = select(Membership.user_id).where(Membership.tenant_id == members_of)
        stmt = stmt.where(or_(User.id.in_(members), User.id == only_self))
    elif only_self is not None:
        stmt = stmt.where(User.id == only_self)
    rows = await session.scalars(stmt)
    return {row.id: row for row in rows}


async def memberships_of_users(
    session: AsyncSession, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Membership]]:
    """Batch getter: each user's memberships visible in this scope, oldest first."""
    stmt = (
        select(Membership)
        .where(Membership.user_id == any_(uuid_array(user_ids)))
        .order_by(Membership.created_at, Membership.id)
    )
    out: dict[uuid.UUID, list[Membership]] = {i: [] for i in user_ids}
    for row in await session.scalars(stmt):
        out[row.user_id].append(row)
    return out


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    """A user by e-mail, compared case-insensitively."""
    stmt = select(User).where(func.lower(User.email) == email.strip().lower())
    return (await session.scalars(stmt)).first()


async def memberships_of_user(session: AsyncSession, user_id: uuid.UUID) -> list[Membership]:
    """A user's memberships visible in this scope, oldest first."""
    stmt = (
        select(Membership)
        .where(Membership.user_id == user_id)
        .order_by(Membership.created_at, Membership.id)
    )
    return list(await session.scalars(stmt))


async def membership(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> Membership | None:
    """A user's membership in one tenant."""
    stmt = select(Membership).where(
        Membership.tenant_id == tenant_id, Membership.user_id == user_id
    )
    return (await session.scalars(stmt)).first()


async def clients_by_ids(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, OAuthClient]:
    """Batch getter for OAuth clients visible in this scope."""
    if not ids:
        return {}
    rows = await session.scalars(select(OAuthClient).where(OAuthClient.id == any_(uuid_array(ids))))
    return {row.id: row for row in rows}


async def client_by_client_id(session: AsyncSession, client_id: str) -> OAuthClient | None:
    """A client by its public client ID."""
    stmt = select(OAuthClient).where(OAuthClient.client_id == client_id)
    return (await session.scalars(stmt)).first()


async def refresh_token_by_hash(session: AsyncSession, digest: bytes) -> RefreshToken | None:
    """A refresh token by the hash of its value."""
    stmt = select(RefreshToken).where(RefreshToken.token_hash == digest)
    return (await session.scalars(stmt)).first()


async def revoke_refresh_tokens(
    session: AsyncSession,
    *,
    at: datetime,
    client_pk: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    token_id: uuid.UUID | None = None,
    tenant_id: uuid.UUID | None = None,
) -> int:
    """Revoke the live refresh tokens of a client, a user, a tenant or one token; returns how
    many."""
    stmt = update(RefreshToken).where(RefreshToken.revoked_at.is_(None))
    if tenant_id is not None:
        stmt = stmt.where(RefreshToken.tenant_id == tenant_id)
    if client_pk is not None:
        stmt = stmt.where(RefreshToken.client_pk == client_pk)
    if user_id is not None:
        stmt = stmt.where(RefreshToken.user_id == user_id)
    if token_id is not None:
        stmt = stmt.where(RefreshToken.id == token_id)
    result = await session.execute(stmt.values(revoked_at=at))
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_expired_refresh_tokens(session: AsyncSession, *, before: datetime) -> int:
    """Mark refresh tokens that expired before ``before`` as revoked (kept for audit)."""
    stmt = (
        update(RefreshToken)
        .where(RefreshToken.revoked_at.is_(None), RefreshToken.expires_at < before)
        .values(revoked_at=before)
    )
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


def is_active(row: User | OAuthClient | Tenant) -> bool:
    """Whether a user, client or tenant may act."""
    return row.status == Status.ACTIVE


def add(
    session: AsyncSession, row: Tenant | User | Membership | OAuthClient | RefreshToken
) -> None:
    """Stage a new row; the caller's flush writes it."""
    session.add(row)


async def principal_active(
    session: AsyncSession,
    *,
    client_id: str,
    user_id: uuid.UUID | None,
    tenant_id: uuid.UUID | None,
) -> bool:
    """Whether the client, user and tenant behind a token are all still active."""
    result = await session.execute(
        text("select app_principal_active(:client_id, :user_id, :tenant_id)"),
        {"client_id": client_id, "user_id": user_id, "tenant_id": tenant_id},
    )
    return bool(result.scalar_one())
