"""The events service's GraphQL subgraph (Apollo Federation 2): types, queries, mutations."""

from setka_runtime.graphql import SubgraphSchema

from .mutations import Mutation
from .queries import Query
from .subscriptions import Subscription
from .types import Activity, InteractionGroup, Network, Organization, Plan, PlanItem

schema = SubgraphSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[Activity, Plan, PlanItem, Organization, Network, InteractionGroup],
)

__all__ = ["schema"]
