"""A counting proxy for the PostgreSQL wire protocol: it sits between the application's pool
and the server and records every statement the server is asked to run, as the server sees
it (simple queries such as ``BEGIN`` and ``COMMIT``, and each execution of a prepared
statement), independently of the driver and of SQLAlchemy's events.

It refuses TLS (answers ``N`` to the client's SSLRequest) so that the messages can be read."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass, field

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


@dataclass
class _Session:
    statements: dict[bytes, str] = field(default_factory=dict)
    portals: dict[bytes, bytes] = field(default_factory=dict)


@dataclass
class CountingProxy:
    """Listens on 127.0.0.1 (``port`` once started) and forwards to ``host:port`` upstream;
    ``executed`` lists the SQL of every statement run since the last :meth:`reset`."""

    upstream_host: str
    upstream_port: int
    port: int = 0
    executed: list[str] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    def reset(self) -> list[str]:
        """The statements since the last reset, and start counting afresh."""
        seen, self.executed = self.executed, []
        return seen

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        back = asyncio.create_task(_pipe(up_reader, writer))
        self._tasks.add(back)
        try:
            await self._frontend(reader, writer, up_writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            back.cancel()
            for w in (up_writer, writer):
                w.close()
            self._tasks.discard(back)
            self._tasks.discard(task)

    async def _frontend(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream: asyncio.StreamWriter,
    ) -> None:
        # Start-up: untyped messages (length, code, ...), TLS and GSS requests refused.
        while True:
            head = await reader.readexactly(8)
            length, code = struct.unpack("!ii", head)
            rest = await reader.readexactly(length - 8)
            if code in (_SSL_REQUEST, _GSSENC_REQUEST):
                writer.write(b"N")
                await writer.drain()
                continue
            upstream.write(head + rest)
            await upstream.drain()
            break
        session = _Session()
        while True:
            kind = await reader.readexactly(1)
            (length,) = struct.unpack("!i", await reader.readexactly(4))
            body = await reader.readexactly(length - 4)
            self._note(session, kind, body)
            upstream.write(kind + struct.pack("!i", length) + body)
            await upstream.drain()

    def _note(self, session: _Session, kind: bytes, body: bytes) -> None:
        if kind == b"Q":  # simple query
            self.executed.append(body.rstrip(b"\0").decode())
        elif kind == b"P":  # Parse: statement name, SQL
            name, sql, _ = body.split(b"\0", 2)
            session.statements[name] = sql.decode()
        elif kind == b"B":  # Bind: portal name, statement name
            portal, statement, _ = body.split(b"\0", 2)
            session.portals[portal] = statement
        elif kind == b"E":  # Execute: portal name
            portal = body.split(b"\0", 1)[0]
            statement = session.portals.get(portal, b"")
            self.executed.append(session.statements.get(statement, "<unknown>"))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, asyncio.CancelledError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    # The server hung up (after a Terminate, say): so does the proxy, or the client would
    # wait for the close forever.
    writer.close()


__all__ = ["CountingProxy"]
