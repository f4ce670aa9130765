"""Resolving settings into working parts: database URLs, signing keys and the personal-data
cipher, and the start-up check that a serving process's database role is subject to row-level
security. In ``dev`` and ``test`` missing secrets are generated once into the data folder and
the application URL may be derived from the owner's; in production they must be configured.
Every failure to resolve a setting is a :class:`ConfigurationError` naming it."""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from domain.kernel.crypto import PersonalDataCipher
from domain.persistence.engine import app_role_url, async_url
from lendgraph.settings import ConfigurationError, Settings, in_words
from tenants.keys import SigningKeys, load_or_create_dev_keys


def owner_url(settings: Settings) -> URL:
    """The owner's connection, which runs migrations."""
    if not settings.database_url:
        raise ConfigurationError("DATABASE_URL is required")
    return async_url(settings.database_url)


def app_url(settings: Settings) -> URL:
    """The application's connection: a role subject to row-level security. In production it
    is only ever APP_DATABASE_URL; elsewhere it defaults to the owner's server and database
    with the application role's name."""
    if settings.app_database_url:
        return async_url(settings.app_database_url)
    if settings.environment == "production":
        raise ConfigurationError("APP_DATABASE_URL is required in production")
    if not settings.database_url:
        raise ConfigurationError("APP_DATABASE_URL or DATABASE_URL is required")
    password = settings.app_db_password.get_secret_value() if settings.app_db_password else None
    return app_role_url(owner_url(settings), settings.app_db_role, password)


def _dev_only(settings: Settings, what: str) -> None:
    if settings.environment == "production":
        raise ConfigurationError(f"{what} is required in production")


def signing_keys(settings: Settings) -> SigningKeys:
    """The configured key set, or a development key kept in the data folder."""
    if settings.jwt_private_jwks is not None:
        try:
            keys = SigningKeys.from_json(
                settings.jwt_private_jwks.get_secret_value(), settings.jwt_active_kid
            )
        except json.JSONDecodeError:
            raise ConfigurationError("LENDGRAPH_JWT_PRIVATE_JWKS is invalid: not JSON") from None
        except Exception as exc:
            # Whatever joserfc or SigningKeys refuse (a missing parameter, an empty set, an
            # active kid that is not in the set) is a configuration error, said in one line.
            reason = _one_line(exc)
            setting = (
                "LENDGRAPH_JWT_ACTIVE_KID"
                if "active key" in reason
                else "LENDGRAPH_JWT_PRIVATE_JWKS"
            )
            raise ConfigurationError(f"{setting} is invalid: {reason}") from None
        if not all(key.is_private for key in keys.active.keys):
            raise ConfigurationError(
                "LENDGRAPH_JWT_PRIVATE_JWKS is invalid: the active key has no private part"
            )
        return keys
    _dev_only(settings, "LENDGRAPH_JWT_PRIVATE_JWKS")
    return load_or_create_dev_keys(Path(settings.data_dir) / "jwks.json")


def personal_data_cipher(settings: Settings) -> PersonalDataCipher:
    """The configured data key, or a development key kept in the data folder."""
    if settings.data_key is not None:
        return PersonalDataCipher.from_secret(settings.data_key.get_secret_value())
    _dev_only(settings, "LENDGRAPH_DATA_KEY")
    path = Path(settings.data_dir) / "data.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return PersonalDataCipher.from_secret(path.read_text().strip())


class DatabaseUnavailable(Exception):
    """The database could not be reached at start-up (not a configuration error: it may come
    back). The message is one line."""


# What row-level security needs of the application role, asked as that role: not a superuser,
# no BYPASSRLS, and no table it owns (owners bypass RLS unless it is forced, and may drop it);
# membership in a role that has any of these counts as having it, since SET ROLE is one
# statement away.
_ROLE_CHECK = text(
    """
    select current_user as role,
           r.rolsuper or exists (
               select 1 from pg_roles m
               where m.rolsuper and m.oid <> r.oid and pg_has_role(r.oid, m.oid, 'MEMBER')
           ) as superuser,
           r.rolbypassrls or exists (
               select 1 from pg_roles m
               where m.rolbypassrls and m.oid <> r.oid and pg_has_role(r.oid, m.oid, 'MEMBER')
           ) as bypassrls,
           array(
               select c.relname::text
               from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where c.relkind in ('r', 'p', 'v', 'm', 'f')
                 and n.nspname not in ('pg_catalog', 'information_schema')
                 and n.nspname not like 'pg\\_toast%'
                 and pg_has_role(r.oid, c.relowner, 'MEMBER')
               order by c.relname
           ) as owned
    from pg_roles r
    where r.rolname = current_user
    """
)


@dataclass(frozen=True)
class RoleReport:
    """What the start-up check found about the connection's role."""

    role: str
    superuser: bool
    bypassrls: bool
    owned_tables: tuple[str, ...]

    def problems(self) -> list[str]:
        """Each reason the role is unfit to serve, in words."""
        found = []
        if self.superuser:
            found.append("is a superuser")
        if self.bypassrls:
            found.append("has BYPASSRLS")
        if self.owned_tables:
            shown = ", ".join(self.owned_tables[:3])
            more = f" and {len(self.owned_tables) - 3} more" if len(self.owned_tables) > 3 else ""
            found.append(f"owns tables ({shown}{more})")
        return found


async def inspect_role(url: URL) -> RoleReport:
    """Connect once with ``url`` and report its role's privileges that bypass row-level
    security."""
    engine = create_async_engine(async_url(url), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            row = (await connection.execute(_ROLE_CHECK)).one()
    finally:
        await engine.dispose()
    return RoleReport(
        role=row.role,
        superuser=bool(row.superuser),
        bypassrls=bool(row.bypassrls),
        owned_tables=tuple(row.owned),
    )


def _one_line(exc: BaseException) -> str:
    # SQLAlchemy prefixes the driver's message with its class and appends a help link.
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    message = str(cause).strip().splitlines()
    return message[0] if message else type(exc).__name__


def check_app_role(settings: Settings) -> RoleReport:
    """Refuse (:class:`ConfigurationError`) an application connection whose role is a
    superuser, has BYPASSRLS or owns tables: row-level security would not apply to it."""
    url = app_url(settings)
    setting = (
        "APP_DATABASE_URL"
        if settings.app_database_url
        else f"the application role's connection (DATABASE_URL as {settings.app_db_role})"
    )
    try:
        report = asyncio.run(inspect_role(url))
    except OSError as exc:
        where = f"{url.host or 'local socket'}:{url.port or 5432}"
        raise DatabaseUnavailable(
            f"cannot reach the database of {setting} at {where}: {_one_line(exc)}"
        ) from None
    except DBAPIError as exc:
        # Refused log-ins, unknown databases and roles: the URL is wrong.
        raise ConfigurationError(
            f"{setting} is invalid: the database refused the connection: {_one_line(exc)}"
        ) from None
    problems = report.problems()
    if problems:
        raise ConfigurationError(
            f"{setting} connects as role {report.role}, which {in_words(problems)}; serving "
            f"processes need a role subject to row-level security (the application role, "
            f"{settings.app_db_role}, that lendgraph migrate creates)"
        )
    return report
