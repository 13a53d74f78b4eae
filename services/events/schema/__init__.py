"""The events service's GraphQL subgraph (Apollo Federation 2): types, queries, mutations."""

from setka_runtime.graphql import SubgraphSchema
from strawberry.tools import merge_types

from ..notifications.schema import NotificationMutation, NotificationQuery
from .mutations import Mutation
from .queries import Query
from .subscriptions import Subscription
from .types import Activity, InteractionGroup, Network, Organization, Plan, PlanItem

schema = SubgraphSchema(
    query=merge_types("Query", (Query, NotificationQuery)),
    mutation=merge_types("Mutation", (Mutation, NotificationMutation)),
    subscription=Subscription,
    types=[Activity, Plan, PlanItem, Organization, Network, InteractionGroup],
)

__all__ = ["schema"]
