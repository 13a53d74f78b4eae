"""The events service's GraphQL subgraph (Apollo Federation 2): types, queries, mutations."""

from setka_runtime.graphql import SubgraphSchema
from strawberry.tools import merge_types

from .dead_letters import DeadLetterQuery
from .mutations import Mutation
from .queries import Query as EventsQuery
from .subscriptions import Subscription
from .types import Activity, InteractionGroup, Network, Organization, Plan, PlanItem

Query = merge_types("Query", (EventsQuery, DeadLetterQuery))
"""Every read: the calendar, plans and facts, and the dead letters of the regions' systems."""

schema = SubgraphSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[Activity, Plan, PlanItem, Organization, Network, InteractionGroup],
)

__all__ = ["schema"]
