"""Running a plan: fetch, stitch the answers together, then shape the response the client asked for.

Fetches of one step run concurrently; the entity fetches below them run level by level, every
fetch of one subgraph at one level in one request (several ``_entities`` fields, aliased). The
answers are merged into one tree keyed by the client's response keys; the tree is then walked
along the client's selections to produce the response in the order asked, with ``@skip`` and
``@include`` applied and nulls propagated to the nearest nullable field, as GraphQL requires.
A subgraph that is down nulls only the fields it owns, with an error naming the service.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_directive_values,
    is_abstract_type,
    is_leaf_type,
    print_ast,
)
from graphql import GraphQLIncludeDirective as IncludeDirective

from .planner import Fetch, Plan, response_key
from .transport import Subgraphs, SubgraphUnavailable

Path = tuple[str | int, ...]


@dataclass
class Outcome:
    data: dict[str, Any] | None
    errors: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if self.errors:
            result["errors"] = self.errors
        result["data"] = self.data
        return result


@dataclass
class Run:
    plan: Plan
    raw_variables: dict[str, Any]
    headers: dict[str, str]
    data: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    gateway_nulls: dict[Path, dict[str, Any]] = field(default_factory=dict)


class _Bubble(Exception):
    """A null where the schema promises a value: the nearest nullable parent becomes null."""


class Executor:
    def __init__(self, schema: GraphQLSchema, subgraphs: Subgraphs) -> None:
        self.schema = schema
        self.subgraphs = subgraphs
        self._entity_documents: dict[tuple[int, ...], str] = {}

    async def run(
        self,
        plan: Plan,
        raw_variables: dict[str, Any],
        coerced_variables: dict[str, Any],
        headers: dict[str, str],
    ) -> Run:
        run = Run(plan=plan, raw_variables=raw_variables, headers=headers)
        for step in plan.steps:
            await asyncio.gather(*(self._root(run, fetch) for fetch in step))
            if plan.kind == "mutation" and run.gateway_nulls:
                break  # a later mutation does not run once an earlier one could not be sent
        return run

    async def run_from(self, run: Run, fetches: list[Fetch]) -> None:
        """Entity fetches below the given ones, level by level (used for subscription events)."""
        level = [child for fetch in fetches for child in fetch.children]
        while level:
            by_graph: dict[str, list[Fetch]] = {}
            for fetch in level:
                by_graph.setdefault(fetch.graph, []).append(fetch)
            done = await asyncio.gather(
                *(self._entities(run, graph, batch) for graph, batch in by_graph.items())
            )
            level = [child for fetched in done for fetch in fetched for child in fetch.children]

    def unavailable(self, run: Run, fetch: Fetch, error: SubgraphUnavailable) -> None:
        """The root fields of a fetch whose subgraph did not answer: null, each with the reason."""
        for key in fetch.root_keys:
            run.data[key] = None
            run.gateway_nulls[(key,)] = _service_error(error, (key,))

    async def _root(self, run: Run, fetch: Fetch) -> None:
        operation = run.plan.operation
        query = root_document(operation, fetch)
        body: dict[str, Any] = {"query": query}
        variables = {name: run.raw_variables[name] for name in fetch.variables if name in run.raw_variables}
        if variables:
            body["variables"] = variables
        try:
            answer = await self.subgraphs.query(fetch.graph, body, run.headers)
        except SubgraphUnavailable as exc:
            self.unavailable(run, fetch, exc)
            return
        data = answer.get("data")
        if isinstance(data, dict):
            _merge(run.data, data)
        else:
            for key in fetch.root_keys:
                run.data.setdefault(key, None)
        run.errors.extend(_passed_on(answer.get("errors"), fetch.graph))
        await self.run_from(run, [fetch])

    async def _entities(self, run: Run, graph: str, fetches: list[Fetch]) -> list[Fetch]:
        """One request to ``graph`` for every entity fetch of this level; returns those sent."""
        sent: list[tuple[Fetch, list[list[tuple[dict[str, Any], Path]]]]] = []
        representations: dict[str, Any] = {}
        for fetch in fetches:
            grouped: dict[bytes, int] = {}
            owners: list[list[tuple[dict[str, Any], Path]]] = []
            listed: list[Any] = []
            for entity, path in _entities_at(run.data, fetch.path, fetch.type_name):
                representation = {"__typename": fetch.type_name, **_project(entity, fetch.key)}
                token = orjson.dumps(representation, option=orjson.OPT_SORT_KEYS)
                index = grouped.get(token)
                if index is None:
                    grouped[token] = index = len(listed)
                    listed.append(representation)
                    owners.append([])
                owners[index].append((entity, path))
            if listed:
                representations[f"r{len(sent)}"] = listed
                sent.append((fetch, owners))
        if not sent:
            return []
        names: set[str] = set()
        for fetch, _ in sent:
            names.update(fetch.variables)
        variables = {name: run.raw_variables[name] for name in names if name in run.raw_variables}
        body = {
            "query": self._entity_document(run.plan.operation, [fetch for fetch, _ in sent]),
            "variables": {**variables, **representations},
        }
        try:
            answer = await self.subgraphs.query(graph, body, run.headers)
        except SubgraphUnavailable as exc:
            for fetch, owners in sent:
                for group in owners:
                    for entity, path in group:
                        for key in fetch.deferred_keys:
                            entity[key] = None
                            run.gateway_nulls[(*path, key)] = _service_error(exc, (*path, key))
            return []
        data = answer.get("data") or {}
        for position, (fetch, owners) in enumerate(sent):
            results = data.get(f"r{position}") if isinstance(data, dict) else None
            for index, group in enumerate(owners):
                result = results[index] if isinstance(results, list) and index < len(results) else None
                for entity, _ in group:
                    if isinstance(result, dict):
                        _merge(entity, result)
                    else:
                        for key in fetch.deferred_keys:
                            entity.setdefault(key, None)
        for error in _passed_on(answer.get("errors"), graph):
            path = error.get("path")
            if path and isinstance(path[0], str) and path[0].startswith("r") and len(path) > 1:
                position, index = int(path[0][1:]), path[1]
                if position < len(sent) and isinstance(index, int) and index < len(sent[position][1]):
                    entity_path = sent[position][1][index][0][1]
                    error = {**error, "path": [*entity_path, *path[2:]]}
                else:
                    error = {key: value for key, value in error.items() if key != "path"}
            run.errors.append(error)
        return [fetch for fetch, _ in sent]

    def _entity_document(self, operation: OperationDefinitionNode, fetches: list[Fetch]) -> str:
        cache_key = tuple(fetch.ident for fetch in fetches)
        document = self._entity_documents.get(cache_key)
        if document is None:
            names: dict[str, None] = {}
            for fetch in fetches:
                names.update(dict.fromkeys(fetch.variables))
            definitions = [
                f"$r{position}: [_Any!]!" for position in range(len(fetches))
            ] + _variable_definitions(operation, tuple(names))
            fields = " ".join(
                f"r{position}: _entities(representations: $r{position}) {fetch.body}"
                for position, fetch in enumerate(fetches)
            )
            document = f"query({', '.join(definitions)}) {{ {fields} }}"
            if len(self._entity_documents) > 10_000:
                self._entity_documents.clear()
            self._entity_documents[cache_key] = document
        return document

    def shape(self, run: Run, variables: dict[str, Any]) -> Outcome:
        """The response as the client asked for it, from the stitched answers."""
        root = self.schema.get_root_type(run.plan.operation.operation)
        assert root is not None
        shaper = _Shaper(self.schema, variables, run)
        try:
            data = shaper.object(run.data, root, run.plan.operation.selection_set, ())
        except _Bubble:
            data = None
        return Outcome(data=data, errors=shaper.errors + run.errors)


class _Shaper:
    def __init__(self, schema: GraphQLSchema, variables: dict[str, Any], run: Run) -> None:
        self.schema = schema
        self.variables = variables
        self.run = run
        self.errors: list[dict[str, Any]] = []
        self._error_paths = {tuple(e["path"]) for e in run.errors if e.get("path")}

    def object(
        self, source: dict[str, Any], parent: GraphQLObjectType, selection_set: SelectionSetNode, path: Path
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, nodes in self._collect(parent, selection_set, {}).items():
            node = nodes[0]
            name = node.name.value
            if name == "__typename":
                result[key] = parent.name
                continue
            definition: GraphQLField = parent.fields[name]
            field_path = (*path, key)
            value = source.get(key)
            try:
                result[key] = self.value(value, definition.type, nodes, field_path, parent, name)
            except _Bubble:
                if isinstance(definition.type, GraphQLNonNull):
                    raise
                result[key] = None
        return result

    def value(
        self, value: Any, type_: Any, nodes: list[FieldNode], path: Path, parent: GraphQLObjectType, name: str
    ) -> Any:
        if isinstance(type_, GraphQLNonNull):
            if value is None:
                self._null_error(path, parent, name)
                raise _Bubble
            completed = self.value(value, type_.of_type, nodes, path, parent, name)
            if completed is None:
                self._null_error(path, parent, name)
                raise _Bubble
            return completed
        if value is None:
            gateway_error = self.run.gateway_nulls.get(path)
            if gateway_error is not None:
                self.errors.append(gateway_error)
            return None
        if isinstance(type_, GraphQLList):
            if not isinstance(value, list):
                return None
            items = []
            inner = type_.of_type
            for index, item in enumerate(value):
                try:
                    items.append(self.value(item, inner, nodes, (*path, index), parent, name))
                except _Bubble:
                    if isinstance(inner, GraphQLNonNull):
                        raise
                    items.append(None)
            return items
        if is_leaf_type(type_):
            return value
        if not isinstance(value, dict):
            return None
        runtime = type_
        if is_abstract_type(type_):
            runtime = self.schema.get_type(value.get("__typename", ""))
            if not isinstance(runtime, GraphQLObjectType):
                return None
        merged = nodes[0].selection_set if len(nodes) == 1 else _merged(nodes)
        return self.object(value, runtime, merged, path)

    def _null_error(self, path: Path, parent: GraphQLObjectType, name: str) -> None:
        if path in self.run.gateway_nulls:
            self.errors.append(self.run.gateway_nulls[path])
            return
        if any(known[: len(path)] == path for known in self._error_paths):
            return  # the subgraph already said why
        self.errors.append(
            {
                "message": f"Cannot return null for non-nullable field {parent.name}.{name}.",
                "path": list(path),
            }
        )

    def _collect(
        self, runtime: GraphQLObjectType, selection_set: SelectionSetNode, into: dict[str, list[FieldNode]]
    ) -> dict[str, list[FieldNode]]:
        for selection in selection_set.selections:
            if self.run.plan.conditional and not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                into.setdefault(response_key(selection), []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is not None and condition.name.value != runtime.name:
                    abstract = self.schema.get_type(condition.name.value)
                    if not (is_abstract_type(abstract) and self.schema.is_sub_type(abstract, runtime)):  # type: ignore[arg-type]
                        continue
                self._collect(runtime, selection.selection_set, into)
        return into

    def _included(self, node: Any) -> bool:
        if not node.directives:
            return True
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip and skip.get("if") is True:
            return False
        include = get_directive_values(IncludeDirective, node, self.variables)
        return not (include and include.get("if") is False)


def _merged(nodes: list[FieldNode]) -> SelectionSetNode:
    selections = tuple(s for node in nodes if node.selection_set for s in node.selection_set.selections)
    return SelectionSetNode(selections=selections)


def root_document(operation: OperationDefinitionNode, fetch: Fetch) -> str:
    definitions = _variable_definitions(operation, fetch.variables)
    head = operation.operation.value
    if definitions:
        head += f"({', '.join(definitions)})"
    return f"{head} {fetch.body}"


def _variable_definitions(operation: OperationDefinitionNode, names: tuple[str, ...]) -> list[str]:
    wanted = set(names)
    return [
        print_ast(definition)
        for definition in operation.variable_definitions or ()
        if definition.variable.name.value in wanted
    ]


def _entities_at(
    data: Any, path: tuple[str, ...], type_name: str | None
) -> Iterator[tuple[dict[str, Any], Path]]:
    """Every object at ``path`` (lists flattened) whose type is ``type_name``, with its own path."""

    def walk(value: Any, depth: int, where: Path) -> Iterator[tuple[dict[str, Any], Path]]:
        if isinstance(value, list):
            for index, item in enumerate(value):
                yield from walk(item, depth, (*where, index))
            return
        if not isinstance(value, dict):
            return
        if depth == len(path):
            if value.get("__typename") == type_name:
                yield value, where
            return
        key = path[depth]
        yield from walk(value.get(key), depth + 1, (*where, key))

    yield from walk(data, 0, ())


def _project(entity: dict[str, Any], key: SelectionSetNode | None) -> dict[str, Any]:
    projected: dict[str, Any] = {}
    for selection in key.selections if key else ():
        assert isinstance(selection, FieldNode)
        name = selection.name.value
        value = entity.get(name)
        if selection.selection_set is not None and isinstance(value, dict):
            value = _project(value, selection.selection_set)
        projected[name] = value
    return projected


def _merge(target: dict[str, Any], source: dict[str, Any]) -> None:
    for key, value in source.items():
        existing = target.get(key)
        if isinstance(existing, dict) and isinstance(value, dict):
            _merge(existing, value)
        elif isinstance(existing, list) and isinstance(value, list) and len(existing) == len(value):
            for index, item in enumerate(value):
                if isinstance(existing[index], dict) and isinstance(item, dict):
                    _merge(existing[index], item)
                else:
                    existing[index] = item
        else:
            target[key] = value


def _passed_on(errors: Any, graph: str) -> list[dict[str, Any]]:
    if not isinstance(errors, list):
        return []
    passed = []
    for error in errors:
        if not isinstance(error, dict) or not isinstance(error.get("message"), str):
            continue
        entry: dict[str, Any] = {"message": error["message"]}
        if isinstance(error.get("path"), list):
            entry["path"] = error["path"]
        extensions = error.get("extensions")
        entry["extensions"] = {**(extensions if isinstance(extensions, dict) else {}), "service": graph}
        passed.append(entry)
    return passed


def _service_error(error: SubgraphUnavailable, path: Path) -> dict[str, Any]:
    return {
        "message": str(error),
        "path": list(path),
        "extensions": {"code": "SUBGRAPH_UNAVAILABLE", "service": error.service},
    }
