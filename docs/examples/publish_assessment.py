"""Publish one assessment result to Setka the way a regional system does, with plain aiokafka.

    python docs/examples/publish_assessment.py 127.0.0.1:9092

Needs only ``aiokafka``. The message is a CloudEvent in Kafka binary mode: the attributes go in
``ce_*`` headers and the data is a JSON object in the value.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

TOPIC = "regional.assessments"


def assessment_result(inn: str) -> dict[str, object]:
    return {
        "source_system": "rcoi-08",
        "external_id": f"VPR-2026-MATH-5-{inn}",
        "organization": {"inn": inn},
        "procedure": "vpr",
        "subject": "математика",
        "grade": 5,
        "year": 2026,
        "participants": 48,
        "mean_score": 3.52,
        "mark_shares": {"2": 0.1, "3": 0.38, "4": 0.37, "5": 0.15},
        # the version of this fact in the sending system: a correction sends a later one
        "recorded_at": datetime.now(UTC).isoformat(),
    }


async def publish(bootstrap: str, inn: str = "0814000017") -> str:
    """Send one result and wait for the broker's acknowledgement; return the event's id."""
    data = assessment_result(inn)
    event_id = str(uuid.uuid4())  # keep it: sending the same event again must reuse its id
    headers = {
        "ce_specversion": "1.0",
        "ce_id": event_id,
        "ce_type": "setka.regional.assessment.published.v1",
        "ce_source": "/regional/rcoi-08",
        "ce_time": datetime.now(UTC).isoformat(),
        "content-type": "application/json",
    }
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            TOPIC,
            json.dumps(data, ensure_ascii=False).encode(),
            key=data["external_id"].encode(),  # type: ignore[union-attr]
            headers=[(name, value.encode()) for name, value in headers.items()],
        )
    finally:
        await producer.stop()
    return event_id


if __name__ == "__main__":
    print(asyncio.run(publish(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092")))
