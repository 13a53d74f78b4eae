"""The events service's GraphQL subgraph (Apollo Federation 2): types, queries, mutations."""

import strawberry
from setka_runtime.graphql import SUBGRAPH_EXTENSIONS

from .mutations import Mutation
from .queries import Query
from .subscriptions import Subscription
from .types import Activity, Network, Organization, Plan, PlanItem

schema = strawberry.federation.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[Activity, Plan, PlanItem, Organization, Network],
    federation_version="2.7",
    extensions=list(SUBGRAPH_EXTENSIONS),
)

__all__ = ["schema"]
