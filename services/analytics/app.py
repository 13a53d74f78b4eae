"""The analytics process: consumers of domain events, its subgraph, health."""

from __future__ import annotations

from pathlib import Path

from setka_contracts import topics
from setka_runtime.cli import ServiceEntry
from setka_runtime.service import Service
from starlette.applications import Starlette

from . import audit_retention, rebuild, school_calendar
from .alerts import alert_loop
from .projections import SUBSCRIBED
from .reports import report_routes
from .schema import schema
from .settings import AnalyticsSettings


def build(settings: AnalyticsSettings, *, group: str | None = None) -> Service:
    """The registry's and the events service's topics and the audit trail (``setka.audit``, created
    at start like every topic read) share one subscription of the group ``setka.analytics``;
    another ``group`` builds an independent copy of the read models and the trail from the earliest
    offsets (a second instance on a fresh database, e.g. to rebuild without downtime)."""
    service = Service.create(settings, topics=[topics.ANALYTICS])
    service.context["min_schools"] = settings.disclosure_min_schools
    service.context["analysis_rules"] = settings.analysis_rules()
    group = group or rebuild.group_of(settings)
    consumers = [service.guarded(topic, handlers, group=group) for topic, handlers in SUBSCRIBED.items()]
    service.subscribe(consumers)
    service.waiting_room(consumers)
    service.background.append(lambda: alert_loop(service.db, settings))
    service.background.append(lambda: audit_retention.retention_loop(service.db, settings))
    return service


def create_app(settings: AnalyticsSettings | None = None) -> Starlette:
    """The subgraph, health, and the analysis downloads (``/reports/analysis.{xlsx,html,pdf}``)."""
    service = build(settings or AnalyticsSettings())
    return service.asgi(schema, extra_routes=report_routes(lambda: service.db, settings))


ENTRY = ServiceEntry(
    name="analytics",
    settings=AnalyticsSettings,
    migrations=Path(__file__).parent / "migrations",
    app=create_app,
    seed=school_calendar.seed_demo,
    commands={"rebuild": rebuild.COMMAND, "school-breaks": school_calendar.COMMAND},
)
