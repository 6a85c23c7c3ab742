"""The alert rule file: promtool-clean, unit-tested at every `for` boundary, mixin-style metadata."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
import yaml

from monitor.config import ClusterConfig
from tests.ops.conftest import RULE_TESTS, RULES_FILE, RUNBOOK, alert_rules, tool

REQUIRED = {
    "CanaryOutputCorruption",
    "CanaryTopTokenIntegrity",
    "CanaryBehaviourDrift",
    "CanaryPlatformDivergence",
    "CanaryProbeErrors",
    "CanaryProbesStale",
    "CanaryMonitorDown",
    "CanaryConfigReloadFailed",
    "CanaryStoreWriteErrors",
    "CanaryShardLeaseErrors",
}
# Alerts about the monitor itself: their series carry no platform, pool or model.
MONITOR_ALERTS = {
    "CanaryMonitorDown",
    "CanaryConfigReloadFailed",
    "CanaryStoreWriteErrors",
    "CanaryShardLeaseErrors",
}
RUNBOOK_BASE = "https://github.com/canary-monitor/canary-monitor/blob/main/docs/runbook.md"
ANNOTATIONS = {"summary", "description", "runbook_url", "dashboard_url"}
ALERTS = {rule["alert"]: rule for rule in alert_rules()}
# The alarm as every drift alert selects it: per series, whichever pod exports it.
DRIFT_ALARM = re.compile(
    r'\s*max without \(instance, pod\) \(\s*canary_drift_alarm\{detector(=~?)"([^"]+)"\}\s*\)'
)


def duration_s(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d)", text))


def github_anchor(heading: str) -> str:
    """GitHub's heading slug: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_promtool_check_rules() -> None:
    """`promtool check rules` accepts the shipped rule file without warnings."""
    run = subprocess.run(
        [tool("promtool"), "check", "rules", str(RULES_FILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout and "WARNING" not in run.stdout + run.stderr


def test_promtool_unit_tests_pass() -> None:
    """Every `promtool test rules` file in helm/canary-monitor/tests/rules passes."""
    files = sorted(p.name for p in RULE_TESTS.glob("*.yaml"))
    assert files
    run = subprocess.run(
        [tool("promtool"), "test", "rules", *files],
        cwd=RULE_TESTS,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("SUCCESS") == len(files), run.stdout


def test_the_required_alerts_exist() -> None:
    """The alert names the conventions and the issue promise are all there."""
    assert set(ALERTS) >= REQUIRED
    assert all(name.startswith("Canary") for name in ALERTS)


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_alert_metadata(name: str) -> None:
    """Severity, a static summary, a description naming the series, runbook and dashboard URLs."""
    rule = ALERTS[name]
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    annotations = rule["annotations"]
    assert set(annotations) == ANNOTATIONS
    assert "{{" not in annotations["summary"]
    if name not in MONITOR_ALERTS:
        assert annotations["description"].startswith(
            "{{ $labels.platform }}/{{ $labels.pool }}/{{ $labels.model }}"
        )
    assert annotations["runbook_url"] == f"{RUNBOOK_BASE}#alert-name-{name.lower()}"
    assert annotations["dashboard_url"].startswith("https://grafana.example.com/d/canary-")
    assert "for" in rule


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_only_calibrated_detectors_page(name: str) -> None:
    """`critical` only from the daemon's calibrated drift alarm; ratios and meta-alerts warn."""
    rule = ALERTS[name]
    if rule["labels"]["severity"] == "critical":
        assert DRIFT_ALARM.match(rule["expr"]), rule["expr"]
        assert "rate(" not in rule["expr"] and ":ratio" not in rule["expr"]


# Every detector label value the daemon can report (DESIGN.md, plus the two pseudo-detectors).
DETECTORS = {
    "unexpected_script",
    "suspicious_format",
    "code_syntax",
    "known_answer",
    "json_schema",
    "length",
    "finish_reason",
    "top_token",
    "sycophancy",
    "any",
    "probe_error",
}


def test_every_detector_alarm_reaches_exactly_one_alert() -> None:
    """Each detector's drift alarm is the subject of one alert, so no alarm goes unrouted and
    none pages twice."""
    owners: dict[str, list[str]] = {}
    for name, rule in ALERTS.items():
        match = DRIFT_ALARM.match(rule["expr"])
        if match:
            for detector in match.group(2).split("|"):
                owners.setdefault(detector, []).append(name)
    assert owners.keys() == DETECTORS
    assert {d: names for d, names in owners.items() if len(names) != 1} == {}


def test_every_for_is_explained() -> None:
    """The comment block above each alert says why its `for:` is what it is."""
    lines = RULES_FILE.read_text().splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"\s*- alert: (\w+)", line)
        if not match:
            continue
        comment = []
        for above in reversed(lines[:index]):
            if not above.strip().startswith("#"):
                break
            comment.append(above)
        assert re.search(r"\bfor\b", " ".join(comment)), f"{match.group(1)}: no comment on `for`"


def test_every_alert_has_a_runbook_section() -> None:
    """docs/runbook.md has an `Alert Name: <name>` section for each alert, and no stale one."""
    headings = re.findall(r"^##+ (Alert Name: \w+)\s*$", RUNBOOK.read_text(), re.MULTILINE)
    anchors = {github_anchor(h) for h in headings}
    assert anchors == {f"alert-name-{name.lower()}" for name in ALERTS}


def rule_tests() -> list[dict[str, Any]]:
    cases = []
    for path in sorted(RULE_TESTS.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        assert doc["rule_files"] == ["../../files/prometheus_alerts.yaml"], path
        cases.extend(doc["tests"])
    return cases


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_unit_tests_check_both_sides_of_the_for_boundary(name: str) -> None:
    """Some test expects silence one interval before the alert fires and, at `for` after the
    condition starts, the alert with every label and annotation (kubernetes-mixin style)."""
    rule = ALERTS[name]
    boundary_checked = False
    for case in rule_tests():
        interval = duration_s(case.get("interval", "1m"))
        checks = [c for c in case.get("alert_rule_test", []) if c["alertname"] == name]
        silent = {duration_s(c["eval_time"]) for c in checks if not c.get("exp_alerts")}
        for check in checks:
            alerts = check.get("exp_alerts") or []
            if not alerts or duration_s(check["eval_time"]) - interval not in silent:
                continue
            for alert in alerts:
                labels, annotations = alert["exp_labels"], alert["exp_annotations"]
                assert labels["severity"] == rule["labels"]["severity"]
                assert set(annotations) == ANNOTATIONS
                assert annotations["runbook_url"].endswith(f"#alert-name-{name.lower()}")
                if name not in MONITOR_ALERTS:
                    assert {"platform", "pool", "model"} <= set(labels)
                    assert (
                        f"{labels['platform']}/{labels['pool']}/{labels['model']}"
                        in annotations["description"]
                    )
            boundary_checked = True
    assert boundary_checked, f"no promtool test checks both sides of {name}'s `for` boundary"


# Series the daemon exports per (platform, pool, model, suite[, detector]): they move between
# pods on a handover (cluster mode, a Recreate restart).
PER_SERIES = re.compile(r"\bcanary_(drift_alarm|last_run_timestamp_seconds)\b")
HANDOVER_ALERTS = sorted(name for name, rule in ALERTS.items() if PER_SERIES.search(rule["expr"]))
SCRAPE_INTERVAL_S = 60  # Prometheus' default (the chart's ServiceMonitor scrapes every 30 s)


@pytest.mark.parametrize("name", HANDOVER_ALERTS)
def test_per_series_alerts_survive_a_handover(name: str) -> None:
    """The alert's subject ignores which pod exports the series, and it keeps firing through
    the gap of a default takeover (lease_ttl_s + heartbeat_s) plus one scrape interval; a
    promtool case replays the handover (the alert's activeAt unchanged after it) and the
    recovery (silent after a firing check)."""
    rule = ALERTS[name]
    subject = PER_SERIES.search(rule["expr"])
    assert subject is not None
    assert re.search(r"max without \(instance, pod\) \(\s*$", rule["expr"][: subject.start()])
    cluster = ClusterConfig()
    gap_s = cluster.lease_ttl_s + cluster.heartbeat_s + SCRAPE_INTERVAL_S
    assert duration_s(rule.get("keep_firing_for", "0s")) >= gap_s
    replayed = False
    for case in rule_tests():
        state = f'ALERTS_FOR_STATE{{alertname="{name}"}}'
        checks = [c for c in case.get("alert_rule_test", []) if c["alertname"] == name]
        if checks and any(t["expr"] == state for t in case.get("promql_expr_test", [])):
            last = max(checks, key=lambda c: duration_s(c["eval_time"]))
            if len(checks) > 2 and not last.get("exp_alerts"):
                replayed = True
    assert replayed, f"no promtool case replays a handover and a recovery of {name}"


def test_handover_alerts_are_the_drift_and_stale_alerts() -> None:
    """Control: the selection above is not empty and misses none of the alerts it is for."""
    drift = {name for name, rule in ALERTS.items() if DRIFT_ALARM.match(rule["expr"])}
    assert set(HANDOVER_ALERTS) == drift | {"CanaryProbesStale"}
    assert len(drift) == 6
