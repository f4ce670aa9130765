"""Strict readers for a provider's JSON answer: every field present with its type, dates ISO
8601, times with an offset, amounts as decimal strings. A wrong answer is :class:`Malformed`
naming the field, which a client turns into ``MalformedAnswer``; nothing half-read is used."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from domain.kernel.money import Money, MoneyError

__all__ = ["Fields", "Malformed"]

T = TypeVar("T")
_NAMES: dict[type, str] = {str: "a string", int: "an integer", bool: "a boolean", list: "a list"}


class Malformed(ValueError):
    """The answer does not have the promised shape."""


class Fields:
    """One JSON object of an answer, read field by field; ``where`` names it in errors."""

    def __init__(self, data: Any, where: str = "answer") -> None:
        if not isinstance(data, dict):
            raise Malformed(f"{where} is not an object")
        self._data: dict[str, Any] = data
        self._where = where

    def _get(self, name: str, optional: bool = False) -> Any:
        if name not in self._data or (self._data[name] is None and not optional):
            raise Malformed(f"{self._where}.{name} is missing")
        return self._data[name]

    def _typed(self, name: str, kind: type[T], optional: bool = False) -> T | None:
        value = self._get(name, optional)
        if value is None:
            return None
        # bool is an int in Python, never in these answers.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise Malformed(f"{self._where}.{name} is not {_NAMES.get(kind, kind.__name__)}")
        return value

    def text(self, name: str) -> str:
        value = self._typed(name, str)
        assert value is not None
        if not value.strip():
            raise Malformed(f"{self._where}.{name} is blank")
        return value

    def optional_text(self, name: str) -> str | None:
        if name not in self._data:
            return None
        return self._typed(name, str, optional=True)

    def integer(self, name: str) -> int:
        value = self._typed(name, int)
        assert value is not None
        return value

    def optional_integer(self, name: str) -> int | None:
        return self._typed(name, int, optional=True)

    def flag(self, name: str) -> bool:
        value = self._typed(name, bool)
        assert value is not None
        return value

    def decimal(self, name: str) -> Decimal:
        text = self.text(name)
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise Malformed(f"{self._where}.{name} is not a decimal") from None
        if not value.is_finite():
            raise Malformed(f"{self._where}.{name} is not finite")
        return value

    def day(self, name: str) -> date:
        try:
            return date.fromisoformat(self.text(name))
        except ValueError:
            raise Malformed(f"{self._where}.{name} is not a date") from None

    def moment(self, name: str) -> datetime:
        try:
            value = datetime.fromisoformat(self.text(name))
        except ValueError:
            raise Malformed(f"{self._where}.{name} is not a date-time") from None
        if value.tzinfo is None:
            raise Malformed(f"{self._where}.{name} has no UTC offset")
        return value

    def money(self, name: str) -> Money:
        """``{"amount": "1234.56", "currency": "CNY"}``."""
        money = self.object(name)
        try:
            return Money.parse(money.text("amount"), money.text("currency"))
        except MoneyError as exc:
            raise Malformed(f"{self._where}.{name}: {exc}") from None

    def optional_money(self, name: str) -> Money | None:
        if self._data.get(name) is None:
            return None
        return self.money(name)

    def object(self, name: str) -> Fields:
        return Fields(self._get(name), f"{self._where}.{name}")

    def items(self, name: str, read: Callable[[Fields], T]) -> tuple[T, ...]:
        items = self._typed(name, list)
        assert items is not None
        return tuple(
            read(Fields(item, f"{self._where}.{name}[{i}]")) for i, item in enumerate(items)
        )

    def strings(self, name: str) -> tuple[str, ...]:
        items = self._typed(name, list)
        assert items is not None
        if not all(isinstance(item, str) and item for item in items):
            raise Malformed(f"{self._where}.{name} holds a non-string")
        return tuple(items)

    def choice(self, name: str, enum: Callable[[str], T]) -> T:
        text = self.text(name)
        try:
            return enum(text)
        except ValueError:
            raise Malformed(f"{self._where}.{name} has an unknown value {text[:40]!r}") from None

    def object_or_none(self, name: str) -> Fields | None:
        """The object under ``name``, or ``None`` when it is absent or null."""
        if self._data.get(name) is None:
            return None
        return self.object(name)
