"""The registry's GraphQL subgraph (Apollo Federation 2): types, queries and mutations merged."""

from setka_runtime.graphql import SubgraphSchema
from strawberry.tools import merge_types

from .imports import ImportMutation
from .mutations import Mutation as RegistryMutation
from .queries import Query
from .types import ENTITIES

Mutation = merge_types("Mutation", (RegistryMutation, ImportMutation))
"""Every write: the registry's commands, and importing a file of rows."""

schema = SubgraphSchema(
    query=Query,
    mutation=Mutation,
    types=ENTITIES,
)

__all__ = ["schema"]
