"""The alerting rules operators load into Prometheus (deploy/prometheus/rules.yml).

An alert that names a metric no process exports, or that points at a runbook section that is not
there, fails silently in production: it never fires, or it fires and leads nowhere. These tests
read the file as Prometheus would, take every metric name out of each expression with a small
PromQL tokenizer, and check it against what the processes' /metrics really expose (the
prometheus_client registry, after importing every module of ours that defines a metric). Where
``promtool`` is installed they also let Prometheus's own tool check the file and evaluate the
alerts on made-up series; where the ``promql_parser`` package is installed, every expression is
parsed by it as well.
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
RUNBOOK = ROOT / "deploy" / "OPERATIONS.md"
CODE_ROOTS = {"runtime": "", "services": "services.", "gateway": "gateway."}

EXTERNAL = {
    "up": "prometheus",
    "probe_success": "blackbox-exporter",
}
"""Metrics the rules may read that no Setka process exports, and who does."""

SEVERITIES = {"critical", "warning", "info"}

AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}  # fmt: skip
FUNCTIONS = {
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
    "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
    "count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg",
    "delta", "deriv", "exp", "floor", "histogram_quantile", "holt_winters", "hour", "idelta",
    "increase", "irate", "label_join", "label_replace", "last_over_time", "ln", "log10", "log2",
    "mad_over_time", "max_over_time", "min_over_time", "minute", "month", "pi",
    "predict_linear", "present_over_time", "quantile_over_time", "rad", "rate", "resets",
    "round", "scalar", "sgn", "sin", "sinh", "sort", "sort_desc", "sqrt",
    "stddev_over_time", "stdvar_over_time", "sum_over_time", "tan", "tanh", "time",
    "timestamp", "vector", "year",
}  # fmt: skip
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = GROUPING | {"and", "or", "unless", "offset", "bool", "inf", "nan", "atan2"}
COUNTER_FUNCTIONS = {"rate", "irate", "increase", "resets"}
GAUGE_FUNCTIONS = {"delta", "deriv", "idelta", "predict_linear"}

TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<range>\[\s*\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*\s*(?::\s*(?:\d+(?:ms|[smhdwy]))*\s*)?\])
  | (?P<duration>\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*(?![\w.]))
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>==|!=|>=|<=|=~|!~|[-+*/%^<>=,(){}@])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Use:
    """One metric selector of an expression and the functions it sits in, innermost last."""

    metric: str
    within: tuple[str, ...]


def uses_of(expr: str) -> list[Use]:
    """The metric selectors of a PromQL expression; raises ValueError on what PromQL cannot be:
    unbalanced brackets, an unknown function, a character outside the language."""
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(expr):
        match = TOKEN.match(expr, position)
        if match is None:
            raise ValueError(f"unexpected {expr[position : position + 10]!r} at {position}")
        position = match.end()
        if match.lastgroup != "space":
            tokens.append((match.lastgroup or "", match.group()))
    uses: list[Use] = []
    frames: list[str] = []  # per open "(": "call:<function>", "labels" or "group"
    in_braces = False
    aggregation = ""  # "sum" of "sum by (job) (...)" while its label list is read
    for index, (kind, text) in enumerate(tokens):
        following = tokens[index + 1][1] if index + 1 < len(tokens) else ""
        if in_braces:
            if text == "}":
                in_braces = False
            elif text in "{()":
                raise ValueError(f"{text!r} inside a label matcher")
            continue
        if text == "{":
            in_braces = True
        elif text == "}":
            raise ValueError("'}' without '{'")
        elif text == "(":
            previous_kind, previous = tokens[index - 1] if index else ("", "")
            if previous_kind == "name" and previous in GROUPING:
                frames.append("labels")
            elif previous == ")" and aggregation:
                frames.append(f"call:{aggregation}")
                aggregation = ""
            elif previous_kind == "name" and previous not in KEYWORDS:
                frames.append(f"call:{previous}")
            else:
                frames.append("group")
        elif text == ")":
            if not frames:
                raise ValueError("')' without '('")
            frames.pop()
        elif kind == "name" and (not frames or frames[-1] != "labels"):
            if text in AGGREGATIONS and following in ("by", "without"):
                aggregation = text
            elif following == "(" and text not in KEYWORDS:
                if text not in FUNCTIONS | AGGREGATIONS:
                    raise ValueError(f"unknown function {text}()")
            elif text not in KEYWORDS:
                calls = tuple(frame[5:] for frame in frames if frame.startswith("call:"))
                uses.append(Use(text, calls))
    if frames or in_braces:
        raise ValueError("unclosed bracket")
    return uses


def exposed_metrics() -> dict[str, str]:
    """Every sample name the processes' /metrics can show, with its metric's type."""
    for top, package in CODE_ROOTS.items():
        for path in (ROOT / top).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            if "prometheus_client" in source and '"setka_' in source:
                parts = path.relative_to(ROOT / top).with_suffix("").parts
                importlib.import_module(package + ".".join(parts))
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("", "_count", "_sum", "_created"),
        "info": ("_info",),
    }
    exposed: dict[str, str] = {}
    for family in REGISTRY.collect():
        for suffix in suffixes.get(family.type, ("",)):
            exposed[family.name + suffix] = family.type
    return exposed


def github_anchors(markdown: str) -> set[str]:
    """The anchors a Markdown renderer gives the headings (code blocks skipped)."""
    anchors: set[str] = set()
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"#{1,6}\s+(.+?)\s*#*\s*$", line)):
            text = re.sub(r"[`*_\[\]]|\]\([^)]*\)", "", heading.group(1)).strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return anchors


@pytest.fixture(scope="module")
def alerts() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    assert set(document) == {"groups"}
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert rules and all("alert" in rule for rule in rules), "the file holds alerting rules only"
    return rules


def test_every_alert_is_complete_and_named_once(alerts: list[dict[str, Any]]) -> None:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    assert len({group["name"] for group in groups}) == len(groups)
    names = [rule["alert"] for rule in alerts]
    assert len(set(names)) == len(names), "two alerts of one name"
    for rule in alerts:
        assert re.fullmatch(r"Setka[A-Z][A-Za-z]+", rule["alert"])
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        for annotation in ("summary", "description", "runbook_url"):
            assert str(rule["annotations"].get(annotation, "")).strip(), (rule["alert"], annotation)


def test_the_alerts_cover_what_operators_watch(alerts: list[dict[str, Any]]) -> None:
    read = {use.metric for rule in alerts for use in uses_of(rule["expr"])}
    for metric in (
        "up",
        "probe_success",
        "setka_dead_letters_total",
        "setka_outbox_pending",
        "setka_outbox_failures_total",
        "setka_outbox_published_total",
        "setka_infrastructure_waits_total",
        "setka_consumer_lag",
        "setka_outbox_oldest_seconds",
        "setka_outbox_lease_held",
        "setka_gateway_requests_total",
        "setka_gateway_subgraph_seconds_bucket",
    ):
        assert metric in read, f"no alert reads {metric}"


def test_every_metric_an_alert_reads_is_exported(alerts: list[dict[str, Any]]) -> None:
    exposed = exposed_metrics()
    assert "setka_dead_letters_total" in exposed and "setka_outbox_pending" in exposed
    for rule in alerts:
        metrics = {use.metric for use in uses_of(rule["expr"])}
        assert metrics, rule["alert"]
        for metric in metrics:
            assert metric in exposed or metric in EXTERNAL, (
                f"{rule['alert']} reads {metric}, which no process exports and no exporter is declared for"
            )
        sources = {EXTERNAL[metric] for metric in metrics if metric not in exposed} or {"setka"}
        assert rule["labels"].get("source") in sources, (rule["alert"], sources)


def test_functions_fit_the_type_of_what_they_read(alerts: list[dict[str, Any]]) -> None:
    """rate() of a gauge or deriv() of a counter gives numbers, just wrong ones."""
    exposed = exposed_metrics()
    for rule in alerts:
        for use in uses_of(rule["expr"]):
            kind = exposed.get(use.metric, "gauge")
            innermost = use.within[-1] if use.within else ""
            if innermost in COUNTER_FUNCTIONS:
                assert kind in {"counter", "histogram", "summary"}, (rule["alert"], use)
            if innermost in GAUGE_FUNCTIONS:
                assert kind == "gauge", (rule["alert"], use)
            if use.metric.endswith("_bucket") and kind == "histogram":
                assert use.within[0] == "histogram_quantile" and innermost == "rate", (rule["alert"], use)


def test_every_runbook_link_leads_to_a_section_of_the_runbook(alerts: list[dict[str, Any]]) -> None:
    anchors = github_anchors(RUNBOOK.read_text(encoding="utf-8"))
    for rule in alerts:
        link = re.fullmatch(r"deploy/OPERATIONS\.md#([a-z0-9-]+)", rule["annotations"]["runbook_url"])
        assert link, rule["annotations"]["runbook_url"]
        assert link.group(1) in anchors, f"{rule['alert']}: no heading for #{link.group(1)}"


def test_the_runbook_explains_every_metric_of_ours() -> None:
    runbook = RUNBOOK.read_text(encoding="utf-8")
    ours = {name.removesuffix("_total") for name, _ in exposed_metrics().items() if name.startswith("setka_")}
    families = {re.sub(r"_(bucket|count|sum|created)$", "", name) for name in ours}
    missing = sorted(name for name in families if name not in runbook)
    assert not missing, f"deploy/OPERATIONS.md does not explain {missing}"


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("rate(setka_dead_letters_total[5m]", "unclosed"),
        ("sum by (job) (rate(setka_dead_letters_total[5m])))", "without"),
        ("ratte(setka_dead_letters_total[5m])", "unknown function"),
        ('up{job="setka-registry" == 0', "unclosed"),
        ("up == 0 ; drop", "unexpected"),
    ],
)
def test_the_tokenizer_refuses_what_prometheus_would(expr: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        uses_of(expr)


def test_the_tokenizer_tells_metrics_from_labels_and_keywords() -> None:
    uses = uses_of(
        'histogram_quantile(0.9, sum by (le, job) (rate(a_bucket{job=~"x.*", le!="1"}[5m:1m])))'
        " > 1 and on (job) max(b offset 10m) unless c == bool inf"
    )
    assert uses == [
        Use("a_bucket", ("histogram_quantile", "sum", "rate")),
        Use("b", ("max",)),
        Use("c", ()),
    ]


def test_a_promql_parser_accepts_every_expression(alerts: list[dict[str, Any]]) -> None:
    promql_parser = pytest.importorskip("promql_parser")
    for rule in alerts:
        promql_parser.parse(rule["expr"])


PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")


@needs_promtool
def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run([str(PROMTOOL), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_the_alerts_fire_on_the_situations_they_describe(tmp_path: Path) -> None:
    """Prometheus evaluates the rules over made-up series, minute by minute (on a copy without the
    annotations, which promtool would otherwise want spelled out in full)."""
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    for group in document["groups"]:
        for rule in group["rules"]:
            del rule["annotations"]
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(document), encoding="utf-8")

    def series(name: str, values: str, **labels: str) -> dict[str, str]:
        selector = ",".join(f'{key}="{value}"' for key, value in labels.items())
        return {"series": f"{name}{{{selector}}}", "values": values}

    def expect(alert: str, minute: int, *fired: dict[str, str]) -> dict[str, Any]:
        return {
            "eval_time": f"{minute}m",
            "alertname": alert,
            "exp_alerts": [{"exp_labels": f} for f in fired],
        }

    registry = {"job": "setka-registry", "instance": "r:8001"}
    analytics = {"job": "setka-analytics", "instance": "a:8003"}
    lag = {"group": "setka.analytics", "topic": "setka.events"}
    cases = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    # the first dead letter since the process started: a new series, not an increase
                    series(
                        "setka_dead_letters_total",
                        "_x5 1x20",
                        job="setka-events",
                        instance="e:8002",
                        topic="regional.assessments",
                        reason="does not match its contract",
                    ),
                    # a registry that stops answering
                    series("up", "1x5 0x10", **registry),
                    # an analytics outbox that stops publishing with 40 events waiting
                    series("setka_outbox_pending", "0x5 40x30", **analytics),
                    series(
                        "setka_outbox_published_total", "0+10x5 50x30", **analytics, topic="setka.analytics"
                    ),
                    # a healthy registry outbox: events wait a moment and are published
                    series("setka_outbox_pending", " ".join(["0", "3"] * 18), **registry),
                    series("setka_outbox_published_total", "0+3x35", **registry, topic="setka.registry"),
                    # a consumer group that stopped reading while its topic fills
                    series("setka_consumer_lag", "0+500x60", **analytics, **lag, partition="0"),
                    # a registry whose only relay lost its lease and stands by
                    series("setka_outbox_lease_held", "1x5 0x20", **registry, replica="r:1"),
                ],
                "alert_rule_test": [
                    expect("SetkaDeadLetters", 4),
                    expect(
                        "SetkaDeadLetters",
                        7,
                        {
                            "severity": "warning",
                            "source": "setka",
                            "job": "setka-events",
                            "topic": "regional.assessments",
                            "reason": "does not match its contract",
                        },
                    ),
                    expect("SetkaDeadLetters", 22),
                    expect("SetkaTargetDown", 6),
                    expect(
                        "SetkaTargetDown", 9, {"severity": "critical", "source": "prometheus", **registry}
                    ),
                    expect(
                        "SetkaOutboxNotPublishing",
                        30,
                        {"severity": "critical", "source": "setka", "job": "setka-analytics"},
                    ),
                    expect("SetkaConsumerLagHigh", 25),
                    expect("SetkaConsumerLagHigh", 40, {"severity": "warning", "source": "setka", **lag}),
                    expect("SetkaConsumerLagGrowing", 10),
                    expect(
                        "SetkaConsumerLagGrowing",
                        50,
                        {"severity": "critical", "source": "setka", **lag},
                    ),
                    expect("SetkaNoRelayLeaseHolder", 8),
                    expect(
                        "SetkaNoRelayLeaseHolder",
                        12,
                        {"severity": "critical", "source": "setka", "job": "setka-registry"},
                    ),
                ],
            }
        ],
    }
    tests = tmp_path / "rules_test.yml"
    tests.write_text(yaml.safe_dump(cases), encoding="utf-8")
    result = subprocess.run([str(PROMTOOL), "test", "rules", str(tests)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_runbook_links_within_itself_lead_somewhere() -> None:
    runbook = RUNBOOK.read_text(encoding="utf-8")
    anchors = github_anchors(runbook)
    links = re.findall(r"\]\(#([^)]+)\)", runbook)
    assert links
    assert not [link for link in links if link not in anchors]
