"""Idempotent mutations over GraphQL (DESIGN.md section 9, Stripe semantics): a mutation that
takes an ``idempotencyKey`` answers a retry with the same key and the same request with its
first answer, byte for byte, and refuses the key for another request.

"The same request" is the mutation field, its input and the selection set asked of its payload
(fields, aliases, arguments, fragments and directives, in order; not how the input is written,
in variables or inline, nor the names of fragments): a retry that asks for other fields cannot be
served from the stored answer and is refused with IDEMPOTENCY_KEY_REUSED like
one with another input. "The answer" is the field's result as it went out: its JSON value and
the errors at or under its path (after masking).

Three parts, each where Strawberry lets it see what it needs:

* :func:`idempotent` wraps the resolver's use case, inside the use case's savepoint: it
  records the key before the effect (``domain.idempotency.begin``), so a refusal takes the key
  back with the effect, and it notes the field's fate for this operation (fresh or replayed).
  On a replay it returns None without acting: the resolver's payload is a placeholder.
* :class:`IdempotentAnswers`, a schema extension, runs when the result is complete and the
  request's transaction is still open (the view commits after it): it stores each fresh
  field's serialised answer in its key row, in the transaction of the effect, and puts each
  replayed field's stored answer in place of the placeholder. It must come before
  ``MaskErrors`` in the schema's extensions, so that it sees errors already masked.
* :class:`ReplayedHeader`, ASGI middleware, marks a replayed answer with the response header
  ``Idempotent-Replayed`` (naming the replayed fields by response key), since the body of a
  replay cannot carry the mark and still equal the first.

Only answered requests keep their key: a request refused with userErrors, or failing, leaves
none, and a retry runs afresh. If an answered field's data is lost to an error that nulls the
whole result, the request fails and its transaction rolls back, effect included, rather than
keep an effect whose answer cannot be replayed.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol, TypeVar

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, GraphQLFormattedError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry import relay
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult, Info
from strawberry.types.nodes import SelectedField, Selection
from strawberry.types.unset import UNSET

from domain.idempotency import service as idempotency
from domain.kernel.actor import Actor

T = TypeVar("T")

#: The response header that marks a replay: the response keys of the replayed fields.
REPLAYED_HEADER = "Idempotent-Replayed"


class KeyedInput(Protocol):
    """A mutation input that may carry an idempotency key."""

    @property
    def idempotency_key(self) -> str | None:
        """The caller's key, if any."""
        ...


@dataclass
class _Answers:
    """What the idempotent fields of one operation did, by response key."""

    fresh: dict[str, idempotency.Fresh] = field(default_factory=dict)
    replays: dict[str, str] = field(default_factory=dict)


_operation: ContextVar[_Answers | None] = ContextVar("lendgraph_idempotent_answers", default=None)
_replayed: ContextVar[list[str] | None] = ContextVar("lendgraph_replayed_fields", default=None)


# -- the resolver's side ------------------------------------------------------------------------


def idempotent(
    info: Info,
    input: KeyedInput,
    use_case: Callable[[AsyncSession, Actor], Awaitable[T]],
) -> Callable[[AsyncSession, Actor], Awaitable[T | None]]:
    """``use_case`` made idempotent by ``input.idempotency_key``, for ``run_use_case``: the
    first request with a key acts; a retry of the same request returns None without acting
    (the stored answer replaces the field's result after execution); the key with another
    request, or while the first still runs, is refused. Without a key, ``use_case`` itself."""
    key = input.idempotency_key
    if key is None:
        return use_case
    answers = _operation.get()
    if answers is None or info.path.prev is not None:
        raise RuntimeError(
            "idempotent() serves root mutation fields of a schema with IdempotentAnswers"
        )
    response_key = str(info.path.key)
    operation = info.field_name
    request_hash = idempotency.fingerprint(
        operation,
        {
            "input": _plain(input),
            "selection": _selection([s for f in _fields(info.selected_fields) for s in f]),
        },
    )

    async def run(session: AsyncSession, actor: Actor) -> T | None:
        started = await idempotency.begin(
            session, actor, operation=operation, key=key, request_hash=request_hash
        )
        if isinstance(started, idempotency.Replay):
            answers.replays[response_key] = started.response
            return None
        outcome = await use_case(session, actor)
        answers.fresh[response_key] = started
        return outcome

    return run


def _fields(selected: Sequence[Selection]) -> list[list[Selection]]:
    # The field itself, once per node that asks for it (a document may name it twice under
    # one response key): the selections asked of its payload.
    return [s.selections for s in selected if isinstance(s, SelectedField)]


def _selection(selections: Sequence[Selection]) -> list[object]:
    """A selection set as plain data, in order (the answer's keys follow it). A fragment
    counts by its type condition and content, not its name: a named fragment and the same
    inline fragment are one request (fields written without one are another)."""
    out: list[object] = []
    for s in selections:
        if isinstance(s, SelectedField):
            out.append(
                [
                    s.alias or s.name,
                    s.name,
                    _plain(s.arguments),
                    _plain(s.directives),
                    _selection(s.selections),
                ]
            )
        else:  # a fragment spread or an inline fragment
            out.append(["...", s.type_condition, _plain(s.directives), _selection(s.selections)])
    return out


def _plain(value: object) -> object:
    """An input value as canonical JSON data: input objects by field (an unset field is left
    out), enums by value, IDs, decimals and times as strings."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, relay.GlobalID | Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not UNSET
        }
    raise TypeError(f"an idempotent mutation's input holds a {type(value).__name__}")


# -- after execution ------------------------------------------------------------------------------


class IdempotentAnswers(SchemaExtension):
    """Stores the answers of fresh idempotent fields and replays stored ones (see the module
    docstring). Per operation; list it before ``MaskErrors``."""

    async def on_operation(self) -> AsyncIterator[None]:
        """Collect what the operation's idempotent fields did, then settle their answers."""
        answers = _Answers()
        token = _operation.set(answers)
        try:
            yield
        finally:
            _operation.reset(token)
        if answers.fresh or answers.replays:
            await self._settle(answers)

    async def _settle(self, answers: _Answers) -> None:
        result = self.execution_context.result
        if not isinstance(result, GraphQLExecutionResult | ExecutionResult):
            return  # pragma: no cover - mutations are not streamed
        data = result.data
        if answers.fresh:
            if data is None:
                # A null that reached the root took the answers with it: fail the request so
                # that its transaction, effects and keys, rolls back.
                raise GraphQLError(
                    "The answer to an idempotent mutation could not be completed; nothing was "
                    "done. Retry with the same idempotency key."
                )
            async with self.execution_context.context.db() as session:
                for key, fresh in answers.fresh.items():
                    mine = [e.formatted for e in result.errors or [] if _root_key(e) == key]
                    await idempotency.complete(session, fresh, _stored(data.get(key), mine))
        if data is not None:
            for key, stored in answers.replays.items():
                _replay(result, data, key, stored)
            marks = _replayed.get()
            if marks is not None:
                marks.extend(answers.replays)


def _stored(value: object, errors: list[GraphQLFormattedError]) -> str:
    # Compact and ASCII-only (PostgreSQL text cannot hold NUL; escaped it can); the replay
    # parses it back, so the view serialises the same values in the same order.
    return json.dumps({"data": value, "errors": errors}, separators=(",", ":"))


def _root_key(error: GraphQLError) -> object:
    return error.path[0] if error.path else None


def _replay(result: Any, data: dict[str, Any], key: str, stored: str) -> None:
    """Put a stored answer in place of the placeholder at ``key`` (whose own fields were
    completed too: cheaply, since a placeholder's objects are null), its errors where the
    errors of that root field come (root mutation fields run, and err, in order)."""
    answer = json.loads(stored)
    data[key] = answer["data"]
    # Whatever the placeholder's own fields raised is not part of the answer.
    errors = [e for e in result.errors or [] if _root_key(e) != key]
    if not answer["errors"]:
        result.errors = errors or None
        return
    order = list(data)

    def rank(error: GraphQLError) -> int:
        root = _root_key(error)
        return order.index(root) if root in order else -1

    at = next((n for n, e in enumerate(errors) if rank(e) > order.index(key)), len(errors))
    errors[at:at] = [_StoredError(key, e) for e in answer["errors"]]
    result.errors = errors


class _StoredError(GraphQLError):
    """An error of a stored answer, formatted as it was the first time (under the response
    key the retry uses)."""

    def __init__(self, key: str, formatted: dict[str, Any]) -> None:
        path = [key, *formatted.get("path", [key])[1:]]
        super().__init__(formatted["message"], path=path)
        self._stored: dict[str, Any] = {**formatted, "path": path}

    @property
    def formatted(self) -> GraphQLFormattedError:
        """The stored form."""
        return self._stored  # type: ignore[return-value]


# -- the response header ------------------------------------------------------------------------


class ReplayedHeader:
    """Pure ASGI middleware: adds ``Idempotent-Replayed: <response keys>`` to a response
    whose operation replayed stored answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        marks: list[str] = []
        token = _replayed.set(marks)

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start" and marks:
                header = (REPLAYED_HEADER.lower().encode(), ", ".join(marks).encode("latin-1"))
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        try:
            await self.app(scope, receive, send_marked)
        finally:
            _replayed.reset(token)


__all__ = ["REPLAYED_HEADER", "IdempotentAnswers", "KeyedInput", "ReplayedHeader", "idempotent"]
