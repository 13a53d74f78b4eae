"""The events service's GraphQL subgraph (Apollo Federation 2): types, queries, mutations."""

from setka_runtime.graphql import SubgraphSchema
from strawberry.tools import merge_types

from ..notifications.schema import NotificationMutation, NotificationQuery
from .dead_letters import DeadLetterQuery
from .facts import FactMutation
from .mutations import Mutation
from .queries import Query as EventsQuery
from .sources import SourceMutation, SourceQuery
from .subscriptions import Subscription
from .types import Activity, InteractionGroup, Network, Organization, Plan, PlanItem

Query = merge_types("Query", (EventsQuery, DeadLetterQuery, SourceQuery, NotificationQuery))
"""Every read: the calendar, plans and facts, the regions' dead letters and sources, and a person's
notifications."""

schema = SubgraphSchema(
    query=Query,
    mutation=merge_types("Mutation", (Mutation, FactMutation, SourceMutation, NotificationMutation)),
    subscription=Subscription,
    types=[Activity, Plan, PlanItem, Organization, Network, InteractionGroup],
)

__all__ = ["schema"]
