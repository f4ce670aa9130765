"""GraphiQL as a person uses it: headless Chromium (Debian's package, driven by Playwright,
which downloads no browser) opens ``GET /graphql`` of ``lendgraph dev``, which serves the page
and every asset itself, types ``{ viewer { kind } }`` with a token in the headers editor, runs
it and sees the answer in the page. A screenshot goes to ``tests/artifacts/``."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import URL

from lendgraph.demo import CONSOLE_CLIENT, DEMO_PASSWORD
from tests.processes import answering, free_port

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LENDGRAPH = str(Path(sys.executable).parent / "lendgraph")


def _chromium_or_skip() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"{CHROMIUM} is missing: apt-get install chromium chromium-driver (.ci/run does)"
    if os.environ.get("CI"):
        pytest.fail(message)  # CI installs it: missing there is a broken set-up
    pytest.skip(message)


@pytest.fixture
def dev_server(owner_url: URL, tmp_path: Path) -> Iterator[str]:
    """``lendgraph dev`` on this test process's database (demo data seeded by it)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LENDGRAPH_")
        and k not in ("DATABASE_URL", "TEST_DATABASE_URL", "APP_DATABASE_URL")
    }
    env.update(
        LENDGRAPH_ENV="dev",  # GraphiQL is on by default here
        DATABASE_URL=owner_url.set(drivername="postgresql").render_as_string(hide_password=False),
        LENDGRAPH_DATA_DIR=str(tmp_path / "data"),
        LENDGRAPH_LOG_LEVEL="WARNING",
    )
    log = tmp_path / "dev.log"
    command = [LENDGRAPH, "dev", "--port", str(port)]
    with answering(command, env, log, f"{base}/readyz", wait=180):
        yield base


def _set_editor(page, selector: str, value: str) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(selector)
    page.eval_on_selector(selector, "(el, value) => el.CodeMirror.setValue(value)", value)


def test_graphiql_runs_viewer_with_a_token_from_lendgraph_dev(dev_server: str) -> None:
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    token = httpx.post(
        f"{dev_server}/oauth/token",
        data={
            "grant_type": "password",
            "username": "admin@lendgraph.dev",
            "password": DEMO_PASSWORD,
        },
        auth=CONSOLE_CLIENT,
    )
    assert token.status_code == 200, token.text
    headers = json.dumps({"Authorization": f"Bearer {token.json()['access_token']}"})

    ARTIFACTS.mkdir(exist_ok=True)
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("request", lambda request: requested.append(request.url))
            page_errors: list[str] = []
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            response = page.goto(f"{dev_server}/graphql")
            assert response is not None and response.status == 200
            assert response.headers["content-type"].startswith("text/html")
            page.wait_for_selector(".graphiql-container")

            _set_editor(page, ".graphiql-query-editor .CodeMirror", "{ viewer { kind } }")
            # The headers editor is open (defaultEditorToolsVisibility); the variables one is
            # hidden next to it.
            _set_editor(page, ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror",
                        headers)  # fmt: skip
            page.click(".graphiql-execute-button")
            page.wait_for_function(
                "() => document.querySelector('.result-window')"
                " && document.querySelector('.result-window').innerText.includes('USER')"
            )
            shown = page.inner_text(".result-window")
            page.screenshot(path=str(ARTIFACTS / "graphiql.png"))
        finally:
            browser.close()

    assert '"kind": "USER"' in shown.replace("\u00a0", " "), shown
    assert page_errors == []
    # Everything the page loaded came from lendgraph itself: no CDN.
    assert requested, "the page made no request"
    assert all(url.startswith(f"{dev_server}/") for url in requested), requested
    assets = {url.removeprefix(dev_server) for url in requested}
    assert "/graphiql/static/graphiql.min.js" in assets


def test_chromium_is_installed_where_ci_runs() -> None:
    """.ci/run installs Debian's chromium when it is missing; the browser test needs it."""
    _chromium_or_skip()
    assert shutil.which("chromium") or Path(CHROMIUM).exists()
