"""The events process: consumers of registry events and of regional systems, its subgraph, health."""

from __future__ import annotations

from pathlib import Path

from setka_contracts import topics
from setka_runtime.cli import ServiceEntry
from setka_runtime.kafka import client_options
from setka_runtime.service import Service
from starlette.applications import Starlette
from starlette.routing import Route

from . import dead_letters, demo, documents, notifications
from .admission import Admission
from .intake import Intake
from .live import LiveActivities
from .regional import INBOUND
from .registry_copy import HANDLERS
from .schema import schema
from .settings import EventsSettings


def build(settings: EventsSettings) -> Service:
    """The registry copy and the inbound topics share one subscription of the group ``setka.events``."""
    service = Service.create(settings, topics=[topics.EVENTS, topics.AUDIT])
    service.context["documents"] = documents.attachments(settings)
    group = f"setka.{settings.service_name}"
    consumers = []
    noted = dead_letters.noter(service.db)
    snils_key = settings.snils_hmac_key
    admission = Admission(
        unregistered=settings.unregistered_sources,
        snils_key=snils_key.get_secret_value() if snils_key is not None else None,
    )
    for topic, handlers in {topics.REGISTRY: HANDLERS, **INBOUND}.items():
        consumer = service.guarded(topic, handlers, group=group)
        consumer.on_dead_letter = noted  # counted for the regional admins (deadLetterSummary)
        if topic in INBOUND:
            consumer.reject_unknown_types = True  # an integrator's typo must not vanish silently
            consumer.gate = admission.check  # sources, grants, identities: every way in
        consumers.append(consumer)
    service.subscribe(consumers)
    service.waiting_room([c for c in consumers if c.topic in INBOUND])
    notifications.attach(service, settings.notifications)
    secret = settings.internal_token_secret
    intake = Intake(
        service.db,
        consumers,
        INBOUND,
        internal_secret=secret.get_secret_value() if secret is not None else None,
        snils_key=admission.snils_key,
    )
    service.context["intake"] = intake
    service.background.append(intake.run)
    live = LiveActivities(
        client_options(settings),
        topics.EVENTS,
        service.db,
        client_id=f"setka-{settings.service_name}-live",
    )
    service.context["live"] = live
    service.background.append(live.run)
    if settings.seed_demo:
        service.background.append(lambda: demo.load_when_ready(service.db))
    return service


def create_app(settings: EventsSettings | None = None) -> Starlette:
    service = build(settings or EventsSettings())
    intake = service.context["intake"]
    return service.asgi(
        schema,
        extra_routes=[Route("/facts", intake.receive, methods=["POST"]), service.documents_route()],
    )


ENTRY = ServiceEntry(
    name="events",
    settings=EventsSettings,
    migrations=Path(__file__).parent / "migrations",
    app=create_app,
    seed=demo.load,
)
