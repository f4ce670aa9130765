"""Database refusals as typed domain errors: the SQLSTATE and constraint behind a driver error,
and a savepoint that turns the violation of a named constraint into its refusal. Shared by
every context's repositories, so that a rule the database keeps reads to the caller exactly
like the same rule checked in Python."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.kernel.errors import DomainError, ErrorCode

# SQLSTATEs the application turns into refusals.
_UNIQUE_VIOLATION = "23505"
_FOREIGN_KEY_VIOLATION = "23503"
_CHECK_VIOLATION = "23514"
_INSUFFICIENT_PRIVILEGE = "42501"  # also a row-level security WITH CHECK refusal


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
    made before the savepoint began.)"""
    try:
        async with session.begin_nested():
            yield
            await session.flush()
    except DBAPIError as exc:
        found = violation_of(exc)
        if found.constraint is not None and found.constraint in refusals:
            raise refusals[found.constraint] from exc
        if found.sqlstate == _INSUFFICIENT_PRIVILEGE:
            raise DomainError(ErrorCode.FORBIDDEN, "not yours to change") from exc
        raise


__all__ = ["Violation", "refusing", "violation_of"]
