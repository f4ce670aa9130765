"""What the pledges context needs from outside: the movable-property pledge registry.

A **registration** files one pledge publicly: the pledgor (the cargo owner), the pledgee (the
funder), the goods (by the warehouse receipt that evidences them) and their declared value.
The registry answers with its registration ID and a public **filing number**, or refuses the
filing (the goods are already registered under another pledge, a party's code is invalid).
The state can be read back (:meth:`PledgeRegistry.registration`) to reconcile. A released
pledge's filing is cancelled (:meth:`PledgeRegistry.cancel`), after which the goods may be
filed again.

The port is a :class:`typing.Protocol`. A call returns a frozen result or raises one of the
typed errors below, so a caller (a job) decides by type alone whether to retry
(:attr:`RegistryError.retryable`) or record a final refusal. An adapter makes one attempt per
call; a retried filing sends the same :attr:`RegistrationRequest.idempotency_key` and gets the
first registration back, never a second filing.

Pure: no I/O, no provider names, no HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable

from domain.kernel.money import Money

__all__ = [
    "MalformedRegistryAnswer",
    "Party",
    "PledgeRegistry",
    "Registration",
    "RegistrationNotFound",
    "RegistrationRefused",
    "RegistrationRequest",
    "RegistrationStatus",
    "RegistryError",
    "RegistryTimeout",
    "RegistryUnavailable",
]


class RegistryError(Exception):
    """A call to the registry gave no usable answer. ``request_id`` is the ID the call was
    sent with (``None`` when nothing was sent)."""

    #: Whether the same call may succeed later (the job retries it, within its bound).
    retryable: ClassVar[bool] = True

    def __init__(self, message: str, *, request_id: str | None = None):
        super().__init__(message)
        self.request_id = request_id

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields do not survive the default pickling across processes.
        return (_rebuild, (type(self), str(self), dict(self.__dict__)))


def _rebuild(cls: type[RegistryError], message: str, fields: dict[str, Any]) -> RegistryError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(fields)
    return error


class RegistryTimeout(RegistryError):
    """No whole answer in time. The filing may have been made all the same: retry with the
    same idempotency key."""


class RegistryUnavailable(RegistryError):
    """The registry could not be reached or answered with a server error (5xx)."""


class MalformedRegistryAnswer(RegistryError):
    """An answer arrived but is not what the protocol promises, or its signature does not
    verify (its content is not used)."""


class RegistrationRefused(RegistryError):
    """The registry refused the filing (4xx), e.g. ``ALREADY_REGISTERED`` (the goods are
    pledged elsewhere), ``INVALID_PARTY``. Sending it again unchanged gets the same answer."""

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, request_id: str | None = None, status: int, code: str):
        super().__init__(message, request_id=request_id)
        self.status = status
        #: The registry's reason.
        self.code = code


class RegistrationNotFound(RegistrationRefused):
    """The registry knows no registration of that ID (for this account)."""


@dataclass(frozen=True, slots=True)
class Party:
    """A party to the pledge: its registered name and unified social credit code."""

    name: str
    social_credit_code: str


@dataclass(frozen=True, slots=True)
class RegistrationRequest:
    """A pledge to file: who pledges what to whom, and the caller's reference (the pledge's
    ID), which the answer carries back."""

    pledgor: Party
    pledgee_name: str
    warehouse: Party
    receipt_number: str
    goods_description: str
    quantity: Decimal
    unit: str
    declared_value: Money
    reference: str
    #: The same key gets the same registration back instead of a second filing.
    idempotency_key: str

    def __post_init__(self) -> None:
        if not self.reference.strip() or not self.idempotency_key.strip():
            raise ValueError("a registration needs a reference and an idempotency key")
        if self.quantity <= 0:
            raise ValueError("the quantity pledged is positive")


class RegistrationStatus(StrEnum):
    """Where a filing stands at the registry."""

    REGISTERED = "REGISTERED"
    #: Cancelled at the registry (the pledge was released there).
    CANCELLED = "CANCELLED"


@dataclass(frozen=True, slots=True)
class Registration:
    """A filing as the registry states it."""

    registration_id: str
    filing_number: str
    status: RegistrationStatus
    reference: str
    registered_at: datetime
    request_id: str


@runtime_checkable
class PledgeRegistry(Protocol):
    """The movable-property pledge registry."""

    async def register(self, request: RegistrationRequest) -> Registration:
        """File the pledge (idempotent by the request's key)."""
        ...

    async def registration(self, registration_id: str) -> Registration:
        """The filing's current state."""
        ...

    async def cancel(self, registration_id: str, *, idempotency_key: str) -> Registration:
        """Cancel the filing (the pledge was released): the registration, CANCELLED.
        Idempotent by the key; :class:`RegistrationNotFound` for an unknown ID."""
        ...
