"""All sandbox providers in one loopback HTTP server: each kind mounted under its prefix
(:data:`PREFIXES`) of one uvicorn server on a free port, run in a thread of its own so that
both the tests and ``lendgraph dev`` (whatever their event loops) can start and stop it
(:class:`LoopbackServer` serves any app that way, e.g. a test's callback receiver).

    with SandboxServer(latency=0.0) as sandbox:
        os.environ.update(sandbox.environment())  # what lendgraph dev does
        providers = risk_providers(Settings())
"""

from __future__ import annotations

import functools
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Final, Self

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from domain.risk.ports import ProviderKind
from integrations.bureau import sandbox as bureau
from integrations.esign import sandbox as esign
from integrations.identity import sandbox as identity
from integrations.payments import sandbox as payments
from integrations.pledge_registry import sandbox as pledge_registry
from integrations.provider import MAX_REQUEST_BYTES, SandboxLog, SandboxProvider
from integrations.signing import Credentials
from integrations.valuation import sandbox as valuation

__all__ = [
    "PREFIXES",
    "LoopbackServer",
    "SandboxServer",
    "generate_credentials",
    "sandbox_app",
]

PREFIXES: Final[Mapping[ProviderKind, str]] = {
    ProviderKind.CREDIT_BUREAU: "/bureau",
    ProviderKind.IDENTITY: "/identity",
    ProviderKind.PRICE_FEED: "/prices",
    ProviderKind.ESIGNATURE: "/esign",
    ProviderKind.PAYMENT_RAIL: "/payments",
    ProviderKind.PLEDGE_REGISTRY: "/pledge-registry",
}
_APPS: Mapping[ProviderKind, Callable[..., Starlette]] = {
    ProviderKind.CREDIT_BUREAU: bureau.create_app,
    ProviderKind.IDENTITY: identity.create_app,
    ProviderKind.PRICE_FEED: valuation.create_app,
    ProviderKind.ESIGNATURE: esign.create_app,
    ProviderKind.PAYMENT_RAIL: payments.create_app,
    ProviderKind.PLEDGE_REGISTRY: pledge_registry.create_app,
}
#: Larger requests than the default some kinds take: an envelope carries its PDF (a contract
#: with embedded CJK font subsets is some 100 KiB, base64 a third more).
MAX_REQUEST_BYTES_BY_KIND: Final[Mapping[ProviderKind, int]] = {
    ProviderKind.ESIGNATURE: 4 * 1024 * 1024,
}
#: The settings that point a deployment at each kind (see ``lendgraph.settings``).
SETTING_PREFIXES: Final[Mapping[ProviderKind, str]] = {
    ProviderKind.CREDIT_BUREAU: "LENDGRAPH_BUREAU",
    ProviderKind.IDENTITY: "LENDGRAPH_IDENTITY",
    ProviderKind.PRICE_FEED: "LENDGRAPH_PRICE_FEED",
    ProviderKind.ESIGNATURE: "LENDGRAPH_ESIGN",
    ProviderKind.PAYMENT_RAIL: "LENDGRAPH_PAYMENTS",
    ProviderKind.PLEDGE_REGISTRY: "LENDGRAPH_PLEDGE_REGISTRY",
}


def generate_credentials() -> dict[ProviderKind, Credentials]:
    """A fresh key ID and secret for each kind."""
    return {
        kind: Credentials(f"sandbox-{kind.lower()}-{secrets.token_hex(4)}", _generate_secret())
        for kind in ProviderKind
    }


def _generate_secret() -> bytes:
    # Text, as a setting carries it (its UTF-8 bytes are the key).
    return secrets.token_hex(32).encode()


def sandbox_app(
    credentials: Mapping[ProviderKind, Credentials],
    *,
    log: SandboxLog,
    latency: float = 0.0,
    hang_seconds: float = 30.0,
    callbacks: esign.CallbackOptions | None = None,
) -> Starlette:
    """One Starlette app with every sandbox kind under its prefix. ``callbacks`` say how the
    e-signature sandbox calls back (by default: signed with a fresh secret)."""
    options = callbacks or esign.CallbackOptions(secret=_generate_secret())
    apps: dict[ProviderKind, Callable[[SandboxProvider], Starlette]] = {
        **_APPS,
        ProviderKind.ESIGNATURE: functools.partial(esign.create_app, callbacks=options),
    }
    routes = [
        Mount(
            PREFIXES[kind],
            apps[kind](
                SandboxProvider(
                    kind.value,
                    credentials[kind],
                    log=log,
                    latency=latency,
                    hang_seconds=hang_seconds,
                    max_request_bytes=MAX_REQUEST_BYTES_BY_KIND.get(kind, MAX_REQUEST_BYTES),
                )
            ),
        )
        for kind in ProviderKind
    ]
    return Starlette(routes=routes)


class LoopbackServer:
    """``app`` served by uvicorn on ``host`` (loopback) at a free port, in a background
    thread with its own event loop."""

    #: The thread's name (seen in a thread dump).
    thread_name = "loopback"

    def __init__(self, app: Starlette, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        # No log configuration of its own (the process has one) and no lifespan to run; a
        # request held open (the timeout outcome) does not hold up the stop for long.
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_config=None,
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> Self:
        """Bind a free port and serve; returns once the server accepts connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the {self.thread_name} server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class SandboxServer(LoopbackServer):
    """The sandboxes served on ``host`` (loopback) at a free port, in a background thread.

    The e-signature sandbox signs its callbacks with :attr:`callback_secret` (generated
    unless given) and retries a refused one after ``callback_backoff`` seconds, doubling,
    ``callback_attempts`` times in all."""

    thread_name = "sandboxes"

    def __init__(
        self,
        credentials: Mapping[ProviderKind, Credentials] | None = None,
        *,
        latency: float = 0.0,
        hang_seconds: float = 30.0,
        host: str = "127.0.0.1",
        callback_secret: bytes | None = None,
        callback_backoff: float = 0.5,
        callback_attempts: int = 6,
    ) -> None:
        self.credentials = dict(credentials or generate_credentials())
        self.callback_secret = callback_secret or _generate_secret()
        self.log = SandboxLog()
        callbacks = esign.CallbackOptions(
            secret=self.callback_secret, backoff=callback_backoff, attempts=callback_attempts
        )
        super().__init__(
            sandbox_app(
                self.credentials,
                log=self.log,
                latency=latency,
                hang_seconds=hang_seconds,
                callbacks=callbacks,
            ),
            host=host,
        )

    def url(self, kind: ProviderKind) -> str:
        """Where ``kind``'s sandbox answers."""
        return self.base_url + PREFIXES[kind]

    def environment(self) -> dict[str, str]:
        """The settings (environment variables) that point every port at these sandboxes,
        and the secret the e-signature callbacks are signed with."""
        env: dict[str, str] = {}
        for kind, prefix in SETTING_PREFIXES.items():
            env[f"{prefix}_URL"] = self.url(kind)
            env[f"{prefix}_KEY_ID"] = self.credentials[kind].key_id
            env[f"{prefix}_SECRET"] = self.credentials[kind].secret.decode()
        env["LENDGRAPH_ESIGN_CALLBACK_SECRET"] = self.callback_secret.decode()
        # The secret the payment rail signs its callbacks with (its own, as a real rail's).
        env["LENDGRAPH_PAYMENTS_CALLBACK_SECRET"] = self.payouts.callback_secret
        return env

    @property
    def registry(self) -> pledge_registry.RegistrySandbox:
        """The pledge registry sandbox's own record of filings."""
        return pledge_registry.registry_of(self._server.config.app)

    @property
    def payouts(self) -> payments.SandboxRail:
        """The payment rail sandbox's own record of payouts and callback deliveries."""
        return payments.rail_of(self._server.config.app)
