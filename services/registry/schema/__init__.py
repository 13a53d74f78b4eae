"""The registry's GraphQL subgraph (Apollo Federation 2): types, queries and mutations merged."""

from setka_runtime.graphql import SubgraphSchema

from .mutations import Mutation
from .queries import Query
from .types import ENTITIES

schema = SubgraphSchema(
    query=Query,
    mutation=Mutation,
    types=ENTITIES,
)

__all__ = ["schema"]
