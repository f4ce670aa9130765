"""Keyset cursors: round trips, and refusal of anything that is not one of ours."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest
from graphql import GraphQLError

from api.pagination import check_first, decode_keyset, encode_keyset

AT = datetime(2026, 11, 29, 8, 30, tzinfo=UTC)
# Fixed values: parameter IDs must be identical in every test worker.
A = uuid.UUID("8d6f2c1e-3b4a-4f5e-9a7b-1c2d3e4f5a6b")
B = uuid.UUID("0f1e2d3c-4b5a-4968-8776-655443322110")


def test_round_trip_with_one_and_two_ids() -> None:
    assert decode_keyset("po", encode_keyset("po", AT, A), 1) == (AT, (A,))
    assert decode_keyset("mk", encode_keyset("mk", AT, A, B), 2) == (AT, (A, B))
    assert decode_keyset("po", None, 1) is None


@pytest.mark.parametrize(
    "cursor",
    [
        encode_keyset("wr", AT, A),  # another connection's cursor
        encode_keyset("po", AT, A, B),  # wrong number of keys
        base64.urlsafe_b64encode(f"po|2026-11-29T08:30:00|{A}".encode()).decode(),  # naive time
        base64.urlsafe_b64encode(b"po|yesterday|x").decode(),
        "%%%not-base64%%%",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
    ids=["other-prefix", "key-count", "naive-time", "bad-time", "not-base64", "not-utf8"],
)
def test_foreign_or_malformed_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(GraphQLError) as raised:
        decode_keyset("po", cursor, 1)
    assert raised.value.extensions == {"code": "BAD_USER_INPUT"}


@pytest.mark.parametrize("first", [0, -1, 101])
def test_first_is_bounded(first: int) -> None:
    with pytest.raises(GraphQLError):
        check_first(first)
    check_first(1)
    check_first(100)
