"""Runtime settings, read from environment variables (prefix ``LENDGRAPH_`` or the plain names
listed in the README), and which of them each command needs.

Every command declares in :data:`COMMANDS` the settings it reads and the ones it requires (in
production, or everywhere). :func:`settings_for` reads the environment, applies the command's
flags over it and checks the declaration before anything starts; a missing or invalid setting is
a :class:`ConfigurationError` whose message is one line naming the setting. Secrets have no
production default: ``dev`` and ``test`` generate them into the data folder instead."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

Environment = Literal["dev", "test", "production"]
ENVIRONMENTS: tuple[Environment, ...] = ("dev", "test", "production")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigurationError(Exception):
    """A missing or invalid setting. Its message is one line and names the setting by its
    environment variable."""


def _env(name: str, field: str) -> Any:
    # The plain name first (it is what the README documents); the field name lets code and
    # tests construct ``Settings(field=...)``.
    return AliasChoices(name, field)


class Settings(BaseSettings):
    """Every knob of lendgraph. Defaults are safe for a first local run."""

    model_config = SettingsConfigDict(env_prefix="LENDGRAPH_", extra="ignore")

    environment: Environment = Field(
        default="production",
        validation_alias=_env("LENDGRAPH_ENV", "environment"),
        description="Deployment environment: dev, test or production. Dev and test generate "
        "missing secrets and derive the application URL",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=_env("DATABASE_URL", "database_url"),
        description="The owner's connection, which runs migrations. Never given to serving "
        "processes in production",
    )
    app_database_url: str | None = Field(
        default=None,
        validation_alias=_env("APP_DATABASE_URL", "app_database_url"),
        description="The application role's connection: not a superuser, no BYPASSRLS, owns no "
        "table (checked at start). Outside production it defaults to DATABASE_URL with the "
        "user replaced by LENDGRAPH_APP_DB_ROLE",
    )
    app_db_role: str = Field(
        default="lendgraph_app",
        description="Name of the application role that migrations create and grant to",
    )
    app_db_password: SecretStr | None = Field(
        default=None,
        description="Password of the application role: migrate sets it, and outside production "
        "the derived application URL uses it",
    )
    db_pool_size: int = Field(
        default=10,
        ge=1,
        description="Database connections per process (as many again may overflow)",
    )
    db_pool_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Longest wait of an API request for a database connection; past it the "
        "request is answered 503 with Retry-After",
    )
    max_requests_in_flight: int | None = Field(
        default=None,
        ge=1,
        description="HTTP requests one API process serves at once; more are answered 503 with "
        "Retry-After at once. Default: 4 x LENDGRAPH_DB_POOL_SIZE",
    )

    broker_url: str | None = Field(
        default=None,
        validation_alias=_env("BROKER_URL", "broker_url"),
        description="Task broker: amqp:// (RabbitMQ) or redis:// URL",
    )

    host: str = Field(default="127.0.0.1", description="Address the API listens on")
    port: int = Field(default=8000, ge=1, le=65535, description="Port the API listens on")
    serve_workers: int = Field(default=1, ge=1, description="API worker processes (uvicorn)")
    worker_processes: int = Field(default=2, ge=1, description="Task worker processes")
    worker_threads: int = Field(default=4, ge=1, description="Threads per task worker process")
    data_dir: str = Field(
        default=".lendgraph",
        description="Folder for uploaded documents and, outside production, generated keys "
        "and the embedded PostgreSQL",
    )

    issuer: str = Field(
        default="http://127.0.0.1:8000", description="OAuth issuer URL put in every token"
    )
    audience: str = Field(default="lendgraph", description="Audience of access tokens")
    access_token_ttl_seconds: int = Field(
        default=900, ge=1, description="Access token lifetime in seconds"
    )
    refresh_token_ttl_seconds: int = Field(
        default=30 * 24 * 3600, ge=1, description="Refresh token lifetime in seconds"
    )
    jwt_private_jwks: SecretStr | None = Field(
        default=None, description="JSON Web Key Set with the private signing keys"
    )
    jwt_active_kid: str | None = Field(
        default=None, description="Key ID (kid) of the key that signs new tokens"
    )
    enable_password_grant: bool | None = Field(
        default=None,
        description="Allow the password grant (never in production; on in dev and test)",
    )

    data_key: SecretStr | None = Field(
        default=None,
        description="Key (32+ characters) that encrypts personal data at rest and keys its "
        "look-up hashes",
    )

    bureau_url: str | None = Field(
        default=None, description="Credit bureau API base URL (dev: the loopback sandbox)"
    )
    bureau_key_id: str | None = Field(
        default=None, description="Key ID lendgraph signs credit bureau requests with"
    )
    bureau_secret: SecretStr | None = Field(
        default=None,
        description="Secret (32+ characters) shared with the credit bureau under that key ID",
    )
    identity_url: str | None = Field(
        default=None, description="Identity verification API base URL (dev: the sandbox)"
    )
    identity_key_id: str | None = Field(
        default=None, description="Key ID lendgraph signs identity verification requests with"
    )
    identity_secret: SecretStr | None = Field(
        default=None, description="Secret (32+ characters) shared with the identity verifier"
    )
    price_feed_url: str | None = Field(
        default=None, description="Commodity price feed API base URL (dev: the sandbox)"
    )
    price_feed_key_id: str | None = Field(
        default=None, description="Key ID lendgraph signs price feed requests with"
    )
    price_feed_secret: SecretStr | None = Field(
        default=None, description="Secret (32+ characters) shared with the price feed"
    )
    payments_url: str | None = Field(
        default=None, description="Payment rail API base URL (dev: the loopback sandbox)"
    )
    payments_key_id: str | None = Field(
        default=None, description="Key ID lendgraph signs payment rail requests with"
    )
    payments_secret: SecretStr | None = Field(
        default=None,
        description="Secret (32+ characters) shared with the payment rail under that key ID",
    )
    payments_callback_secret: SecretStr | None = Field(
        default=None,
        description="Secret (32+ characters) the payment rail signs its settlement callbacks with",
    )

    @field_validator("payments_url")
    @classmethod
    def _payments_url(cls, value: str | None) -> str | None:
        return Settings._http_url(value)

    @field_validator("payments_secret", "payments_callback_secret")
    @classmethod
    def _payments_secret(cls, value: SecretStr | None) -> SecretStr | None:
        return Settings._long_secret(value)

    esign_url: str | None = Field(
        default=None, description="E-signature API base URL (dev: the loopback sandbox)"
    )
    esign_key_id: str | None = Field(
        default=None, description="Key ID lendgraph signs e-signature requests with"
    )
    esign_secret: SecretStr | None = Field(
        default=None,
        description="Secret (32+ characters) shared with the e-signature service under that key ID",
    )
    esign_callback_secret: SecretStr | None = Field(
        default=None,
        description="Secret (32+ characters) the e-signature service signs its callbacks with",
    )
    esign_reconcile_after_seconds: int = Field(
        default=900,
        ge=1,
        description="How long an envelope out for signing may go unheard of (no callback) "
        "before the worker reads its state back from the e-signature service",
    )
    pledge_registry_url: str | None = Field(
        default=None, description="Pledge registry API base URL (dev: the loopback sandbox)"
    )
    pledge_registry_key_id: str | None = Field(
        default=None, description="Key ID lendgraph signs pledge registry requests with"
    )
    pledge_registry_secret: SecretStr | None = Field(
        default=None,
        description="Secret (32+ characters) shared with the pledge registry under that key ID",
    )
    provider_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="Longest one call to an outside provider may take, connect to last byte",
    )
    sandbox_latency_seconds: float = Field(
        default=0.3,
        ge=0,
        le=30,
        description="Typical answer delay of the sandbox providers that dev starts",
    )

    max_query_depth: int = Field(default=12, ge=1, description="Deepest GraphQL selection allowed")
    max_aliases: int = Field(default=30, ge=1, description="Most aliases in one GraphQL document")
    max_query_tokens: int = Field(
        default=2000, ge=1, description="Most tokens in one GraphQL document"
    )
    graphiql: bool | None = Field(
        default=None,
        description="Serve GraphiQL to browsers on GET /graphql (on by default in dev and "
        "test, off in production)",
    )
    max_query_cost: int = Field(
        default=1000,
        ge=1,
        description="Highest query cost one GraphQL operation may have (Shopify's rules, "
        "computed before execution); a costlier one is refused with MAX_COST_EXCEEDED",
    )
    cost_bucket_capacity: float = Field(
        default=1000.0,
        gt=0,
        description="Query cost points a client's bucket holds (per token's client and user, "
        "or per remote address; kept per process)",
    )
    cost_restore_rate: float = Field(
        default=50.0,
        gt=0,
        description="Query cost points a second that refill a client's bucket",
    )
    ws_principal_recheck_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often an open GraphQL WebSocket re-checks that its client, user and "
        "tenant are still active (a disabled principal's socket closes within about this long)",
    )
    ws_max_subscriptions: int = Field(
        default=10,
        gt=0,
        description="Subscriptions one GraphQL WebSocket may run at once (the next is refused "
        "with an error; the socket stays open)",
    )
    log_level: str = Field(default="INFO", description="Log level: DEBUG, INFO, WARNING or ERROR")
    log_json: bool = Field(default=True, description="JSON log lines (false: console format)")

    @field_validator("database_url", "app_database_url")
    @classmethod
    def _postgresql_url(cls, value: str | None) -> str | None:
        # Never echo the value: it may carry a password.
        if value is None:
            return None
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("not a database URL (postgresql://user:password@host/db)") from None
        if not url.drivername.startswith(("postgresql", "postgres")):
            raise ValueError(f"expected a postgresql:// URL, not {url.drivername}://")
        return value

    @field_validator(
        "bureau_url", "identity_url", "price_feed_url", "esign_url", "pledge_registry_url"
    )
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator(
        "bureau_secret",
        "identity_secret",
        "price_feed_secret",
        "esign_secret",
        "esign_callback_secret",
        "pledge_registry_secret",
    )
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("must have at least 32 characters")
        return value

    @field_validator("data_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must have at least 32 characters")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @property
    def graphiql_enabled(self) -> bool:
        """GraphiQL is a development tool: on outside production unless turned off."""
        if self.graphiql is not None:
            return self.graphiql
        return self.environment != "production"

    @property
    def requests_in_flight_limit(self) -> int:
        """The bound on HTTP requests in flight per API process."""
        return self.max_requests_in_flight or 4 * self.db_pool_size

    @property
    def password_grant_enabled(self) -> bool:
        """The resource-owner password grant exists only for local development."""
        if self.enable_password_grant is not None:
            return self.enable_password_grant and self.environment != "production"
        return self.environment in ("dev", "test")


def env_name(setting: str) -> str:
    """The environment variable of a setting (a field of :class:`Settings`)."""
    alias = Settings.model_fields[setting].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"LENDGRAPH_{setting.upper()}"


def _setting_of(location: object) -> str:
    """The field named by a validation error's location (a field name or one of its aliases)."""
    name = str(location)
    if name in Settings.model_fields:
        return name
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices) and name in alias.choices:
            return field
    return name


@dataclass(frozen=True)
class Need:
    """A setting a command requires in some environments; with several names, any one of
    them will do."""

    settings: tuple[str, ...]
    environments: frozenset[Environment]

    def names(self) -> str:
        """The environment variables, as a message names them."""
        return " or ".join(env_name(s) for s in self.settings)


def in_production(*settings: str) -> Need:
    """Required in production (dev and test generate or derive it)."""
    return Need(settings, frozenset({"production"}))


def outside_production(*settings: str) -> Need:
    """Required in dev and test."""
    return Need(settings, frozenset({"dev", "test"}))


def everywhere(*settings: str) -> Need:
    """Required in every environment."""
    return Need(settings, frozenset(ENVIRONMENTS))


@dataclass(frozen=True)
class CommandSettings:
    """What one command does, the settings it reads (for ``--help``), those it requires,
    those it must not be given in production, and where it may run at all."""

    summary: str
    reads: tuple[str, ...]
    needs: tuple[Need, ...] = ()
    refused_in_production: tuple[str, ...] = ()
    environments: frozenset[Environment] = frozenset(ENVIRONMENTS)


_LOGS = ("log_level", "log_json")
_PROVIDERS = (
    "bureau_url",
    "bureau_key_id",
    "bureau_secret",
    "identity_url",
    "identity_key_id",
    "identity_secret",
    "price_feed_url",
    "price_feed_key_id",
    "price_feed_secret",
    "provider_timeout_seconds",
)
_PAYOUT_RAIL = ("payments_url", "payments_key_id", "payments_secret")
_ESIGNATURE = ("esign_url", "esign_key_id", "esign_secret")
_PLEDGE_REGISTRY = ("pledge_registry_url", "pledge_registry_key_id", "pledge_registry_secret")
_APP_DATABASE = ("app_database_url", "database_url", "app_db_role", "app_db_password")
# A serving process connects as the application role only: in production it needs that role's
# URL, and must not hold the owner's; elsewhere the owner's URL gives the server and database.
_APP_DATABASE_NEEDS = (
    in_production("app_database_url"),
    outside_production("app_database_url", "database_url"),
)

COMMANDS: dict[str, CommandSettings] = {
    "serve": CommandSettings(
        summary="Run the HTTP API (GraphQL, OAuth, health and metrics) under uvicorn.",
        reads=(
            "environment",
            *_APP_DATABASE,
            "db_pool_size",
            "db_pool_timeout_seconds",
            "max_requests_in_flight",
            "host",
            "port",
            "serve_workers",
            "data_dir",
            "issuer",
            "audience",
            "access_token_ttl_seconds",
            "refresh_token_ttl_seconds",
            "jwt_private_jwks",
            "jwt_active_kid",
            "enable_password_grant",
            "data_key",
            "max_query_depth",
            "max_aliases",
            "max_query_tokens",
            "graphiql",
            "max_query_cost",
            "cost_bucket_capacity",
            "cost_restore_rate",
            "ws_principal_recheck_seconds",
            "ws_max_subscriptions",
            "broker_url",
            *_LOGS,
        ),
        needs=(
            *_APP_DATABASE_NEEDS,
            # The jobs its units of work send after commit (integration calls, the relay's
            # doorbell): without a broker they would go to an in-process queue no worker reads.
            in_production("broker_url"),
            in_production("jwt_private_jwks"),
            in_production("jwt_active_kid"),
            in_production("data_key"),
        ),
        refused_in_production=("database_url",),
    ),
    "worker": CommandSettings(
        summary="Run Dramatiq task workers on the broker.",
        reads=(
            "environment",
            *_APP_DATABASE,
            "broker_url",
            "worker_processes",
            "worker_threads",
            *_PROVIDERS,
            *_PAYOUT_RAIL,
            *_ESIGNATURE,
            "esign_reconcile_after_seconds",
            "data_dir",
            *_PLEDGE_REGISTRY,
            "issuer",
            "data_key",
            *_LOGS,
        ),
        needs=(
            *_APP_DATABASE_NEEDS,
            everywhere("broker_url"),
            # The risk checks: the providers, and the key that opens the applicant's data;
            # the payouts: the payment rail (its callbacks come back to the issuer's URL);
            # the contracts: the e-signature service (its callbacks likewise).
            *(in_production(name) for name in _PROVIDERS if name != "provider_timeout_seconds"),
            *(in_production(name) for name in _PAYOUT_RAIL),
            *(in_production(name) for name in _ESIGNATURE),
            # The pledges: filed at the registry from the workers.
            *(in_production(name) for name in _PLEDGE_REGISTRY),
            in_production("data_key"),
        ),
        refused_in_production=("database_url",),
    ),
    "scheduler": CommandSettings(
        summary="Enqueue periodic work on the broker until interrupted.",
        reads=("environment", *_APP_DATABASE, "broker_url", *_LOGS),
        needs=(*_APP_DATABASE_NEEDS, everywhere("broker_url")),
        refused_in_production=("database_url",),
    ),
    "migrate": CommandSettings(
        summary="Apply pending database migrations as the owner (idempotent); create the "
        "application role and, when LENDGRAPH_APP_DB_PASSWORD is set, set its password.",
        reads=("environment", "database_url", "app_db_role", "app_db_password", *_LOGS),
        needs=(everywhere("database_url"),),
    ),
    "seed-demo": CommandSettings(
        summary="Create the demo marketplace (not in production). Connects as the owner and "
        "writes as the application role, under row-level security.",
        reads=("environment", "database_url", "app_db_role", "data_key", "data_dir", *_LOGS),
        needs=(everywhere("database_url"),),
        environments=frozenset({"dev", "test"}),
    ),
    "export-schema": CommandSettings(
        summary="Print the GraphQL SDL.",
        reads=(),
    ),
    "dev": CommandSettings(
        summary="Everything in one process for a first look: an embedded PostgreSQL (unless "
        "DATABASE_URL is set), migrations, demo data, in-process workers, the scheduler and "
        "the API.",
        reads=(
            "environment",
            "database_url",
            "broker_url",
            "host",
            "port",
            "data_dir",
            "issuer",
            "graphiql",
            *_PROVIDERS,
            "sandbox_latency_seconds",
            *_LOGS,
        ),
        environments=frozenset({"dev", "test"}),
    ),
}


def in_words(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _missing(value: object) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value is None or (isinstance(value, str) and not value.strip())


def check(command: str, settings: Settings) -> None:
    """Raise :class:`ConfigurationError` unless ``settings`` give ``command`` what it needs."""
    spec = COMMANDS[command]
    env = settings.environment
    if env not in spec.environments:
        allowed = " or ".join(e for e in ENVIRONMENTS if e in spec.environments)
        raise ConfigurationError(f"LENDGRAPH_ENV is {env}; this command runs only in {allowed}")
    if env == "production":
        present = [s for s in spec.refused_in_production if not _missing(getattr(settings, s))]
        if present:
            names = ", ".join(env_name(s) for s in present)
            raise ConfigurationError(
                f"{names} (owner credentials) must not be given to this command in production;"
                f" it connects with {env_name('app_database_url')} only"
            )
    missing = [
        need
        for need in spec.needs
        if env in need.environments and all(_missing(getattr(settings, s)) for s in need.settings)
    ]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        where = " in production" if env == "production" else ""
        listed = in_words([need.names() for need in missing])
        raise ConfigurationError(f"{listed} {verb} required{where}")


def load_settings(overrides: Mapping[str, object] | None = None) -> Settings:
    """The environment's settings with ``overrides`` (command-line flags) applied over them;
    an invalid value is a :class:`ConfigurationError` naming its variable."""
    given: dict[str, Any] = {k: v for k, v in (overrides or {}).items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        setting = _setting_of(first["loc"][0]) if first["loc"] else "settings"
        name = env_name(setting) if setting in Settings.model_fields else setting
        message = str(first["msg"]).removeprefix("Value error, ")
        more = len(exc.errors()) - 1
        suffix = f" (and {more} more invalid setting{'s' if more > 1 else ''})" if more else ""
        raise ConfigurationError(f"{name} is invalid: {message}{suffix}") from None


def settings_for(command: str, overrides: Mapping[str, object] | None = None) -> Settings:
    """Settings for ``command``, checked against its declaration before it starts."""
    settings = load_settings(overrides)
    check(command, settings)
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process, read once (by code that runs inside a started command)."""
    return Settings()
