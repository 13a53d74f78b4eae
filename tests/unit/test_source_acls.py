"""The Kafka ACL templates of a registered source (``setka sources acl``): a Strimzi KafkaUser that
validates against the Strimzi CRD schemas, and lines for the compose broker's kafka-acls job that
give exactly the same ACLs — literal Write and Describe on the source's own inbound topics, never a
dead-letter topic, never a prefix, never a read."""

from __future__ import annotations

import uuid

import pytest
from setka_contracts import topics

from services.events.sources import GrantKind, Source, compose_acls, compose_password_variable, strimzi_user
from tests.unit.test_compose_kafka_security import compose_acls as parse_compose_acls
from tests.unit.test_compose_kafka_security import kafka_user_acls
from tests.unit.test_k8s import validate_strimzi

pytestmark = pytest.mark.unit


def source(*granted: str) -> Source:
    made = Source(id=uuid.uuid4(), ce_source="/regional/RCOI 39", region_code="39", title="РЦОИ")
    made.grants[GrantKind.topic].update(granted)
    return made


def test_a_source_may_write_its_own_topics_only_and_both_templates_say_the_same() -> None:
    # a dead-letter topic or an outbound one in the grants (the rules refuse them) is left out
    rcoi = source(
        topics.REGIONAL_ASSESSMENTS, topics.REGIONAL_TRAININGS, "regional.assessments.dlq", topics.EVENTS
    )
    user = strimzi_user(rcoi, namespace="setka")
    assert [r for r in validate_strimzi([user]) if r["errors"]] == []
    name = user["metadata"]["name"]
    assert name == "source-regional-rcoi-39"
    expected = {
        ("topic", "literal", topic, operation)
        for topic in (topics.REGIONAL_ASSESSMENTS, topics.REGIONAL_TRAININGS)
        for operation in ("Write", "Describe")
    }
    assert kafka_user_acls(user) == expected
    assert parse_compose_acls("\n".join(compose_acls(rcoi))) == {name: expected}
    # the job reads ${USER^^}_PASSWORD with '-' as '_'
    assert compose_password_variable(rcoi) == name.upper().replace("-", "_") + "_PASSWORD"


def test_a_source_without_topics_gets_no_acl() -> None:
    nothing = source()
    assert strimzi_user(nothing)["spec"]["authorization"]["acls"] == []
    assert compose_acls(nothing) == []
