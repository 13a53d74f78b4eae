"""Topic names. Outbound topics carry one service's domain events, keyed by aggregate id."""

REGISTRY = "setka.registry"
EVENTS = "setka.events"
ANALYTICS = "setka.analytics"

OUTBOUND = (REGISTRY, EVENTS, ANALYTICS)

DLQ_SUFFIX = ".dlq"


def dead_letter(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    return f"{topic}{DLQ_SUFFIX}"
