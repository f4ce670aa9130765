"""What the contracts context needs from outside: a renderer that turns approved terms into a
document a person can open and sign. The PDF adapter lives in ``integrations/documents/``."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from domain.contracts.terms import ContractTerms

__all__ = ["ContractRenderer", "RenderedContract", "UnrenderableTerms"]

_SHA256: Final = re.compile(r"^[0-9a-f]{64}$")


class UnrenderableTerms(ValueError):
    """The terms hold something the renderer cannot print faithfully (a character its font
    has no glyph for, a currency it has no wording for). Nothing is rendered rather than a
    contract with a blank box where a name should be."""


@dataclass(frozen=True, slots=True)
class RenderedContract:
    """A rendered contract: the PDF bytes, their lower-case hex SHA-256 (the key the
    content-addressed document store files them under) and the number of pages."""

    pdf: bytes
    sha256: str
    pages: int

    def __post_init__(self) -> None:
        if not _SHA256.fullmatch(self.sha256):
            raise ValueError("sha256 must be 64 lower-case hex digits")
        # Cheap next to rendering, and a stored hash that did not match would be worthless.
        if hashlib.sha256(self.pdf).hexdigest() != self.sha256:
            raise ValueError("sha256 is not the hash of the pdf bytes")
        if type(self.pages) is not int or self.pages < 1:
            raise ValueError("a contract has at least one page")

    @classmethod
    def of(cls, pdf: bytes, pages: int) -> RenderedContract:
        """Wrap rendered bytes, hashing them."""
        return cls(pdf=pdf, sha256=hashlib.sha256(pdf).hexdigest(), pages=pages)


@runtime_checkable
class ContractRenderer(Protocol):
    """Renders one contract version. The same terms always give the same bytes (and so the
    same hash), so a stored contract can be re-rendered and checked."""

    def render(self, terms: ContractTerms) -> RenderedContract:
        """The contract for ``terms``. Raises :class:`UnrenderableTerms` for terms it cannot
        print faithfully."""
        ...
