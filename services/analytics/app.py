"""The analytics process: consumers of domain events, its subgraph, health."""

from __future__ import annotations

from pathlib import Path

from setka_contracts import topics
from setka_runtime.cli import ServiceEntry
from setka_runtime.service import Service
from starlette.applications import Starlette

from .projections import HANDLERS
from .schema import schema
from .settings import AnalyticsSettings


def build(settings: AnalyticsSettings) -> Service:
    service = Service.create(settings, topics=[topics.ANALYTICS])
    service.consume(topics.REGISTRY, HANDLERS)
    return service


def create_app(settings: AnalyticsSettings | None = None) -> Starlette:
    return build(settings or AnalyticsSettings()).asgi(schema)


ENTRY = ServiceEntry(
    name="analytics",
    settings=AnalyticsSettings,
    migrations=Path(__file__).parent / "migrations",
    app=create_app,
)
