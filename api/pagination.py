"""Keyset pagination shared by every connection: ``first`` checks, opaque cursors and page
info."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry import relay

MAX_PAGE = 100

# The arguments every connection takes.
First = Annotated[
    int,
    strawberry.argument(
        description="Page size, 1 to 100. Query cost: the connection costs 2 plus first times "
        "the cost of one node (1 plus what it selects)."
    ),
]
After = Annotated[str | None, strawberry.argument(description="Cursor to continue after.")]


def check_first(first: int) -> None:
    """``first`` is required and capped."""
    if not 1 <= first <= MAX_PAGE:
        raise GraphQLError(
            f"first must be from 1 to {MAX_PAGE}", extensions={"code": "BAD_USER_INPUT"}
        )


def encode_keyset(prefix: str, at: datetime, *ids: uuid.UUID) -> str:
    """An opaque cursor for the keyset position ``(at, *ids)``; the prefix names the
    connection, so a cursor of one cannot be replayed on another."""
    raw = "|".join([prefix, at.isoformat(), *(str(i) for i in ids)])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_keyset(
    prefix: str, cursor: str | None, id_count: int
) -> tuple[datetime, tuple[uuid.UUID, ...]] | None:
    """The position in ``cursor``; a GraphQL error when it is not one of ours."""
    if cursor is None:
        return None
    try:
        kind, at, *ids = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        if kind != prefix or len(ids) != id_count:
            raise ValueError(kind)
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError(at)
        return moment, tuple(uuid.UUID(i) for i in ids)
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise GraphQLError("invalid cursor", extensions={"code": "BAD_USER_INPUT"}) from exc


def page_info(cursors: list[str], has_next: bool) -> relay.PageInfo:
    """Forward-only page info for the cursors of one page."""
    return relay.PageInfo(
        has_next_page=has_next,
        has_previous_page=False,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )
