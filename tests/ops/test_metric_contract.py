"""Every metric and label a dashboard or alert rule queries exists in the daemon's /metrics.

A small PromQL tokenizer pulls out metric names (with their label matchers), grouping labels
(`by`, `on`, `ignoring`, `group_left`...), `label_values()` labels, legend and annotation
templates; they are checked against the golden catalogue and a live scrape of the daemon
probing the simulated fleet. A renamed metric or label fails here before it blanks a panel
or silences an alert.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.daemon import Daemon
from tests.conftest import WriteConfig
from tests.ops.conftest import CATALOGUE, DASHBOARDS, load_rules

# Added by Prometheus at scrape time (`pod` by a prometheus-operator ServiceMonitor; the rules
# aggregate it away with `instance` so an alert survives a handover between pods).
TARGET_LABELS = {"job", "instance", "pod"}
SYNTHETIC = {"up": {"job", "instance"}}
METRIC = re.compile(
    r"\b((?:canary_|up\b)[A-Za-z0-9_]*|[a-z_]+:canary_[a-z0-9_]+:[a-z0-9_]+)\s*(\{[^}]*\})?"
)
MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
LABEL_VALUES = re.compile(r"label_values\(\s*([^,]+?)\s*,\s*(\w+)\s*\)")
LEGEND = re.compile(r"\{\{\s*(\w+)\s*\}\}")
ANNOTATION = re.compile(r"\$labels\.(\w+)")


@dataclass
class Query:
    """One PromQL expression and where it came from."""

    where: str
    expr: str
    templates: set[str] = field(default_factory=set)  # labels a legend/annotation expects


def sample_names(catalogue: dict[str, Any]) -> dict[str, set[str]]:
    """Sample name -> label names, as the catalogue's families expose them."""
    out: dict[str, set[str]] = {}
    for name, spec in catalogue.items():
        labels = set(spec["labels"])
        kind = spec["type"]
        if kind == "counter":
            out[f"{name}_total"] = labels
        elif kind == "gauge":
            out[name] = labels
        elif kind == "histogram":
            out |= {
                f"{name}_bucket": labels | {"le"},
                f"{name}_sum": labels,
                f"{name}_count": labels,
            }
        elif kind == "summary":
            out |= {f"{name}_sum": labels, f"{name}_count": labels}
    return out


def rule_queries() -> Iterator[Query]:
    for group in load_rules()["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert") or rule["record"]
            templates = set()
            for text in rule.get("annotations", {}).values():
                templates |= set(ANNOTATION.findall(text))
            yield Query(f"rule {name}", rule["expr"], templates)


def dashboard_queries() -> Iterator[Query]:
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                yield Query(f"{path.name} variable {variable['name']}", variable["query"])
        stack = list(dashboard["panels"])
        while stack:
            panel = stack.pop()
            stack.extend(panel.get("panels", []))
            for target in panel.get("targets", []):
                legend = set(LEGEND.findall(target.get("legendFormat", "")))
                yield Query(f"{path.name} panel {panel['title']!r}", target["expr"], legend)


QUERIES = [*rule_queries(), *dashboard_queries()]


def recorded_labels() -> dict[str, set[str]]:
    """Recording rule name -> the labels its `sum by (...)` keeps."""
    out = {}
    for group in load_rules()["groups"]:
        for rule in group["rules"]:
            if "record" in rule:
                [by, *_] = GROUPING.findall(rule["expr"])
                out[rule["record"]] = {label.strip() for label in by.split(",")}
    return out


def check(query: Query, available: dict[str, set[str]]) -> list[str]:
    """Problems of one query against `available` (sample name -> label names)."""
    known = {**available, **SYNTHETIC, **recorded_labels()}
    problems = []
    labels_in_scope: set[str] = set(TARGET_LABELS)
    expr = query.expr
    for match in LABEL_VALUES.finditer(expr):
        inner = METRIC.match(match.group(1).strip())
        if inner and match.group(2) not in known.get(inner.group(1), set()) | TARGET_LABELS:
            problems.append(f"label_values label {match.group(2)!r} not on {inner.group(1)}")
    for match in METRIC.finditer(expr):
        name, matchers = match.group(1), match.group(2) or ""
        if name not in known:
            problems.append(f"metric {name} is not exported")
            continue
        labels = known[name] | (TARGET_LABELS if name not in SYNTHETIC else set())
        labels_in_scope |= labels
        for label in MATCHER.findall(matchers):
            if label not in labels:
                problems.append(f"{name} has no label {label!r}")
    for group in GROUPING.findall(expr):
        for label in filter(None, (g.strip() for g in group.split(","))):
            if label not in labels_in_scope:
                problems.append(f"grouping label {label!r} is on none of the metrics")
    for label in query.templates - {"__name__"}:
        if label not in labels_in_scope:
            problems.append(f"template label {label!r} is on none of the metrics")
    return [f"{query.where}: {p}" for p in problems]


def test_the_tokenizer_sees_what_it_should() -> None:
    """Control: the tokenizer finds names, matchers, groupings and templates, and flags a
    renamed metric, a renamed label and a stale legend."""
    available = {"canary_checks_total": {"platform", "pool", "detector"}}
    good = Query(
        "q", 'sum by (platform) (rate(canary_checks_total{pool=~"$pool"}[5m]))', {"platform"}
    )
    assert check(good, available) == []
    assert check(Query("q", "rate(canary_check_total[5m])"), available) == [
        "q: metric canary_check_total is not exported"
    ]
    assert check(Query("q", 'canary_checks_total{region="x"}'), available) == [
        "q: canary_checks_total has no label 'region'"
    ]
    assert check(Query("q", "sum by (model) (canary_checks_total)"), available) == [
        "q: grouping label 'model' is on none of the metrics"
    ]
    assert check(Query("q", "canary_checks_total", {"suite"}), available) == [
        "q: template label 'suite' is on none of the metrics"
    ]
    assert len(QUERIES) > 40 and all(METRIC.search(q.expr) for q in QUERIES)


def test_every_query_matches_the_golden_catalogue() -> None:
    """Against tests/golden/metrics_catalogue.json (the frozen contract)."""
    available = sample_names(json.loads(CATALOGUE.read_text()))
    problems = [p for q in QUERIES for p in check(q, available)]
    assert problems == []


async def scrape(write_config: WriteConfig) -> str:
    """A scrape of the daemon streaming its probes, so the streaming histograms exist too."""
    daemon = Daemon(write_config(stream=True))
    await daemon.start()
    try:
        assert daemon.store is not None
        async with asyncio.timeout(30):
            while await daemon.store.count() < 4:
                await asyncio.sleep(0.05)
        async with httpx.AsyncClient() as client:
            return (await client.get(f"http://127.0.0.1:{daemon.server_port}/metrics")).text
    finally:
        await daemon.stop()


@pytest.fixture
async def live_samples(write_config: WriteConfig) -> dict[str, set[str]]:
    """Sample name -> label names from a real scrape of the daemon probing the sim fleet."""
    text = await scrape(write_config)
    out: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, set()).update(sample.labels)
    return out


async def test_every_query_matches_a_live_scrape(live_samples: dict[str, set[str]]) -> None:
    """Against what the running daemon really exports (names and label names)."""
    problems = [p for q in QUERIES for p in check(q, live_samples)]
    assert problems == []
