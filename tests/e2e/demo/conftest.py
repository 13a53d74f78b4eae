"""The stack the demo's tests share."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from setka_runtime.local_broker import free_port


@pytest.fixture(scope="package")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One stack with the demo data for the tests of this package, which only read it or add to it
    (the demo's own checks, the portal's pages): starting it and loading the demo takes the better
    part of a minute. It stops when the package's last test is done, so it does not idle through
    the rest of the suite. Its alert rules run every 5 s, so a demo alert is there soon."""
    from deploy.local_stack import Stack

    databases = ("REGISTRY_DATABASE_URL", "EVENTS_DATABASE_URL", "ANALYTICS_DATABASE_URL")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("KAFKA_BOOTSTRAP_SERVERS", *databases):
            patch.delenv(name, raising=False)
        ports = {name: free_port() for name in ("kafka", "registry", "events", "analytics", "gateway")}
        running = Stack(
            var_dir=tmp_path_factory.mktemp("demo") / "var",
            ports=ports,
            seed_demo=True,
            echo=False,
            env={"ANALYTICS_ALERT_INTERVAL_SECONDS": "5"},
        )
        try:
            running.start()
            yield running
        finally:
            running.stop()
