"""One GraphQL request from text to response: parse, validate, limit, plan (all cached), execute."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter, OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    execute,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.values import VariableValues, get_variable_values
from graphql.language import FragmentDefinitionNode, FragmentSpreadNode
from graphql.utilities import strip_ignored_characters
from graphql.validation import NoSchemaIntrospectionCustomRule
from setka_runtime.access import Identity, Refusal, refusals

from .cost import CostModel
from .executor import Executor, Outcome, Run
from .planner import Plan, PlanError, Planner, expanded_fields, inline_fragments
from .supergraph import Supergraph
from .transport import Subgraphs, SubgraphUnavailable

# Introspection is not bounded by the depth limit (GraphiQL's own query is deeper than 10), but
# the lists that make it grow without end (fields → type → fields → ...) are: as graphql-js does.
INTROSPECTION_LISTS = ("fields", "interfaces", "possibleTypes", "inputFields")
MAX_INTROSPECTION_NESTING = 3  # lists inside a connection: sized by the connection's page
PADDED_CHARS = 20_000
"""A document longer than this is kept without its ignored characters (locations then refer to
that shorter text)."""


@dataclass(frozen=True)
class Limits:
    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2000
    max_cost: int = 20_000
    max_document_chars: int = 100_000
    """Characters of a document, ignored ones (whitespace, comments) included."""
    max_fields: int = 5_000
    """Fields of an operation once its fragments are written out (counted before they are)."""
    max_repeats: int = 20
    """How many times one response name may appear in one selection set (repeats are legal GraphQL
    and change nothing in the answer, but graphql's validation compares every pair of them)."""
    introspection: bool = True


class RequestError(Exception):
    """The request cannot be executed at all (GraphQL over HTTP: a 4xx with graphql-response+json)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["message"] if errors else "bad request")
        self.errors = errors


@dataclass
class Prepared:
    document: DocumentNode
    operation: OperationDefinitionNode
    plan: Plan
    single_operation: bool
    sized_by_variables: bool = False
    cost: int = 0
    """What the operation may cost (sizes given by variables counted as one)."""
    refusals: dict[tuple[bool, frozenset[str]], list[Refusal]] = field(default_factory=dict)
    """The access check's answer for each kind of caller (signed in or not, their roles)."""

    @property
    def kind(self) -> str:
        return self.plan.kind


PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
"""The ``extensions.code`` of a request refused before anything runs, as standard routers (Apollo
Router, Hive Gateway) name them, so a portal can tell a broken document from an operation over
the limits (``MAX_DEPTH_LIMIT``, ``MAX_ALIASES_LIMIT``,
``COST_ESTIMATED_TOO_EXPENSIVE``)."""


def _coded(message: str, code: str) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code}}


def _error(error: GraphQLError, code: str | None = None) -> dict[str, Any]:
    formatted = {key: value for key, value in error.formatted.items() if value is not None}
    if code is not None:
        formatted["extensions"] = {**(formatted.get("extensions") or {}), "code": code}
    return formatted


class Engine:
    def __init__(
        self, supergraph: Supergraph, subgraphs: Subgraphs, limits: Limits, *, cache_size: int = 1000
    ) -> None:
        self.supergraph = supergraph
        self.schema: GraphQLSchema = supergraph.schema
        self.subgraphs = subgraphs
        self.limits = limits
        self.planner = Planner(supergraph)
        self.costs = CostModel(self.schema, supergraph.costs)
        self.executor = Executor(self.schema, subgraphs)
        # keyed by digests: a cached entry costs what its parsed document and plan cost (bounded by
        # the token and field limits), never the bytes of whitespace and comments sent with it
        self._documents: OrderedDict[bytes, DocumentNode | RequestError] = OrderedDict()
        self._plans: OrderedDict[bytes, Prepared | RequestError] = OrderedDict()
        self.cache_size = cache_size
        self._preparer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prepare")
        rules = list(specified_rules)
        if not limits.introspection:
            rules.append(NoSchemaIntrospectionCustomRule)
        self._rules = rules

    # -- preparing -------------------------------------------------------------------------
    async def prepare_off_loop(self, query: str, operation_name: str | None) -> Prepared:
        """:meth:`prepare` without holding the event loop: a document seen before is answered
        from the cache at once; a new one is parsed, validated, checked and planned in the
        engine's own thread, so a client sending expensive documents slows down only the other
        new documents, never the requests in flight."""
        cached = self._plans.get(_plan_key(query, operation_name))
        if cached is not None:
            if isinstance(cached, RequestError):
                raise cached
            return cached
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._preparer, self.prepare, query, operation_name)

    def is_prepared(self, query: str, operation_name: str | None) -> bool:
        """Whether this document and operation were prepared before (and are still cached)."""
        return _plan_key(query, operation_name) in self._plans

    def close(self) -> None:
        self._preparer.shutdown(wait=False, cancel_futures=True)

    def prepare(self, query: str, operation_name: str | None) -> Prepared:
        """The cached plan of this document and operation; a RequestError when it is not valid."""
        key = _plan_key(query, operation_name)
        prepared = self._plans.get(key)
        if prepared is None:
            try:
                prepared = self._prepare(query, operation_name)
            except RequestError as exc:
                prepared = exc
            self._plans[key] = prepared
            if len(self._plans) > self.cache_size:
                self._plans.popitem(last=False)
        else:
            self._plans.move_to_end(key)
        if isinstance(prepared, RequestError):
            raise prepared
        return prepared

    def _document(self, query: str) -> DocumentNode:
        key = _digest(query)
        document = self._documents.get(key)
        if document is None and len(query) > self.limits.max_document_chars:
            # lexing costs time per character, and whitespace and comments are not tokens
            document = RequestError(
                [
                    _coded(
                        f"The document has {len(query)} characters; at most {self.limits.max_document_chars}",
                        "DOCUMENT_TOO_LARGE",
                    )
                ]
            )
        if document is None:
            try:
                parsed = parse(query, max_tokens=self.limits.max_tokens)
            except GraphQLError as exc:
                document = RequestError([_error(exc, PARSE_FAILED)])
            else:
                # what makes validation itself slow is refused before it (a field asked hundreds
                # of times: graphql's overlap check compares every pair of them)
                refusal = self._shape_refusal(parsed)
                errors = [] if refusal else validate(self.schema, parsed, self._rules)
                if refusal:
                    document = refusal
                elif errors:
                    document = RequestError([_error(e, VALIDATION_FAILED) for e in errors])
                elif len(query) > PADDED_CHARS:
                    # a parsed document keeps its source; keep the text without what the lexer
                    # ignores (whitespace, comments), whose size no token limit bounds
                    document = parse(strip_ignored_characters(query), max_tokens=self.limits.max_tokens)
                else:
                    document = parsed
            self._documents[key] = document
            if len(self._documents) > self.cache_size:
                self._documents.popitem(last=False)
        if isinstance(document, RequestError):
            raise document
        return document

    def _shape_refusal(self, document: DocumentNode) -> RequestError | None:
        """Refuse, before validating, a document whose shape makes validation costly: too many
        fields once its fragments are written out, one response name more than
        ``max_repeats`` times in one selection (through its fragments too), or more aliases
        than allowed in its text. Each is counted in time linear in the document."""
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                fields = expanded_fields(definition.selection_set, fragments)
                if fields > self.limits.max_fields:
                    return RequestError([_too_many_fields(fields, self.limits.max_fields)])
        repeated = _repeated(document, fragments, self.limits.max_repeats)
        if repeated is not None:
            name, times = repeated
            message = (
                f"'{name}' is asked {times} times or more in one selection; at most {self.limits.max_repeats}"
            )
            return RequestError([_coded(message, "FIELD_REPEATED_TOO_OFTEN")])
        aliases = sum(
            1
            for definition in document.definitions
            for selections in _selection_sets(getattr(definition, "selection_set", None))
            for selection in selections.selections
            if isinstance(selection, FieldNode) and selection.alias
        )
        if aliases > self.limits.max_aliases:
            return RequestError(
                [_coded(f"{aliases} aliases found. Allowed: {self.limits.max_aliases}", "MAX_ALIASES_LIMIT")]
            )
        return None

    def _prepare(self, query: str, operation_name: str | None) -> Prepared:
        document = self._document(query)
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            message = (
                f"Unknown operation named '{operation_name}'."
                if operation_name
                else "Must provide operation name if query contains multiple operations."
            )
            raise RequestError([_coded(message, "OPERATION_RESOLUTION_FAILURE")])
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        cost = self._check_limits(operation, fragments)
        try:
            plan = self.planner.plan(operation, fragments)
        except PlanError as exc:
            raise RequestError(
                [_coded(f"This operation cannot be planned: {exc}", "QUERY_PLANNING_FAILED")]
            ) from exc
        single = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions) == 1
        return Prepared(
            document=document,
            operation=operation,
            plan=plan,
            single_operation=single,
            sized_by_variables=self.costs.sized_by_variables(plan.operation.selection_set),
            cost=cost,
        )

    def _check_limits(
        self, operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
    ) -> int:
        """Refuse an operation over a limit; its cost when it is under all of them."""
        fields = expanded_fields(operation.selection_set, fragments)
        if fields > self.limits.max_fields:
            raise RequestError([_too_many_fields(fields, self.limits.max_fields)])
        selection_set = inline_fragments(operation.selection_set, fragments)
        name = operation.name.value if operation.name else "anonymous"
        depth = _depth(selection_set)
        if depth > self.limits.max_depth:
            raise RequestError(
                [
                    _coded(
                        f"'{name}' exceeds maximum operation depth of {self.limits.max_depth}",
                        "MAX_DEPTH_LIMIT",
                    )
                ]
            )
        if _introspection_nesting(selection_set, 0) > MAX_INTROSPECTION_NESTING:
            raise RequestError(
                [
                    _coded(
                        "Maximum introspection depth exceeded: lists of fields, interfaces or "
                        f"possible types nest at most {MAX_INTROSPECTION_NESTING} deep",
                        VALIDATION_FAILED,
                    )
                ]
            )
        aliases = _aliases(selection_set)
        if aliases > self.limits.max_aliases:
            raise RequestError(
                [_coded(f"{aliases} aliases found. Allowed: {self.limits.max_aliases}", "MAX_ALIASES_LIMIT")]
            )
        return self._check_cost(operation.operation, selection_set, None)

    def _check_cost(
        self, kind: OperationType, selection_set: SelectionSetNode, variables: dict[str, Any] | None
    ) -> int:
        """Refuse what may cost too much (see :mod:`.cost`); sizes given by variables count once
        known. The cost, when it is allowed."""
        root = self.schema.get_root_type(kind)
        if root is None:
            return 0
        cost = self.costs.cost(selection_set, root, variables)
        if cost > self.limits.max_cost:
            raise RequestError(
                [
                    _coded(
                        f"The operation costs {cost}, more than the allowed {self.limits.max_cost}",
                        "COST_ESTIMATED_TOO_EXPENSIVE",
                    )
                ]
            )
        return cost

    def variables(self, prepared: Prepared, raw: dict[str, Any]) -> VariableValues:
        coerced = get_variable_values(self.schema, prepared.operation.variable_definitions or (), raw)
        if isinstance(coerced, list):
            raise RequestError([_error(e) for e in coerced])  # no code, as Hive Gateway
        if prepared.sized_by_variables:
            self._check_cost(
                prepared.operation.operation, prepared.plan.operation.selection_set, coerced.coerced
            )
        return coerced

    def cost_of(self, prepared: Prepared, raw: dict[str, Any]) -> int:
        """What this request may cost: the operation's, with the sizes its variables give."""
        if not prepared.sized_by_variables:
            return prepared.cost
        coerced = self.variables(prepared, raw)
        return self._check_cost(
            prepared.operation.operation, prepared.plan.operation.selection_set, coerced.coerced
        )

    # -- executing -------------------------------------------------------------------------
    async def execute(
        self,
        prepared: Prepared,
        query: str,
        raw_variables: dict[str, Any],
        headers: dict[str, str],
    ) -> bytes:
        """The response body (JSON) of a query or mutation."""
        coerced = self.variables(prepared, raw_variables)
        plan = prepared.plan
        if plan.passthrough and prepared.single_operation:
            fetch = plan.steps[0][0]
            body: dict[str, Any] = {"query": query}
            if prepared.operation.name:
                body["operationName"] = prepared.operation.name.value
            if raw_variables:
                body["variables"] = raw_variables
            try:
                return await self.subgraphs.send(fetch.graph, body, headers, share=plan.kind == "query")
            except SubgraphUnavailable as exc:
                run = Run(plan=plan, raw_variables=raw_variables, headers=headers)
                self.executor.unavailable(run, fetch, exc)
                return orjson.dumps(self.executor.shape(run, coerced).body())
        run = await self.executor.run(plan, raw_variables, coerced, headers)
        if plan.introspection:
            return orjson.dumps(self._with_introspection(prepared, run.data, raw_variables, run.errors))
        outcome = self.executor.shape(run, coerced)
        return orjson.dumps(outcome.body())

    def _with_introspection(
        self,
        prepared: Prepared,
        data: dict[str, Any],
        variables: dict[str, Any],
        errors: list[dict[str, Any]],
    ) -> dict[str, Any]:
        def resolve(source: Any, info: Any, **_: Any) -> Any:
            return source.get(info.path.key) if isinstance(source, dict) else None

        def resolve_type(value: Any, *_: Any) -> Any:
            return value.get("__typename") if isinstance(value, dict) else None

        result = execute(
            self.schema,
            prepared.document,
            root_value=data,
            variable_values=variables,
            operation_name=prepared.operation.name.value if prepared.operation.name else None,
            field_resolver=resolve,
            type_resolver=resolve_type,
        )
        outcome = Outcome(data=result.data, errors=[_error(e) for e in result.errors or ()] + errors)
        return outcome.body()

    def refused(self, prepared: Prepared, identity: Identity) -> list[Refusal]:
        """The fields of the operation whose declared access the caller does not satisfy (the
        answer depends only on being signed in and on the roles, so it is kept per plan)."""
        key = (identity.authenticated, identity.scopes)
        found = prepared.refusals.get(key)
        if found is None:
            found = refusals(
                self.schema,
                prepared.document,
                prepared.operation.name.value if prepared.operation.name else None,
                self.supergraph.access,
                identity,
            )
            if len(prepared.refusals) < 64:
                prepared.refusals[key] = found
        return found

    def is_query(self, prepared: Prepared) -> bool:
        return prepared.operation.operation == OperationType.QUERY


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _plan_key(query: str, operation_name: str | None) -> bytes:
    name = "" if operation_name is None else f"\x00{operation_name}"
    return _digest(query + name)


def _introspection_nesting(selection_set: SelectionSetNode | None, inside: int) -> int:
    """How deep lists of fields, interfaces, possible types or input fields nest in introspection."""
    deepest = inside
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _introspection_nesting(selection.selection_set, inside))
        elif isinstance(selection, FieldNode) and selection.selection_set is not None:
            name = selection.name.value
            nested = inside + 1 if name in INTROSPECTION_LISTS else inside
            deepest = max(deepest, _introspection_nesting(selection.selection_set, nested))
    return deepest


def _depth(selection_set: SelectionSetNode | None) -> int:
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__"):
                continue
            deepest = max(deepest, 1 + _depth(selection.selection_set))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _depth(selection.selection_set))
    return deepest


def _too_many_fields(fields: int, limit: int) -> dict[str, Any]:
    return _coded(
        f"The operation has {fields} fields once its fragments are written out; at most {limit}",
        "MAX_FIELDS_LIMIT",
    )


def _repeated(
    document: DocumentNode, fragments: dict[str, FragmentDefinitionNode], limit: int
) -> tuple[str, int] | None:
    """A response name that one selection set of the document asks for more than ``limit``
    times, counting what its inline fragments and fragment spreads add to it
    (each fragment counted once, counts capped past the limit); None when there is none."""
    cap = limit + 1
    spread: dict[str, Counter[str]] = {}
    visiting: set[str] = set()

    def names(selection_set: SelectionSetNode) -> Counter[str]:
        found: Counter[str] = Counter()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                found[(selection.alias or selection.name).value] += 1
            elif isinstance(selection, InlineFragmentNode):
                found.update(names(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in spread:
                    fragment = fragments.get(name)
                    if fragment is None or name in visiting:
                        continue
                    visiting.add(name)
                    spread[name] = names(fragment.selection_set)
                    visiting.discard(name)
                found.update(spread[name])
        return Counter({name: min(times, cap) for name, times in found.items()})

    for definition in document.definitions:
        for selections in _selection_sets(getattr(definition, "selection_set", None)):
            counted = names(selections)
            if counted:
                name, times = counted.most_common(1)[0]
                if times > limit:
                    return name, times
    return None


def _selection_sets(selection_set: SelectionSetNode | None) -> Iterator[SelectionSetNode]:
    """Every selection set in one, itself included, as written (fragment spreads not followed)."""
    pending = [selection_set] if selection_set is not None else []
    while pending:
        current = pending.pop()
        yield current
        pending.extend(
            s.selection_set
            for s in current.selections
            if isinstance(s, FieldNode | InlineFragmentNode) and s.selection_set is not None
        )


def _aliases(selection_set: SelectionSetNode | None) -> int:
    if selection_set is None:
        return 0
    count = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            count += (1 if selection.alias else 0) + _aliases(selection.selection_set)
        elif isinstance(selection, InlineFragmentNode):
            count += _aliases(selection.selection_set)
    return count
