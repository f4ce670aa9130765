"""Mutations of a funder's products: create, update (new version once published), publish,
retire."""

from __future__ import annotations

import uuid

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.errors import UserError, run_use_case
from api.permissions import has_scope
from api.products.inputs import (
    CreateProductInput,
    ProductIdInput,
    UpdateProductInput,
    to_terms,
)
from api.products.types import ProductNode
from api.relay import id_of
from domain.kernel.scopes import Scope
from domain.products import service
from domain.products.repository import ProductWithTerms


@strawberry.type(description="Result of createProduct.")
class CreateProductPayload:
    product: ProductNode | None = strawberry.field(description="The new DRAFT product.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


@strawberry.type(description="Result of updateProduct.")
class UpdateProductPayload:
    product: ProductNode | None = strawberry.field(
        description="The product; its current version is new if published terms changed."
    )
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


@strawberry.type(description="Result of publishProduct.")
class PublishProductPayload:
    product: ProductNode | None = strawberry.field(description="The PUBLISHED product.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


@strawberry.type(description="Result of retireProduct.")
class RetireProductPayload:
    product: ProductNode | None = strawberry.field(description="The RETIRED product.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


def _node(found: ProductWithTerms | None) -> ProductNode | None:
    return ProductNode.from_row(found) if found else None


@strawberry.type
class ProductMutations:
    @strawberry.mutation(
        description="Create a DRAFT product at version 1 (funder admin).",
        permission_classes=[has_scope(Scope.PRODUCTS_WRITE)],
    )
    async def create_product(self, info: Info, input: CreateProductInput) -> CreateProductPayload:
        async with info.context.db() as session:
            found, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.create_product(
                    s,
                    a,
                    product_line=input.product_line,
                    name=input.name,
                    terms=to_terms(input.terms),
                    tenant_id=id_of(input.tenant_id, "Tenant", "tenantId"),
                ),
            )
        return CreateProductPayload(product=_node(found), user_errors=errors)

    @strawberry.mutation(
        description="Rename a product or replace its terms: in place on a DRAFT; as a new "
        "current version on a PUBLISHED product, older versions unchanged.",
        permission_classes=[has_scope(Scope.PRODUCTS_WRITE)],
    )
    async def update_product(self, info: Info, input: UpdateProductInput) -> UpdateProductPayload:
        async with info.context.db() as session:
            found, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.update_product(
                    s,
                    a,
                    product_id=_product_id(input.id),
                    name=input.name,
                    terms=None if input.terms is None else to_terms(input.terms),
                ),
            )
        return UpdateProductPayload(product=_node(found), user_errors=errors)

    @strawberry.mutation(
        description="Publish a DRAFT: it appears in the marketplace and its terms freeze.",
        permission_classes=[has_scope(Scope.PRODUCTS_WRITE)],
    )
    async def publish_product(self, info: Info, input: ProductIdInput) -> PublishProductPayload:
        async with info.context.db() as session:
            found, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.publish_product(s, a, product_id=_product_id(input.id)),
            )
        return PublishProductPayload(product=_node(found), user_errors=errors)

    @strawberry.mutation(
        description="Retire a PUBLISHED product for good: it leaves the marketplace.",
        permission_classes=[has_scope(Scope.PRODUCTS_WRITE)],
    )
    async def retire_product(self, info: Info, input: ProductIdInput) -> RetireProductPayload:
        async with info.context.db() as session:
            found, errors = await run_use_case(
                session,
                info.context.actor,
                lambda s, a: service.retire_product(s, a, product_id=_product_id(input.id)),
            )
        return RetireProductPayload(product=_node(found), user_errors=errors)


def _product_id(gid: relay.GlobalID) -> uuid.UUID:
    value = id_of(gid, "Product", "id")
    assert value is not None  # a GlobalID argument is never null here
    return value
