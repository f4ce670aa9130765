"""A document is validated once per process, by its text: the second request of the same
document is answered from the bounded LRU, and the depth and alias limits still refuse what
they refuse (their verdict is cached with the rest)."""

from __future__ import annotations

import uuid

from strawberry.extensions.validation_cache import _get_validate_cache

from api.limits import DOCUMENT_CACHE_SIZE
from api.schema import build_schema
from lendgraph.settings import Settings


def _settings() -> Settings:
    return Settings(environment="test", max_query_depth=3, max_aliases=2)


async def _errors(schema: object, document: str) -> list[str]:
    result = await schema.execute(document)  # type: ignore[attr-defined]
    return [e.message for e in result.errors or []]


async def test_the_same_document_is_validated_once() -> None:
    schema = build_schema(_settings())
    cache = _get_validate_cache(DOCUMENT_CACHE_SIZE)
    # A text no other test sends, so that its first validation is a miss here.
    document = f"query Q{uuid.uuid4().hex} {{ __typename }}"
    before = cache.cache_info()
    assert await _errors(schema, document) == []
    first = cache.cache_info()
    assert (first.misses - before.misses, first.hits - before.hits) == (1, 0)
    assert await _errors(schema, document) == []
    assert await _errors(schema, document) == []
    second = cache.cache_info()
    assert (second.misses - first.misses, second.hits - first.hits) == (0, 2)


async def test_limits_still_refuse_from_the_cache() -> None:
    schema = build_schema(_settings())
    deep = "{ viewer { user { memberships { tenant { slug } } } } }"  # depth 5 > 3
    aliased = "{ a: __typename b: __typename c: __typename }"  # 3 aliases > 2
    for _ in range(2):
        assert any("exceeds maximum operation depth of 3" in m for m in await _errors(schema, deep))
        assert any("aliases found" in m.lower() for m in await _errors(schema, aliased))
