"""Query plans: which subgraph is asked what, in which order, for one operation.

A plan is made once per (document, operation name) and cached. Root fields go to the subgraph
that owns them, all root fields of one subgraph in one request. A field that the current
subgraph cannot resolve becomes an entity fetch: the current request also asks for the entity's
key, and a later request sends the keys to the owning subgraph's ``_entities``. Fetches carry
exactly the selections the client made (aliases, arguments, directives, fragments), plus
``__typename`` and keys the gateway needs to stitch the answers together.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Literal

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLObjectType,
    InlineFragmentNode,
    NamedTypeNode,
    NameNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_abstract_type,
    is_composite_type,
    print_ast,
)
from graphql.language import Visitor, visit

from .supergraph import Supergraph, key_selection

TYPENAME = FieldNode(name=NameNode(value="__typename"))


class PlanError(Exception):
    """The operation needs something the supergraph cannot provide (a composition gap)."""


@dataclass
class Fetch:
    """One request to one subgraph: root fields, or entities of one type at one path."""

    graph: str
    selections: tuple[SelectionNode, ...]
    path: tuple[str, ...] = ()  # response keys from the root to the entities
    type_name: str | None = None  # the entity type; None for a root fetch
    key: SelectionSetNode | None = None
    variables: tuple[str, ...] = ()
    children: list[Fetch] = field(default_factory=list)
    body: str = ""  # the printed selection set
    root_keys: tuple[str, ...] = ()  # response keys a root fetch fills
    deferred_keys: tuple[str, ...] = ()  # response keys an entity fetch fills on each entity
    ident: int = 0


@dataclass
class Plan:
    kind: Literal["query", "mutation", "subscription"]
    operation: OperationDefinitionNode  # fragments inlined
    steps: list[list[Fetch]]  # run one step after another; fetches of a step run together
    introspection: bool
    passthrough: bool  # one subgraph answers everything as asked: forward the document as is
    conditional: bool  # uses @skip/@include

    def fetches(self) -> list[Fetch]:
        found: list[Fetch] = []
        pending = [fetch for step in self.steps for fetch in step]
        while pending:
            fetch = pending.pop(0)
            found.append(fetch)
            pending.extend(fetch.children)
        return found


def inline_fragments(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]
) -> SelectionSetNode:
    """The same selections with every fragment spread written out as an inline fragment."""
    selections: list[SelectionNode] = []
    for selection in selection_set.selections:
        if isinstance(selection, FragmentSpreadNode):
            fragment = fragments[selection.name.value]
            selections.append(
                InlineFragmentNode(
                    type_condition=fragment.type_condition,
                    directives=selection.directives,
                    selection_set=inline_fragments(fragment.selection_set, fragments),
                )
            )
        elif isinstance(selection, InlineFragmentNode):
            selections.append(
                InlineFragmentNode(
                    type_condition=selection.type_condition,
                    directives=selection.directives,
                    selection_set=inline_fragments(selection.selection_set, fragments),
                )
            )
        elif isinstance(selection, FieldNode) and selection.selection_set:
            selections.append(
                _with_selections(selection, inline_fragments(selection.selection_set, fragments))
            )
        else:
            selections.append(selection)
    return SelectionSetNode(selections=tuple(selections))


def expanded_fields(
    selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode]
) -> int:
    """How many fields ``selection_set`` has once every fragment spread is written out, counted
    in time linear in the document: each fragment's count is computed once, however often it is
    spread (a fragment that spreads another twice, twenty levels deep, is a million fields, and
    writing it out first would take minutes). A spread of a fragment that is not defined or that
    spreads itself counts as nothing; validation refuses both."""
    counts: dict[str, int] = {}
    visiting: set[str] = set()

    def count(selections: SelectionSetNode | None) -> int:
        total = 0
        for selection in selections.selections if selections else ():
            if isinstance(selection, FieldNode):
                total += 1 + count(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += count(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in counts:
                    fragment = fragments.get(name)
                    if fragment is None or name in visiting:
                        continue
                    visiting.add(name)
                    counts[name] = count(fragment.selection_set)
                    visiting.discard(name)
                total += counts[name]
        return total

    return count(selection_set)


def response_key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


class Planner:
    def __init__(self, supergraph: Supergraph) -> None:
        self.supergraph = supergraph
        self.schema = supergraph.schema
        self._ids = itertools.count(1)

    def plan(self, operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]) -> Plan:
        kind = operation.operation.value
        root_type = self.schema.get_root_type(operation.operation)
        if root_type is None:
            raise PlanError(f"the schema has no {kind} type")
        selection_set = inline_fragments(operation.selection_set, fragments)
        operation = OperationDefinitionNode(
            operation=operation.operation,
            name=operation.name,
            variable_definitions=operation.variable_definitions,
            directives=operation.directives,
            selection_set=selection_set,
        )
        fields = list(self._root_fields(selection_set))
        introspection = any(f.name.value in ("__schema", "__type") for f, _ in fields)
        conditional = _has_conditions(selection_set)
        assigned: list[tuple[FieldNode, str]] = []
        for node, directives in fields:
            name = node.name.value
            if name.startswith("__"):
                continue
            owners = self.supergraph.owners(root_type.name, name)
            if not owners:
                raise PlanError(f"no subgraph resolves {root_type.name}.{name}")
            if directives:
                node = _with_directives(node, (*directives, *(node.directives or ())))
            assigned.append((node, owners[0]))
        if kind == "mutation":
            groups = [
                (graph, [node for node, _ in run])
                for graph, run in itertools.groupby(assigned, key=lambda pair: pair[1])
            ]
            steps = [[self._root_fetch(operation, root_type, graph, nodes)] for graph, nodes in groups]
        else:
            by_graph: dict[str, list[FieldNode]] = {}
            for node, graph in assigned:
                by_graph.setdefault(graph, []).append(node)
            fetches = [
                self._root_fetch(operation, root_type, graph, nodes) for graph, nodes in by_graph.items()
            ]
            steps = [fetches] if fetches else []
        all_fetches = [fetch for step in steps for fetch in step]
        passthrough = (
            not introspection
            and kind != "subscription"
            and len(all_fetches) == 1
            and not all_fetches[0].children
            and len(fields) == len(assigned)
        )
        return Plan(
            kind=kind,  # type: ignore[arg-type]
            operation=operation,
            steps=steps,
            introspection=introspection,
            passthrough=passthrough,
            conditional=conditional,
        )

    def _root_fields(
        self, selection_set: SelectionSetNode, directives: tuple = ()
    ) -> list[tuple[FieldNode, tuple]]:
        """Root fields in order; fragments at the root are unwrapped, their conditions kept."""
        found: list[tuple[FieldNode, tuple]] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                found.append((selection, directives))
            elif isinstance(selection, InlineFragmentNode):
                found.extend(
                    self._root_fields(selection.selection_set, (*directives, *(selection.directives or ())))
                )
        return found

    def _root_fetch(
        self,
        operation: OperationDefinitionNode,
        root_type: GraphQLObjectType,
        graph: str,
        nodes: list[FieldNode],
    ) -> Fetch:
        deferred: dict[tuple[str, str, tuple[str, ...]], tuple[str, list[SelectionNode]]] = {}
        selections = self._split(SelectionSetNode(selections=tuple(nodes)), root_type, graph, (), deferred)
        fetch = Fetch(
            graph=graph,
            selections=tuple(selections),
            root_keys=tuple(dict.fromkeys(response_key(node) for node in nodes)),
            ident=next(self._ids),
        )
        fetch.children = self._entity_fetches(deferred)
        fetch.variables = _variables(fetch.selections)
        fetch.body = print_ast(SelectionSetNode(selections=fetch.selections))
        return fetch

    def _entity_fetches(
        self, deferred: dict[tuple[str, str, tuple[str, ...]], tuple[str, list[SelectionNode]]]
    ) -> list[Fetch]:
        fetches = []
        for (graph, type_name, path), (key, selections) in deferred.items():
            parent = self.schema.get_type(type_name)
            assert isinstance(parent, GraphQLObjectType)
            nested: dict[tuple[str, str, tuple[str, ...]], tuple[str, list[SelectionNode]]] = {}
            body = self._split(SelectionSetNode(selections=tuple(selections)), parent, graph, path, nested)
            fetch = Fetch(
                graph=graph,
                selections=(TYPENAME, *body),
                path=path,
                type_name=type_name,
                key=key_selection(key),
                deferred_keys=tuple(
                    dict.fromkeys(response_key(s) for s in selections if isinstance(s, FieldNode))
                ),
                ident=next(self._ids),
            )
            fetch.children = self._entity_fetches(nested)
            fetch.variables = _variables(fetch.selections)
            fetch.body = print_ast(
                SelectionSetNode(
                    selections=(
                        InlineFragmentNode(
                            type_condition=NamedTypeNode(name=NameNode(value=type_name)),
                            selection_set=SelectionSetNode(selections=fetch.selections),
                        ),
                    )
                )
            )
            fetches.append(fetch)
        return fetches

    def _split(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLCompositeType,
        graph: str,
        path: tuple[str, ...],
        deferred: dict[tuple[str, str, tuple[str, ...]], tuple[str, list[SelectionNode]]],
    ) -> list[SelectionNode]:
        """What ``graph`` is asked under ``parent``; what it cannot resolve goes to ``deferred``."""
        kept: list[SelectionNode] = []
        for selection in selection_set.selections:
            if isinstance(selection, InlineFragmentNode):
                condition = (
                    self.schema.get_type(selection.type_condition.name.value)
                    if selection.type_condition
                    else parent
                )
                assert condition is not None and is_composite_type(condition)
                inner = self._split(selection.selection_set, condition, graph, path, deferred)  # type: ignore[arg-type]
                if inner:
                    kept.append(
                        InlineFragmentNode(
                            type_condition=selection.type_condition,
                            directives=selection.directives,
                            selection_set=SelectionSetNode(selections=tuple(inner)),
                        )
                    )
                continue
            if not isinstance(selection, FieldNode):
                continue
            name = selection.name.value
            if name == "__typename":
                kept.append(selection)
                continue
            if name.startswith("__"):
                continue
            owners = self._owners(parent, name)
            if graph in owners:
                definition = parent.fields[name]  # type: ignore[union-attr]
                target = get_named_type(definition.type)
                if selection.selection_set is not None and is_composite_type(target):
                    inner = self._split(
                        selection.selection_set,
                        target,
                        graph,
                        (*path, response_key(selection)),
                        deferred,  # type: ignore[arg-type]
                    )
                    kept.append(_with_selections(selection, SelectionSetNode(selections=(TYPENAME, *inner))))
                else:
                    kept.append(selection)
                continue
            if is_abstract_type(parent):
                raise PlanError(f"{parent.name}.{name} is not resolvable by the {graph} subgraph")
            target_graph, key = self._entity_route(parent.name, graph, owners)
            kept.extend(
                selection
                for selection in key_selection(key).selections
                if not any(_same_bare_field(selection, other) for other in kept)
            )
            entry = deferred.setdefault((target_graph, parent.name, path), (key, []))
            entry[1].append(selection)
        return kept

    def _owners(self, parent: GraphQLCompositeType, name: str) -> tuple[str, ...]:
        owners = self.supergraph.owners(parent.name, name)
        if owners or not is_abstract_type(parent):
            return owners
        # An interface field with no join data: every graph that defines the interface.
        return self.supergraph.type_graphs.get(parent.name, ())

    def _entity_route(self, type_name: str, source: str, owners: tuple[str, ...]) -> tuple[str, str]:
        for target in owners:
            key = self.supergraph.key_for(type_name, source, target)
            if key is not None:
                return target, key
        raise PlanError(f"{type_name} has no key that {source} can give to any of {', '.join(owners)}")


def _same_bare_field(one: SelectionNode, other: SelectionNode) -> bool:
    """Two selections of one field with no alias, arguments, directives or sub-selections."""
    return (
        isinstance(one, FieldNode)
        and isinstance(other, FieldNode)
        and one.name.value == other.name.value
        and not (one.alias or other.alias or one.arguments or other.arguments)
        and not (one.directives or other.directives or one.selection_set or other.selection_set)
    )


def _with_selections(node: FieldNode, selection_set: SelectionSetNode) -> FieldNode:
    return FieldNode(
        alias=node.alias,
        name=node.name,
        arguments=node.arguments,
        directives=node.directives,
        selection_set=selection_set,
    )


def _with_directives(node: FieldNode, directives: tuple) -> FieldNode:
    return FieldNode(
        alias=node.alias,
        name=node.name,
        arguments=node.arguments,
        directives=directives,
        selection_set=node.selection_set,
    )


class _VariableCollector(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: dict[str, None] = {}

    def enter_variable(self, node: VariableNode, *_: object) -> None:
        self.names[node.name.value] = None


def _variables(selections: tuple[SelectionNode, ...]) -> tuple[str, ...]:
    collector = _VariableCollector()
    visit(SelectionSetNode(selections=selections), collector)
    return tuple(collector.names)


class _ConditionFinder(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_directive(self, node: object, *_: object) -> None:
        if getattr(node, "name", None) and node.name.value in ("skip", "include"):  # type: ignore[attr-defined]
            self.found = True


def _has_conditions(selection_set: SelectionSetNode) -> bool:
    finder = _ConditionFinder()
    visit(selection_set, finder)
    return finder.found
