"""Global IDs refused when the input is coerced, like a malformed ``Int``.

A global ID is base64 of ``Type:uuid`` (Relay). ``node(id:)`` and ``nodes(ids:)`` take the
Relay ``ID``, which accepts the ID of any object type; graphql-core reserves that scalar, so
its values are checked as strictly by a validation rule (inline literals) and a schema
extension (variables), before execution too. Every other ID argument and input field
has a scalar of its own, named for what it accepts (``DealID``, ``PartyID`` for a Person or an
Organization, ...): a value that is not a string, is empty, is not base64 of ``Type:uuid``, or
names another type is refused by graphql-core while it coerces the variables (or validates an
inline literal), before any resolver runs - a 400 with no ``data`` and the code
``BAD_USER_INPUT`` (``GRAPHQL_VALIDATION_FAILED`` for an inline literal). An ID of the right
type that names nothing the caller may see is still the use case's ``NOT_FOUND``.

Every scalar is a string on the wire: send the ``id`` an object returned. The Python value of
a typed ID is a ``relay.GlobalID``."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterator
from typing import Any, Final, NewType

import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLID,
    IntValueNode,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    StringValueNode,
    ValidationRule,
    ValueNode,
    get_named_type,
    get_operation_ast,
)
from strawberry import relay
from strawberry.extensions import SchemaExtension
from strawberry.types.scalar import ScalarDefinition

#: Every Node type, by GraphQL name (``api.schema.NODE_TYPES`` resolves them).
NODE_TYPE_NAMES: Final = (
    "Tenant",
    "User",
    "OAuthClient",
    "Organization",
    "Person",
    "Product",
    "PurchaseOrder",
    "WarehouseReceipt",
    "Document",
    "Deal",
    "Loan",
)
_SHOWN = 40  # characters of a refused value repeated in the message
RELAY_SPEC = "https://relay.dev/graphql/objectidentification.htm"


def decode(value: object, accepted: tuple[str, ...] = NODE_TYPE_NAMES) -> relay.GlobalID:
    """The global ID in ``value``, or ``ValueError`` saying why it is none of ``accepted``."""
    if not isinstance(value, str):
        raise ValueError("a global ID is a string")
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValueError("not a global ID") from exc
    type_name, colon, node_id = text.partition(":")
    if not colon or type_name not in NODE_TYPE_NAMES:
        raise ValueError("not a global ID")
    try:
        uuid.UUID(node_id)
    except ValueError as exc:
        raise ValueError("not a global ID") from exc
    if type_name not in accepted:
        raise ValueError(f"not the ID of {_either(accepted)}")
    return relay.GlobalID(type_name=type_name, node_id=node_id)


def _either(types: tuple[str, ...]) -> str:
    named = [f"an {t}" if t[0] in "AEIOU" else f"a {t}" for t in types]
    return " or ".join(named)


class InvalidID(GraphQLError):
    """A value refused by an ID scalar: a client's error (a GraphQL error, so that it is
    neither masked nor logged as a failure)."""


def _refusal(name: str, value: object, reason: str) -> InvalidID:
    shown = repr(value) if not isinstance(value, str) else f'"{value[:_SHOWN]}"'
    if isinstance(value, str) and len(value) > _SHOWN:
        shown = shown[:-1] + '..."'
    return InvalidID(f"{name} cannot represent {shown}: {reason}")


def _literal(node: ValueNode, variables: Any = None) -> object:
    # Only a string literal can be an ID: an Int literal, accepted by graphql-core's ID, never is.
    if isinstance(node, StringValueNode):
        return node.value
    return node


def _scalar(name: str, accepted: tuple[str, ...], description: str) -> ScalarDefinition:
    def parse_value(value: object) -> object:
        try:
            return decode(value, accepted)
        except ValueError as exc:
            raise _refusal(name, value, str(exc)) from exc

    def parse_literal(node: ValueNode, variables: Any = None) -> object:
        return parse_value(_literal(node, variables))

    definition: ScalarDefinition = strawberry.scalar(
        name=name,
        description=description,
        serialize=str,
        parse_value=parse_value,
        parse_literal=parse_literal,
        specified_by_url=RELAY_SPEC,
    )
    return definition


TYPED_IDS: Final[dict[str, tuple[str, ...]]] = {
    **{f"{t}ID": (t,) for t in NODE_TYPE_NAMES},
    "PartyID": ("Person", "Organization"),
    "AgentID": ("Organization", "Tenant"),
    "UserOrClientID": ("User", "OAuthClient"),
}

TenantID = NewType("TenantID", relay.GlobalID)
UserID = NewType("UserID", relay.GlobalID)
OAuthClientID = NewType("OAuthClientID", relay.GlobalID)
OrganizationID = NewType("OrganizationID", relay.GlobalID)
PersonID = NewType("PersonID", relay.GlobalID)
ProductID = NewType("ProductID", relay.GlobalID)
PurchaseOrderID = NewType("PurchaseOrderID", relay.GlobalID)
WarehouseReceiptID = NewType("WarehouseReceiptID", relay.GlobalID)
DocumentID = NewType("DocumentID", relay.GlobalID)
DealID = NewType("DealID", relay.GlobalID)
LoanID = NewType("LoanID", relay.GlobalID)
PartyID = NewType("PartyID", relay.GlobalID)
AgentID = NewType("AgentID", relay.GlobalID)
UserOrClientID = NewType("UserOrClientID", relay.GlobalID)

_PYTHON_TYPES: Final = {
    t.__name__: t
    for t in (
        TenantID,
        UserID,
        OAuthClientID,
        OrganizationID,
        PersonID,
        ProductID,
        PurchaseOrderID,
        WarehouseReceiptID,
        DocumentID,
        DealID,
        LoanID,
        PartyID,
        AgentID,
        UserOrClientID,
    )
}


def _typed_description(accepted: tuple[str, ...]) -> str:
    return (
        f"The global ID of {_either(accepted)} (the `id` it has in this API). Anything else - "
        "not a string, empty, not an ID this API gives, another type's ID - is refused when "
        "the input is coerced, before anything runs."
    )


#: The typed scalars, for ``StrawberryConfig(scalar_map=...)``. (graphql-core reserves the name
#: ``ID``: the Relay ``ID`` of ``node``/``nodes`` is checked by :class:`StrictRelayIDs`.)
ID_SCALARS: Final[dict[object, ScalarDefinition]] = {
    _PYTHON_TYPES[name]: _scalar(name, accepted, _typed_description(accepted))
    for name, accepted in TYPED_IDS.items()
}


class RelayIDLiterals(ValidationRule):
    """Refuses, while the document is validated (and the verdict cached with it), an inline
    literal in an ``ID`` position that is not a global ID this API gives."""

    def enter_string_value(self, node: StringValueNode, *_args: object) -> None:
        self._check(node, node.value)

    def enter_int_value(self, node: IntValueNode, *_args: object) -> None:
        self._check(node, node.value)

    def _check(self, node: ValueNode, value: object) -> None:
        expected = self.context.get_input_type()
        if expected is None or get_named_type(expected) is not GraphQLID:
            return
        shown = value if isinstance(node, StringValueNode) else int(str(value))
        try:
            decode(shown)
        except ValueError as exc:
            self.report_error(GraphQLError(_refusal("ID", shown, str(exc)).message, node))


class StrictRelayIDs(SchemaExtension):
    """Refuses an operation whose variables of type ``ID`` (or lists of it) hold anything but
    global IDs this API gives, before any resolver runs: the result is set here, so Strawberry
    does not execute, and the transport answers 400 as for any refused variable."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        errors = _refused_variables(
            context.graphql_document, context.operation_name, context.variables
        )
        if errors:
            # graphql-core's result, so that Strawberry logs its errors like any others.
            context.result = ExecutionResult(data=None, errors=errors)
        yield


def _refused_variables(
    document: DocumentNode | None, operation_name: str | None, variables: dict[str, Any] | None
) -> list[GraphQLError]:
    if document is None:
        return []
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return []
    errors: list[GraphQLError] = []
    for definition in operation.variable_definitions or ():
        type_node = definition.type
        while isinstance(type_node, ListTypeNode | NonNullTypeNode):
            type_node = type_node.type
        if not isinstance(type_node, NamedTypeNode) or type_node.name.value != "ID":
            continue
        name = definition.variable.name.value
        for value in _leaves((variables or {}).get(name)):
            try:
                decode(value)
            except ValueError as exc:
                refusal = _refusal("ID", value, str(exc)).message
                message = f"Variable '${name}' has invalid value: {refusal}"
                errors.append(GraphQLError(message, definition))
                break
    return errors


def _leaves(value: object) -> Iterator[object]:
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            yield from _leaves(item)
        return
    yield value
