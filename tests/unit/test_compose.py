"""docker-compose.yml gives the owner's credentials to ``migrate`` only: the API, workers and
scheduler get the application role's URL, with the password migrate sets on that role, and
each service's environment passes its command's own start-up check."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from lendgraph.settings import Settings, check

ROOT = Path(__file__).resolve().parents[2]
SERVING = ("api", "worker", "scheduler")


def _services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return services


def _provided(name: str) -> str:
    # A URL the operator provides is an https:// URL; anything else a long enough value.
    if name.endswith("_URL"):
        return f"https://{name.lower().replace('_', '-')}.operator.example"
    return f"<{name} provided by the operator>"


def _environment(service: dict[str, Any]) -> dict[str, str]:
    # ${NAME:?message} stands for a value the operator must provide.
    return {
        name: re.sub(r"\$\{(\w+):\?[^}]*\}", lambda m: _provided(m.group(1)), str(value))
        for name, value in service["environment"].items()
    }


def _command(service: dict[str, Any]) -> str:
    command = service["command"]
    return str(command[1])


@pytest.mark.parametrize("name", SERVING)
def test_serving_services_connect_as_the_app_role(name: str) -> None:
    env = _environment(_services()[name])
    assert "DATABASE_URL" not in env
    assert env["LENDGRAPH_ENV"] == "production"
    url = make_url(env["APP_DATABASE_URL"])
    assert url.username == "lendgraph_app"
    migrate = _environment(_services()["migrate"])
    assert url.password == migrate["LENDGRAPH_APP_DB_PASSWORD"]
    owner = make_url(migrate["DATABASE_URL"])
    assert (url.host, url.port, url.database) == (owner.host, owner.port, owner.database)


def test_only_migrate_holds_the_owner_url_and_no_serving_secret() -> None:
    services = _services()
    holders = [name for name, s in services.items() if "DATABASE_URL" in s.get("environment", {})]
    assert holders == ["migrate"]
    env = _environment(services["migrate"])
    assert set(env) == {"LENDGRAPH_ENV", "DATABASE_URL", "LENDGRAPH_APP_DB_PASSWORD"}
    owner = make_url(env["DATABASE_URL"])
    postgres = services["postgres"]["environment"]
    assert (owner.username, owner.password) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
    )


@pytest.mark.parametrize("name", [*SERVING, "migrate"])
def test_each_service_passes_its_command_check(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    service = _services()[name]
    for variable in list(os.environ):
        if variable.startswith("LENDGRAPH_") or variable.endswith("DATABASE_URL"):
            monkeypatch.delenv(variable)
    for variable, value in _environment(service).items():
        monkeypatch.setenv(variable, value)
    check(_command(service), Settings())


def test_the_image_serves_by_default() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    (cmd,) = re.findall(r"^CMD (.+)$", dockerfile, flags=re.MULTILINE)
    assert shlex.split(cmd.replace("[", "").replace("]", "").replace(",", " ")) == [
        "lendgraph",
        "serve",
    ]
