"""What an operation may cost the subgraphs, from the costs they declare in their SDL.

Each subgraph marks its expensive fields with the demand-control directives federation routers
read (Federation 2.9): ``@cost(weight: N)`` on a field that costs more than one row to resolve
(an analysis, a field computed by many queries), ``@listSize`` on a list or a connection:
``slicingArguments`` (the argument that sets how many it returns, e.g. ``first``),
``sizedFields`` (the fields of a connection that many come back in, e.g. ``edges``) and
``assumedSize`` (how many a list without such an argument is taken to hold).

An operation's cost is the sum over the fields it may resolve of each field's weight (1 unless
declared) times how many times it may be resolved: the product of the list sizes above it. A
list's size is its slicing argument's value (a literal, a variable's value once known, else the
argument's default), else its assumed size; a list declared nowhere counts as
:data:`DEFAULT_LIST_SIZE`, sized by a ``first``/``last``/``limit`` argument if it has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    value_from_ast_untyped,
)

LIST_SIZE_ARGUMENTS = ("first", "last", "limit")
"""Arguments that size a list nobody declared a ``@listSize`` for."""
DEFAULT_LIST_SIZE = 10
PAGE_FIELDS = ("edges", "nodes")
"""A connection's lists, sized by the connection's own argument."""


@dataclass(frozen=True)
class FieldCost:
    """What a subgraph declared of one field: ``@cost`` and ``@listSize``."""

    weight: int | None = None
    assumed_size: int | None = None
    slicing_arguments: tuple[str, ...] = ()
    sized_fields: tuple[str, ...] = ()

    @classmethod
    def of(cls, cost: Mapping[str, Any] | None, list_size: Mapping[str, Any] | None) -> FieldCost:
        sizes = list_size or {}
        weight = (cost or {}).get("weight")
        return cls(
            weight=int(weight) if weight is not None else None,
            assumed_size=sizes.get("assumedSize"),
            slicing_arguments=tuple(sizes.get("slicingArguments") or ()),
            sized_fields=tuple(sizes.get("sizedFields") or ()),
        )


Declared = Mapping[tuple[str, str], FieldCost]


class CostModel:
    """The costs of the operations on one schema, by what the subgraphs declared."""

    def __init__(self, schema: GraphQLSchema, declared: Declared) -> None:
        self.schema = schema
        self.declared = declared
        self.slicing = frozenset(LIST_SIZE_ARGUMENTS).union(*(d.slicing_arguments for d in declared.values()))

    def sized_by_variables(self, selection_set: SelectionSetNode | None) -> bool:
        """Whether a list's size comes from a variable (the cost is known with the variables)."""
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode) and any(
                a.name.value in self.slicing and isinstance(a.value, VariableNode)
                for a in selection.arguments or ()
            ):
                return True
            if isinstance(selection, FieldNode | InlineFragmentNode) and self.sized_by_variables(
                selection.selection_set
            ):
                return True
        return False

    def cost(self, selection_set: SelectionSetNode, parent: Any, variables: Mapping[str, Any] | None) -> int:
        """The cost of a selection set (fragments written out) on ``parent``; a size given by a
        variable counts as one until ``variables`` are known."""
        return self._cost(selection_set, parent, 1, variables, ())

    def _cost(
        self,
        selection_set: SelectionSetNode,
        parent: Any,
        multiplier: int,
        variables: Mapping[str, Any] | None,
        sized: tuple[tuple[str, ...], int],
    ) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, InlineFragmentNode):
                condition = (
                    self.schema.get_type(selection.type_condition.name.value)
                    if selection.type_condition
                    else parent
                )
                total += self._cost(selection.selection_set, condition, multiplier, variables, sized)
                continue
            if not isinstance(selection, FieldNode) or selection.name.value.startswith("__"):
                continue
            name = selection.name.value
            times = multiplier * sized[1] if sized and name in sized[0] else multiplier
            definition = getattr(parent, "fields", {}).get(name)
            declared = self.declared.get((getattr(parent, "name", ""), name), FieldCost())
            total += times * (declared.weight if declared.weight is not None else 1)
            if definition is None or selection.selection_set is None:
                continue
            size = self._size(selection, definition, declared, variables)
            if declared.sized_fields:  # a connection: its sized fields come back `size` times
                inner, children = times, (declared.sized_fields, size)
            else:
                inner, children = times * size, ()
            total += self._cost(
                selection.selection_set, get_named_type(definition.type), inner, variables, children
            )
        return total

    def _size(
        self, selection: FieldNode, definition: Any, declared: FieldCost, variables: Mapping[str, Any] | None
    ) -> int:
        """How many of a list field come back (1 for a field that is not a list)."""
        field_type = (
            definition.type.of_type if isinstance(definition.type, GraphQLNonNull) else definition.type
        )
        slicing = declared.slicing_arguments or LIST_SIZE_ARGUMENTS
        if not declared.slicing_arguments and not declared.assumed_size and not declared.sized_fields:
            if not isinstance(field_type, GraphQLList) and not any(
                a.name.value in slicing for a in selection.arguments or ()
            ):
                return 1
        given = {a.name.value: a.value for a in selection.arguments or ()}
        for name in slicing:
            value = given.get(name)
            if isinstance(value, IntValueNode):
                return max(1, int(value.value))
            if isinstance(value, VariableNode):
                known = (variables or {}).get(value.name.value)
                return max(1, known) if isinstance(known, int) else 1
            default = _default(definition.args.get(name))
            if value is None and declared.slicing_arguments and isinstance(default, int):
                return max(1, default)
        if declared.assumed_size is not None:
            return max(1, declared.assumed_size)
        if selection.name.value in PAGE_FIELDS:
            return 1
        return DEFAULT_LIST_SIZE if isinstance(field_type, GraphQLList) else 1


def _default(argument: Any) -> Any:
    """An argument's default value, as the schema's SDL gives it (None when it has none)."""
    if argument is None:
        return None
    if isinstance(argument.default_value, int):
        return argument.default_value
    node = getattr(getattr(argument, "ast_node", None), "default_value", None)
    return value_from_ast_untyped(node) if node is not None else None
