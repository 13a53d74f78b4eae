"""The registry process: its subgraph, its outbox relay, health."""

from __future__ import annotations

from pathlib import Path

from setka_contracts import topics
from setka_runtime.cli import ServiceEntry
from setka_runtime.service import Service
from starlette.applications import Starlette

from . import demo, documents
from .importing import cli as importing
from .schema import schema
from .settings import RegistrySettings


def build(settings: RegistrySettings) -> Service:
    service = Service.create(settings, topics=[topics.REGISTRY, topics.AUDIT])
    service.context["import_max_bytes"] = settings.import_max_bytes
    key = settings.snils_hmac_key
    service.context["snils_key"] = key.get_secret_value() if key is not None else None
    service.context["documents"] = documents.attachments(settings)
    return service


def create_app(settings: RegistrySettings | None = None) -> Starlette:
    service = build(settings or RegistrySettings())
    return service.asgi(schema, extra_routes=[service.documents_route()])


ENTRY = ServiceEntry(
    name="registry",
    settings=RegistrySettings,
    migrations=Path(__file__).parent / "migrations",
    app=create_app,
    seed=demo.load,
    commands={"import": importing.COMMAND},
)
