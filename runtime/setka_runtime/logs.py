"""Plain, greppable logs: time, level, logger, message. The launcher prefixes the process name."""

from __future__ import annotations

import logging


def configure(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        force=True,
    )
    # FastStream and aiokafka log every message and every rebalance at INFO.
    for noisy in ("faststream", "aiokafka", "aiokafka.consumer.group_coordinator"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
