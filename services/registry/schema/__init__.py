"""The registry's GraphQL subgraph (Apollo Federation 2): types, queries and mutations merged."""

import strawberry
from setka_runtime.graphql import SUBGRAPH_EXTENSIONS

from .mutations import Mutation
from .queries import Query
from .types import ENTITIES

schema = strawberry.federation.Schema(
    query=Query,
    mutation=Mutation,
    types=ENTITIES,
    federation_version="2.7",
    extensions=list(SUBGRAPH_EXTENSIONS),
)

__all__ = ["schema"]
