"""A use case's own savepoint."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

P = ParamSpec("P")
R = TypeVar("R")


def atomic(
    use_case: Callable[Concatenate[AsyncSession, P], Awaitable[R]],
) -> Callable[Concatenate[AsyncSession, P], Awaitable[R]]:
    """Run the use case in a savepoint of its own: a refusal part-way (say, the second of two
    claims) takes back everything it wrote, whatever the caller then commits."""

    @functools.wraps(use_case)
    async def in_savepoint(session: AsyncSession, /, *args: P.args, **kwargs: P.kwargs) -> R:
        async with session.begin_nested():
            return await use_case(session, *args, **kwargs)

    return in_savepoint
