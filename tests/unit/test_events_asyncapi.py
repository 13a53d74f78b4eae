"""The published AsyncAPI document: every type documented, every example valid against its model."""

from __future__ import annotations

import pytest
from setka_contracts import EVENT_TYPES, topics
from setka_contracts.asyncapi import document

pytestmark = pytest.mark.unit


def test_every_catalog_type_is_a_message_with_a_resolvable_schema_and_a_valid_example() -> None:
    doc = document()
    assert doc["asyncapi"] == "3.0.0"
    messages = doc["components"]["messages"]
    assert sorted(m["name"] for m in messages.values()) == sorted(EVENT_TYPES)
    schemas = doc["components"]["schemas"]
    for message in messages.values():
        assert message["payload"]["$ref"].removeprefix("#/components/schemas/") in schemas
        (example,) = message["examples"]
        assert example["headers"]["ce_type"] == message["name"]
        EVENT_TYPES[message["name"]].model_validate(example["payload"])


def test_setka_receives_on_inbound_topics_and_sends_on_outbound_ones() -> None:
    doc = document()
    actions = {
        doc["channels"][op["channel"]["$ref"].rsplit("/", 1)[-1]]["address"]: op["action"]
        for op in doc["operations"].values()
    }
    assert {topic: actions[topic] for topic in topics.INBOUND} == dict.fromkeys(topics.INBOUND, "receive")
    assert actions[topics.EVENTS] == "send"
    for operation in doc["operations"].values():
        channel = operation["channel"]["$ref"].rsplit("/", 1)[-1]
        for ref in operation["messages"]:
            assert ref["$ref"].rsplit("/", 1)[-1] in doc["channels"][channel]["messages"]


def test_the_committed_document_matches_the_contracts() -> None:
    """docs/asyncapi.json is what `make docs` writes from the code; a stale one misleads integrators."""
    import json
    from pathlib import Path

    committed = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"
    assert json.loads(committed.read_text(encoding="utf-8")) == document(), "run `make docs`"
