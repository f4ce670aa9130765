"""Runtime settings, read from environment variables (prefix ``LENDGRAPH_`` or the plain names
listed in the README). Secrets have no production default: outside ``dev`` and ``test`` the
application refuses to start without them."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["dev", "test", "production"]


class Settings(BaseSettings):
    """Every knob of lendgraph. Defaults are safe for a first local run."""

    model_config = SettingsConfigDict(env_prefix="LENDGRAPH_", extra="ignore")

    environment: Environment = Field(
        default="production", validation_alias=AliasChoices("LENDGRAPH_ENV", "environment")
    )
    # Owner connection: runs migrations. Without it, ``dev`` starts an embedded PostgreSQL.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "database_url")
    )
    # Application connection: a role that owns nothing and is subject to row-level security.
    # Defaults to DATABASE_URL with the user replaced by ``app_db_role``.
    app_database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("APP_DATABASE_URL", "app_database_url")
    )
    app_db_role: str = "lendgraph_app"
    app_db_password: SecretStr | None = None
    db_pool_size: int = 10

    broker_url: str | None = Field(
        default=None, validation_alias=AliasChoices("BROKER_URL", "broker_url")
    )

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: str = ".lendgraph"

    issuer: str = "http://127.0.0.1:8000"
    audience: str = "lendgraph"
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    # JSON Web Key Set with the private signing keys, and the kid of the key that signs.
    jwt_private_jwks: SecretStr | None = None
    jwt_active_kid: str | None = None
    enable_password_grant: bool | None = None

    # Key for encrypting personal data at rest and keyed hashes for look-ups (32+ chars).
    data_key: SecretStr | None = None

    max_query_depth: int = 12
    max_aliases: int = 30
    max_query_tokens: int = 2000
    # How often an open GraphQL WebSocket re-checks that its client, user and tenant are still
    # active (a disabled principal's socket closes within about this long).
    ws_principal_recheck_seconds: float = Field(default=2.0, gt=0)
    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _require_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            missing = [
                name
                for name, value in (
                    ("DATABASE_URL", self.database_url),
                    ("LENDGRAPH_JWT_PRIVATE_JWKS", self.jwt_private_jwks),
                    ("LENDGRAPH_JWT_ACTIVE_KID", self.jwt_active_kid),
                    ("LENDGRAPH_DATA_KEY", self.data_key),
                )
                if value is None
            ]
            if missing:
                raise ValueError(f"missing required settings in production: {', '.join(missing)}")
        return self

    @property
    def password_grant_enabled(self) -> bool:
        """The resource-owner password grant exists only for local development."""
        if self.enable_password_grant is not None:
            return self.enable_password_grant and self.environment != "production"
        return self.environment in ("dev", "test")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process, read once."""
    return Settings()
