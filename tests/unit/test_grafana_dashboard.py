"""The Grafana dashboard operators import (deploy/grafana/setka.json).

A panel whose query names a metric no process exports stays empty without a word; these tests
read every query the way the alert rules are read (tests/unit/test_prometheus_rules.py's PromQL
tokenizer), with Grafana's variables put in, and check each metric against what /metrics shows.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.unit.test_prometheus_rules import exposed_metrics, uses_of

pytestmark = pytest.mark.unit

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "setka.json"
VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target, rows' panels included, with variables filled in."""
    found: list[tuple[str, str]] = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            walk(panel.get("panels", []))
            for target in panel.get("targets", []):
                expr = target["expr"]
                for name, value in VARIABLES.items():
                    expr = expr.replace(name, value)
                found.append((panel["title"], expr))

    walk(dashboard["panels"])
    for variable in dashboard.get("templating", {}).get("list", []):
        definition = variable.get("definition")
        if definition:
            found.append((f"variable {variable['name']}", definition))
    return found


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def test_the_dashboard_is_grafana_json_with_unique_panels(dashboard: dict[str, Any]) -> None:
    assert dashboard["title"] and dashboard["uid"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]


def test_every_query_reads_only_metrics_setka_exports(dashboard: dict[str, Any]) -> None:
    exposed = exposed_metrics()
    read: set[str] = set()
    for title, expr in queries(dashboard):
        label_values = re.fullmatch(r"label_values\((\w+), *\w+\)", expr)
        metrics = {label_values.group(1)} if label_values else {use.metric for use in uses_of(expr)}
        assert metrics, title
        for metric in metrics:
            assert metric in exposed and metric.startswith("setka_"), f"{title}: {metric} is not Setka's"
        read |= metrics
    for metric in (
        "setka_consumer_lag",
        "setka_dead_letters_total",
        "setka_outbox_pending",
        "setka_outbox_oldest_seconds",
        "setka_outbox_lease_held",
        "setka_gateway_requests_total",
        "setka_gateway_request_seconds_bucket",
    ):
        assert metric in read, f"no panel shows {metric}"


def test_the_dashboard_groups_by_labels_the_metrics_have(dashboard: dict[str, Any]) -> None:
    """A `by (reason)` of a metric without a `reason` label makes one empty-labelled series."""
    exposed_metrics()
    labels: dict[str, set[str]] = {}
    for collector, names in REGISTRY._collector_to_names.items():  # the metrics' declared labels
        for name in names:
            labels[name] = set(getattr(collector, "_labelnames", ()))
    for title, expr in queries(dashboard):
        if not expr.startswith(("sum by", "max by", "histogram_quantile")):
            continue
        metrics = {use.metric for use in uses_of(expr)}
        if len(metrics) != 1:
            continue
        (metric,) = metrics
        for grouped in re.findall(r"by \(([^)]*)\)", expr):
            wanted = {name.strip() for name in grouped.split(",")} - {"le", "job", "instance"}
            assert wanted <= labels[metric], (title, wanted - labels[metric])
