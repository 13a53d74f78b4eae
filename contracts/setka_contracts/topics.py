"""Topic names. Outbound topics carry one service's domain events, keyed by aggregate id."""

REGISTRY = "setka.registry"
EVENTS = "setka.events"
ANALYTICS = "setka.analytics"
AUDIT = "setka.audit"
"""Who changed what: every service's writes (see :mod:`setka_contracts.audit`)."""

OUTBOUND = (REGISTRY, EVENTS, ANALYTICS, AUDIT)

# Inbound topics: regional systems publish here (see docs/integrators.md); the events service reads.
REGIONAL_ACTIVITIES = "regional.activities"
REGIONAL_ATTENDANCE = "regional.attendance"
REGIONAL_ASSESSMENTS = "regional.assessments"
REGIONAL_TRAININGS = "regional.trainings"
REGIONAL_DEFICITS = "regional.deficits"

INBOUND = (
    REGIONAL_ACTIVITIES,
    REGIONAL_ATTENDANCE,
    REGIONAL_ASSESSMENTS,
    REGIONAL_TRAININGS,
    REGIONAL_DEFICITS,
)

DLQ_SUFFIX = ".dlq"


def dead_letter(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    return f"{topic}{DLQ_SUFFIX}"
