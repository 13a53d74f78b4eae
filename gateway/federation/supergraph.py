"""A composed supergraph read once: the API schema portals see, and which subgraph owns what.

The supergraph SDL (Apollo Federation 2, ``join`` v0.3 to v0.5) marks every type with the graphs
that define it (``@join__type``, with the entity keys) and every field with the graphs that
resolve it (``@join__field``). From it come two things: the API schema, which is the supergraph
without the federation machinery and without ``@inaccessible`` elements (clients validate and
introspect against it), and an ownership index the planner asks "who resolves ``T.f``?".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    GraphQLSchema,
    SelectionSetNode,
    build_ast_schema,
    parse,
    value_from_ast_untyped,
)
from graphql.language import (
    DirectiveDefinitionNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    InputObjectTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    ScalarTypeDefinitionNode,
    SchemaDefinitionNode,
    TypeDefinitionNode,
    UnionTypeDefinitionNode,
)
from setka_runtime.access import AccessMap, access_map

from .cost import FieldCost

FEDERATION_PREFIXES = ("join__", "link__")
# Directives that shape execution only; the API schema keeps none of them.
MACHINERY = {"link", "inaccessible", "tag", "authenticated", "requiresScopes", "policy", "cost", "listSize"}
MACHINERY_DIRECTIVES = {*MACHINERY, "join__type", "join__field", "join__graph", "join__implements"}
MACHINERY_DIRECTIVES |= {"join__unionMember", "join__enumValue", "join__owner", "join__directive"}
MACHINERY_DIRECTIVES |= {"composeDirective", "shareable", "external", "key", "requires", "provides"}


class SupergraphError(Exception):
    """The supergraph cannot be served: not composed, or using a feature the gateway lacks."""


@dataclass
class FieldOwners:
    graphs: tuple[str, ...]
    requires: dict[str, str] = field(default_factory=dict)


@dataclass
class Supergraph:
    sdl: str
    graphs: dict[str, str]  # graph name -> url
    type_graphs: dict[str, tuple[str, ...]]
    keys: dict[str, dict[str, list[str]]]  # type -> graph -> resolvable key field sets
    fields: dict[tuple[str, str], FieldOwners]
    access: AccessMap
    """Declared @authenticated/@requiresScopes/@policy by (type, field)."""
    api_document: DocumentNode
    costs: dict[tuple[str, str], FieldCost] = field(default_factory=dict)
    """Declared @cost/@listSize by (type, field)."""

    @cached_property
    def schema(self) -> GraphQLSchema:
        return build_ast_schema(self.api_document, assume_valid_sdl=True)

    def owners(self, type_name: str, field_name: str) -> tuple[str, ...]:
        owners = self.fields.get((type_name, field_name))
        if owners is not None:
            return owners.graphs
        return self.type_graphs.get(type_name, ())

    def key_for(self, type_name: str, source: str, target: str) -> str | None:
        """A key of ``type_name`` that ``target`` resolves and ``source`` can provide."""
        target_keys = self.keys.get(type_name, {}).get(target, [])
        if not target_keys:
            return None
        source_keys = set(self.keys.get(type_name, {}).get(source, []))
        for key in target_keys:
            if key in source_keys or all(
                source in self.owners(type_name, name) for name in key_field_names(key)
            ):
                return key
        return None

    @classmethod
    def load(cls, path: Path, urls: dict[str, str] | None = None) -> Supergraph:
        return cls.parse(path.read_text(encoding="utf-8"), urls)

    @classmethod
    def parse(cls, sdl: str, urls: dict[str, str] | None = None) -> Supergraph:
        document = parse(sdl, no_location=True)
        graph_enum: dict[str, str] = {}  # enum value -> graph name
        graphs: dict[str, str] = {}
        for definition in document.definitions:
            if isinstance(definition, EnumTypeDefinitionNode) and definition.name.value == "join__Graph":
                for value in definition.values or ():
                    arguments = _directive_args(value.directives, "join__graph")[0]
                    graph_enum[value.name.value] = arguments["name"]
                    graphs[arguments["name"]] = arguments["url"]
        if not graphs:
            raise SupergraphError("not a federation supergraph: no join__Graph enum")
        for name, url in (urls or {}).items():
            if name in graphs and url:
                graphs[name] = url

        type_graphs: dict[str, tuple[str, ...]] = {}
        keys: dict[str, dict[str, list[str]]] = {}
        fields: dict[tuple[str, str], FieldOwners] = {}
        costs: dict[tuple[str, str], FieldCost] = {}
        for definition in document.definitions:
            if not isinstance(
                definition,
                ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode | ObjectTypeExtensionNode,
            ):
                continue
            type_name = definition.name.value
            joined = _directive_args(definition.directives, "join__type")
            type_graphs[type_name] = tuple(dict.fromkeys(graph_enum[a["graph"]] for a in joined))
            for arguments in joined:
                if arguments.get("key") and arguments.get("resolvable", True):
                    keys.setdefault(type_name, {}).setdefault(graph_enum[arguments["graph"]], []).append(
                        " ".join(arguments["key"].split())
                    )
            for field_node in definition.fields or ():
                cost = _directive_args(field_node.directives, "cost")
                list_size = _directive_args(field_node.directives, "listSize")
                if cost or list_size:
                    costs[(type_name, field_node.name.value)] = FieldCost.of(
                        cost[0] if cost else None, list_size[0] if list_size else None
                    )
                joins = _directive_args(field_node.directives, "join__field")
                if joins and any("graph" in j for j in joins):
                    owners = FieldOwners(
                        graphs=tuple(
                            dict.fromkeys(
                                graph_enum[j["graph"]]
                                for j in joins
                                if "graph" in j and not j.get("external") and not j.get("usedOverridden")
                            )
                        ),
                        requires={
                            graph_enum[j["graph"]]: j["requires"]
                            for j in joins
                            if "graph" in j and j.get("requires")
                        },
                    )
                    fields[(type_name, field_node.name.value)] = owners
        return cls(
            sdl=sdl,
            graphs=graphs,
            type_graphs=type_graphs,
            keys=keys,
            fields=fields,
            access=access_map(document),
            api_document=_api_document(document),
            costs=costs,
        )


def key_field_names(key: str) -> list[str]:
    return [selection.name.value for selection in key_selection(key).selections]  # type: ignore[attr-defined]


def key_selection(key: str) -> SelectionSetNode:
    operation = parse("{" + key + "}", no_location=True).definitions[0]
    return operation.selection_set  # type: ignore[attr-defined]


def _directive_args(directives: Any, name: str) -> list[dict[str, Any]]:
    return [
        {argument.name.value: value_from_ast_untyped(argument.value) for argument in d.arguments or ()}
        for d in directives or ()
        if d.name.value == name
    ]


def _inaccessible(node: Any) -> bool:
    return any(d.name.value == "inaccessible" for d in getattr(node, "directives", None) or ())


def _public_directives(directives: Any) -> tuple[DirectiveNode, ...]:
    return tuple(d for d in directives or () if d.name.value not in MACHINERY_DIRECTIVES)


def _api_document(document: DocumentNode) -> DocumentNode:
    """The supergraph as clients see it: no federation types, directives or hidden elements."""
    hidden_types = {
        d.name.value
        for d in document.definitions
        if isinstance(d, TypeDefinitionNode)
        and (_inaccessible(d) or d.name.value.startswith(FEDERATION_PREFIXES))
    }
    kept: list[Any] = []
    for definition in document.definitions:
        if isinstance(definition, DirectiveDefinitionNode):
            continue
        if isinstance(definition, SchemaDefinitionNode):
            kept.append(
                definition.__class__(
                    operation_types=definition.operation_types, directives=(), description=None
                )
            )
            continue
        if isinstance(definition, TypeDefinitionNode) and definition.name.value in hidden_types:
            continue
        if isinstance(definition, EnumTypeExtensionNode):
            continue
        changes: dict[str, Any] = {"directives": _public_directives(definition.directives)}
        if isinstance(definition, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode):
            changes["fields"] = tuple(
                f.__class__(
                    name=f.name,
                    description=f.description,
                    type=f.type,
                    directives=_public_directives(f.directives),
                    arguments=tuple(
                        a.__class__(
                            name=a.name,
                            description=a.description,
                            type=a.type,
                            default_value=a.default_value,
                            directives=_public_directives(a.directives),
                        )
                        for a in f.arguments or ()
                        if not _inaccessible(a)
                    ),
                )
                for f in definition.fields or ()
                if not _inaccessible(f) and _named(f.type) not in hidden_types
            )
            changes["interfaces"] = tuple(
                i for i in definition.interfaces or () if i.name.value not in hidden_types
            )
        elif isinstance(definition, InputObjectTypeDefinitionNode):
            changes["fields"] = tuple(
                f.__class__(
                    name=f.name,
                    description=f.description,
                    type=f.type,
                    default_value=f.default_value,
                    directives=_public_directives(f.directives),
                )
                for f in definition.fields or ()
                if not _inaccessible(f)
            )
        elif isinstance(definition, EnumTypeDefinitionNode):
            changes["values"] = tuple(
                v.__class__(
                    name=v.name, description=v.description, directives=_public_directives(v.directives)
                )
                for v in definition.values or ()
                if not _inaccessible(v)
            )
        elif isinstance(definition, UnionTypeDefinitionNode):
            changes["types"] = tuple(t for t in definition.types or () if t.name.value not in hidden_types)
        elif isinstance(definition, ScalarTypeDefinitionNode):
            pass
        kept.append(_copy(definition, changes))
    return DocumentNode(definitions=tuple(kept))


def _copy(node: Any, changes: dict[str, Any]) -> Any:
    values = {key: getattr(node, key, None) for key in node.keys if key != "loc"}
    values.update(changes)
    return node.__class__(**values)


def _named(type_node: Any) -> str:
    while not hasattr(type_node, "name"):
        type_node = type_node.type
    return type_node.name.value
