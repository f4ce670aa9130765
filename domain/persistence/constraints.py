"""Database refusals as typed domain refusals: the constraint (or unique index) PostgreSQL
names in a violation maps to the :class:`DomainError` a use case would have raised had its own
check seen the conflict. A check before a write cannot see a concurrent transaction's row; the
constraint can, so concurrent duplicates get the same answer as sequential ones."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.kernel.errors import DomainError, ErrorCode

# SQLSTATEs the application turns into refusals.
UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"
CHECK_VIOLATION = "23514"
INSUFFICIENT_PRIVILEGE = "42501"  # also a row-level security WITH CHECK refusal


@dataclass(frozen=True, slots=True)
class Violation:
    """What PostgreSQL refused: its SQLSTATE and the constraint (or index) it names."""

    sqlstate: str | None
    constraint: str | None


def violation_of(exc: DBAPIError) -> Violation:
    """The SQLSTATE and constraint name behind a driver error."""
    driver: Any = None
    try:
        driver = exc.driver_exception  # SQLAlchemy 2.1
    except (AttributeError, ValueError):
        driver = getattr(exc.orig, "__cause__", None)
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(driver, "sqlstate", None)
    return Violation(sqlstate=sqlstate, constraint=getattr(driver, "constraint_name", None))


@asynccontextmanager
async def refusing(
    session: AsyncSession, refusals: Mapping[str, DomainError]
) -> AsyncIterator[None]:
    """A savepoint for one write: stage new rows and change loaded ones inside the block; it
    is flushed on the way out. A violation of a constraint named in ``refusals`` becomes that
    refusal, and a row-level security refusal becomes FORBIDDEN; either way the savepoint is
    rolled back and the caller's transaction goes on. (Rows must be staged inside the block:
    SQLAlchemy deactivates the outer transaction when a savepoint's flush fails on changes
    made before the savepoint began.) Build ``refusals`` per call: a raised exception carries
    its cause and traceback, so one instance must not be shared between requests."""
    try:
        async with session.begin_nested():
            yield
            await session.flush()
    except DBAPIError as exc:
        found = violation_of(exc)
        if found.constraint is not None and found.constraint in refusals:
            raise refusals[found.constraint] from exc
        if found.sqlstate == INSUFFICIENT_PRIVILEGE:
            raise DomainError(ErrorCode.FORBIDDEN, "not yours to change") from exc
        raise


__all__ = [
    "CHECK_VIOLATION",
    "FOREIGN_KEY_VIOLATION",
    "INSUFFICIENT_PRIVILEGE",
    "UNIQUE_VIOLATION",
    "Violation",
    "refusing",
    "violation_of",
]
