"""Resolving settings into working parts: database URLs, signing keys and the personal-data
cipher. In ``dev`` and ``test`` missing secrets are generated once into the data folder; in
production they must be configured."""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy.engine import URL

from domain.kernel.crypto import PersonalDataCipher
from domain.persistence.engine import app_role_url, async_url
from lendgraph.settings import Settings
from tenants.keys import SigningKeys, load_or_create_dev_keys


def owner_url(settings: Settings) -> URL:
    """The owner's connection, which runs migrations."""
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (lendgraph dev starts an embedded server)")
    return async_url(settings.database_url)


def app_url(settings: Settings) -> URL:
    """The application's connection: a role subject to row-level security."""
    if settings.app_database_url:
        return async_url(settings.app_database_url)
    password = settings.app_db_password.get_secret_value() if settings.app_db_password else None
    return app_role_url(owner_url(settings), settings.app_db_role, password)


def _dev_only(settings: Settings, what: str) -> None:
    if settings.environment == "production":
        raise RuntimeError(f"{what} must be configured in production")


def signing_keys(settings: Settings) -> SigningKeys:
    """The configured key set, or a development key kept in the data folder."""
    if settings.jwt_private_jwks is not None:
        return SigningKeys.from_json(
            settings.jwt_private_jwks.get_secret_value(), settings.jwt_active_kid
        )
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
