"""Assembly of one service process: GraphQL subgraph, Kafka consumers, outbox relay, health."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.federation import Schema

from . import heap, tracing
from .access import ANONYMOUS, AccessDenied, identity_from_authorization
from .consumer import GuardedConsumer, Health, Subscription
from .db import Database
from .deferred import Deferrals
from .health import health_routes
from .kafka import client_options, ensure_topics, make_broker, publisher, sender
from .local_broker import broker_trouble, read_broker_state
from .outbox import OutboxRelay
from .settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass
class Service:
    """Everything one service process runs; tests build it the same way the process does."""

    settings: ServiceSettings
    db: Database
    broker: KafkaBroker
    relay: OutboxRelay
    topics: Sequence[str] = ()
    consumers: list[GuardedConsumer] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    health: Health = field(default_factory=Health)
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    """What the subgraph's resolvers find in their context besides the database."""
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def create(cls, settings: ServiceSettings, *, topics: Sequence[str] = ()) -> Service:
        tracing.setup(settings.service_name)  # only when the OTEL_* variables ask
        db = Database(settings.database_url)
        broker = make_broker(settings, client_id=f"setka-{settings.service_name}")
        relay = OutboxRelay(
            db,
            publisher(broker),
            send=sender(broker),
            poll_seconds=settings.outbox_poll_seconds,
            batch_size=settings.outbox_batch_size,
            lease_seconds=settings.outbox_lease_seconds,
        )
        return cls(settings=settings, db=db, broker=broker, relay=relay, topics=topics)

    def guarded(self, topic: str, handlers: dict[Any, Any], *, group: str | None = None) -> GuardedConsumer:
        """A guarded consumer of ``topic`` in this service's consumer group (not yet subscribed)."""
        return GuardedConsumer(
            topic=topic,
            group=group or f"setka.{self.settings.service_name}",
            db=self.db,
            broker=self.broker,
            handlers=handlers,
            max_attempts=self.settings.consumer_max_attempts,
            backoff_seconds=self.settings.consumer_backoff_seconds,
            health=self.health,
        )

    def subscribe(self, consumers: Sequence[GuardedConsumer]) -> Subscription:
        """Read the consumers' topics with one subscription of their group (one join at start)."""
        subscription = Subscription(
            bootstrap_servers=client_options(self.settings),
            group=consumers[0].group,
            consumers=consumers,
            client_id=f"setka-{self.settings.service_name}",
            max_records=self.settings.consumer_batch_size,
            graceful_seconds=self.settings.consumer_graceful_seconds,
            health=self.health,
        )
        self.consumers.extend(consumers)
        self.subscriptions.append(subscription)
        return subscription

    def waiting_room(self, consumers: Sequence[GuardedConsumer]) -> Deferrals:
        """Messages of these consumers that refer to something not known yet wait in the
        ``deferred`` table and are tried again in the background, then dead-lettered."""
        deferrals = Deferrals(
            self.db,
            max_wait_seconds=self.settings.unknown_wait_seconds,
            first_retry_seconds=self.settings.unknown_retry_seconds,
        )
        for consumer in consumers:
            deferrals.attach(consumer)

        async def retry_waiting() -> None:
            await self.connected.wait()  # dead-lettering needs the broker
            await deferrals.run()

        self.background.append(retry_waiting)
        return deferrals

    def consume(self, topic: str, handlers: dict[Any, Any], *, group: str | None = None) -> GuardedConsumer:
        """Add a guarded consumer of ``topic`` in this service's consumer group."""
        consumer = self.guarded(topic, handlers, group=group)
        self.subscribe([consumer])
        return consumer

    def documents_route(self) -> Route:
        """``GET /documents/<service>/{id}``: the files of ``context["documents"]``
        (:class:`~setka_runtime.documents.Attachments`), to callers who may see their owners."""
        secret = self.settings.internal_token_secret
        return self.context["documents"].route(
            lambda: self.db, secret.get_secret_value() if secret is not None else None
        )

    async def consumers_ping(self) -> None:
        """Readiness of the consumers: reading, and not waiting for the database or the broker."""
        for subscription in self.subscriptions:
            subscription.check()
        if self.health.waiting:
            raise ConnectionError("; ".join(f"{who}: {why}" for who, why in self.health.waiting.items()))

    async def local_broker_ping(self) -> None:
        """Under ``make run``: the supervisor says the local broker serves (not down, refilling)."""
        trouble = broker_trouble(read_broker_state(self.settings.local_broker_state_file))
        if trouble:
            raise ConnectionError(trouble)

    async def broker_ping(self) -> None:
        if not self.connected.is_set():
            raise ConnectionError("not connected to Kafka yet (consumers not started)")
        if not await self.broker.ping(timeout=2.0):
            raise ConnectionError("Kafka broker not reachable")

    async def _connect(self) -> None:
        """Create topics and start the broker, retrying while Kafka is down."""
        delay = 0.5
        while True:
            try:
                wanted = list(self.topics) + [c.topic for c in self.consumers]
                if wanted:
                    with contextlib.suppress(TopicAlreadyExistsError):
                        await ensure_topics(
                            client_options(self.settings),
                            wanted,
                            partitions=self.settings.kafka_topic_partitions,
                            replication_factor=self.settings.kafka_replication_factor,
                        )
                await self.broker.start()
                for subscription in self.subscriptions:
                    await subscription.start()
                self.connected.set()
                log.info("connected to Kafka at %s", self.settings.kafka_bootstrap_servers)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Kafka not available (%s); retrying in %.1fs", exc, delay)
                for subscription in self.subscriptions:
                    await subscription.stop()
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run consumers, relay and background loops until the block exits."""
        tasks: list[asyncio.Task[None]] = []

        async def relay_when_connected() -> None:
            await self._connect()
            await self.relay.run()

        tasks.append(asyncio.create_task(relay_when_connected(), name="relay"))
        tasks.extend(asyncio.create_task(job()) for job in self.background)
        heap.freeze_start_up()
        try:
            yield
        finally:
            for subscription in self.subscriptions:
                await subscription.stop()
            self.relay.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.broker.stop()
            await self.db.dispose()
            tracing.flush()

    def asgi(self, schema: Schema, *, extra_routes: Sequence[Route] = ()) -> Starlette:
        """The ASGI app: /graphql, /healthz, /readyz, /metrics, with the service in its lifespan."""
        service = self

        secret = self.settings.internal_token_secret
        secret_text = secret.get_secret_value() if secret is not None else None

        class SubgraphView(GraphQL):
            async def get_context(self, request: Request, response: Response | None = None) -> Any:
                context = {
                    "request": request,
                    "response": response,
                    "db": service.db,
                    "service_name": service.settings.service_name,
                    **service.context,
                }
                try:
                    context["identity"] = identity_from_authorization(
                        request.headers.get("authorization"), secret_text
                    )
                except AccessDenied as exc:
                    log.warning("refused a caller's identity: %s", exc)
                    context["identity"] = ANONYMOUS
                    context["identity_error"] = str(exc)
                return context

        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            async with self.running():
                yield

        graphql = SubgraphView(schema)
        routes = [
            Route(
                "/graphql",
                tracing.Traced(graphql, component=self.settings.service_name),
                methods=["GET", "POST"],
            ),
            WebSocketRoute("/graphql", graphql),  # subscriptions (graphql-transport-ws)
            *health_routes(
                {
                    "database": self.db.ping,
                    "kafka": self.broker_ping,
                    "consumers": self.consumers_ping,
                    "relay": self.relay.check,
                    **(
                        {"local_broker": self.local_broker_ping}
                        if self.settings.local_broker_state_file
                        else {}
                    ),
                },
                metrics_token=self.settings.metrics_token.get_secret_value()
                if self.settings.metrics_token
                else None,
            ),
            *extra_routes,
        ]
        return Starlette(routes=routes, lifespan=lifespan)
