"""The demo year is derived from the registry's own demo data, through the events' local copy."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from setka_contracts import EVENT_TYPES, CloudEvent
from setka_runtime.consumer import apply
from setka_runtime.db import Database
from setka_runtime.tables import outbox
from sqlalchemy import func, select

from services.events import demo
from services.events.models import Activity, AssessmentResult, Attendance, KnownNetwork, Plan, Training
from services.events.registry_copy import HANDLERS
from services.registry.demo import loading as registry_demo
from tests.conftest import DatabaseFactory

pytestmark = pytest.mark.integration


async def copy_registry(db: Database, rows: list[Any]) -> None:
    """Apply the registry's outbox rows the way the events service consumes them from setka.registry."""
    handlers = {model.event_type: (model, handler) for model, handler in HANDLERS.items()}
    async with db.session() as session, session.begin():
        for row in rows:
            if row.event_type in handlers:
                model, handler = handlers[row.event_type]
                data = model.model_validate(json.loads(row.payload))
                await apply(
                    handler, session, data, CloudEvent(type=row.event_type, source=row.source, data={})
                )


async def test_a_demo_year_is_built_on_the_registry_demo_and_loaded_once(databases: DatabaseFactory) -> None:
    registry = Database(databases.create("demo_registry", migrate="registry"))
    events = Database(databases.create("demo_events", migrate="events"))
    try:
        assert await registry_demo.load(registry) > 0
        async with registry.session() as session:
            rows = list((await session.execute(select(outbox).order_by(outbox.c.id))).all())
        await copy_registry(events, rows)

        loaded = await demo.load(events, today=date(2026, 11, 22))
        assert loaded > 100
        assert await demo.load(events, today=date(2026, 11, 22)) == 0

        async def count(model: Any, *where: Any) -> int:
            async with events.session() as session:
                return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

        networks = await count(KnownNetwork)
        assert networks >= 2
        assert await count(Plan, Plan.status == "in_progress") == networks
        assert await count(Activity, Activity.status == "reported") > 10
        assert await count(Activity, Activity.status == "announced") > 0
        assert await count(Activity, Activity.status == "cancelled") == networks
        assert await count(Attendance) > 50
        assert await count(AssessmentResult) > 20
        assert await count(Training) > 0

        spring = Database(databases.create("demo_events_spring", migrate="events"))
        try:  # early in a year the demo is last year's, closed
            await copy_registry(spring, rows)
            assert await demo.load(spring, today=date(2027, 2, 1)) > 100
            async with spring.session() as session:
                years = set((await session.execute(select(Plan.year, Plan.status))).all())
            assert years == {(2026, "closed")}
        finally:
            await spring.dispose()
        async with events.session() as session:
            types = set((await session.scalars(select(outbox.c.event_type))).all())
        assert {"setka.events.activity.reported.v1", "setka.events.assessment.recorded.v1"} <= types
        assert types <= set(EVENT_TYPES)
    finally:
        await registry.dispose()
        await events.dispose()
