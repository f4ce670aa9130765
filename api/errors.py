"""``userErrors``: typed refusals returned in mutation payloads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from domain.kernel.actor import Actor
from domain.kernel.errors import DomainError, ValidationErrors
from domain.kernel.errors import ErrorCode as DomainErrorCode

ErrorCode = strawberry.enum(DomainErrorCode, name="ErrorCode", description="Why input was refused.")

T = TypeVar("T")


@strawberry.type(description="A refusal of one input field, with a machine-readable code.")
class UserError:
    field: str | None = strawberry.field(description="The input field, when one is at fault.")
    code: ErrorCode = strawberry.field(description="What is wrong.")  # type: ignore[valid-type]
    message: str = strawberry.field(description="A human-readable explanation.")


def to_user_errors(error: DomainError) -> list[UserError]:
    """Every refusal carried by ``error``."""
    items = error.errors if isinstance(error, ValidationErrors) else [error]
    return [UserError(field=e.field, code=e.code, message=e.message) for e in items]


async def run_use_case(
    session: AsyncSession, actor: Actor, use_case: Callable[[AsyncSession, Actor], Awaitable[T]]
) -> tuple[T | None, list[UserError]]:
    """Run one use case in a savepoint: on a refusal nothing it wrote remains."""
    try:
        async with session.begin_nested():
            return await use_case(session, actor), []
    except DomainError as error:
        return None, to_user_errors(error)
