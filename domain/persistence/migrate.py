"""Programmatic Alembic: upgrade to head and report the revision, for the CLI, tests and
``/readyz``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(owner_url: str | URL, app_role: str) -> Config:
    """An Alembic configuration for this project's migrations, without an ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    url = (
        owner_url.render_as_string(hide_password=False) if isinstance(owner_url, URL) else owner_url
    )
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.set_main_option("lendgraph.app_role", app_role)
    return config


def upgrade_to_head(owner_url: str | URL, app_role: str) -> None:
    """Apply every pending migration as the owner. Running it again does nothing."""
    command.upgrade(alembic_config(owner_url, app_role), "head")


def head_revision() -> str | None:
    """The newest revision this code knows."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


async def current_revision(connection: AsyncConnection) -> str | None:
    """The revision the database is at, or None before the first migration."""
    result = await connection.execute(text("select version_num from alembic_version"))
    return result.scalar_one_or_none()


async def set_role_password(connection: AsyncConnection, role: str, password: str) -> None:
    """Give the application role a password (as the owner, after migrating). ALTER ROLE takes
    no bind parameters, so the literal is quoted here; the role name was checked by the
    migration."""
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    quoted = "'" + password.replace("'", "''") + "'"
    await connection.execute(text(f"ALTER ROLE {role} WITH LOGIN PASSWORD {quoted}"))
