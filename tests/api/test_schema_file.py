"""The committed SDL is the schema the code builds, and every type and field is described."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
)

from api.schema import build_schema
from lendgraph.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_matches_code() -> None:
    built = build_schema(Settings(environment="test")).as_str() + "\n"
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == built, "schema.graphql is stale: run `make schema` and review the diff"


def test_every_type_and_field_has_a_description() -> None:
    schema = build_schema(Settings(environment="test"))._schema
    missing: list[str] = []
    for name, gtype in schema.type_map.items():
        if name.startswith("__") or name in ("String", "Boolean", "Int", "Float", "ID"):
            continue
        if name not in ("Query", "Mutation", "Subscription") and not gtype.description:
            missing.append(name)
        if isinstance(gtype, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in gtype.fields.items():
                if not field.description and field_name != "id":
                    missing.append(f"{name}.{field_name}")
        if isinstance(gtype, GraphQLEnumType) and not gtype.description:
            missing.append(name)
    assert not missing, f"undescribed: {missing}"
