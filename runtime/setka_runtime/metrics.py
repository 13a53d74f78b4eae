"""Prometheus metrics every service exposes at /metrics."""

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter(
    "setka_messages_total",
    "Kafka messages handled, by topic, event type and outcome",
    ["topic", "event_type", "outcome"],
)
HANDLING_SECONDS = Histogram("setka_message_handling_seconds", "Time to handle one Kafka message", ["topic"])
DEAD_LETTERS = Counter(
    "setka_dead_letters_total",
    "Messages sent to a dead-letter topic, by topic and kind of reason (deadletters.reason_kind)",
    ["topic", "reason"],
)
CONSUMER_LAG = Gauge(
    "setka_consumer_lag",
    "Messages of a partition the group has not committed yet: the partition's end offset as the"
    " consumer last fetched it minus the group's committed offset (its position before the first commit)",
    ["group", "topic", "partition"],
)
OUTBOX_PUBLISHED = Counter("setka_outbox_published_total", "Outbox events published", ["topic"])
OUTBOX_PENDING = Gauge("setka_outbox_pending", "Outbox events not yet published")
OUTBOX_OLDEST_SECONDS = Gauge(
    "setka_outbox_oldest_seconds",
    "Age of the oldest outbox event not yet published (0 when none waits), as the relay last saw it",
)
OUTBOX_LEASE = Gauge(
    "setka_outbox_lease_held",
    "1 while this replica's outbox relay holds the lease and publishes, 0 while it stands by",
    ["replica"],
)
OUTBOX_FAILURES = Counter("setka_outbox_failures_total", "Failed attempts to publish the outbox")
INFRASTRUCTURE_WAITS = Counter(
    "setka_infrastructure_waits_total",
    "Times a consumer waited for its database or the broker to come back, by topic",
    ["topic"],
)
LOG_RESETS = Counter(
    "setka_consumer_log_resets_total",
    "Partitions a consumer group read again from the start because the broker lost their log",
    ["group", "topic"],
)
ERASURE_PURGE_FAILURES = Counter(
    "setka_erasure_purge_failures_total",
    "Erasures of personal data whose dead letters could not be removed from Kafka (retry: erase-educator)",
)
