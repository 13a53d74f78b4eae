"""The events process: consumers of domain events, its subgraph, health."""

from __future__ import annotations

from pathlib import Path

from setka_contracts import topics
from setka_runtime.cli import ServiceEntry
from setka_runtime.service import Service
from starlette.applications import Starlette

from .registry_copy import HANDLERS
from .schema import schema
from .settings import EventsSettings


def build(settings: EventsSettings) -> Service:
    service = Service.create(settings, topics=[topics.EVENTS])
    service.consume(topics.REGISTRY, HANDLERS)
    return service


def create_app(settings: EventsSettings | None = None) -> Starlette:
    return build(settings or EventsSettings()).asgi(schema)


ENTRY = ServiceEntry(
    name="events",
    settings=EventsSettings,
    migrations=Path(__file__).parent / "migrations",
    app=create_app,
)
