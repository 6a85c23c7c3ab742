"""The Grafana dashboards as code: house rules, and a type check against @grafana/schema."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.ops.conftest import DASHBOARDS, NPM_DIR, missing

FILES = sorted(DASHBOARDS.glob("*.json"))
TITLES = {"canary-overview": "Canary / Overview", "canary-series": "Canary / Series"}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

# JSON carries a string enum's value, not the TypeScript enum: compare against the values.
TS_PRELUDE = """import type { Dashboard } from "@grafana/schema";
type Json<T> = T extends string ? (string extends T ? string : `${T}`)
  : T extends readonly (infer U)[] ? Json<U>[]
  : T extends object ? { [K in keyof T]: Json<T[K]> }
  : T;
"""


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in panels(dashboard) for t in p.get("targets", [])]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_dashboard_house_rules(path: Path) -> None:
    """Stable uid and title, read-only, UTC, tagged, and every panel on the datasource variable
    with a unit."""
    dashboard = load(path)
    assert dashboard["uid"] == path.stem
    assert dashboard["title"] == TITLES[path.stem]
    assert dashboard["editable"] is False
    assert dashboard["timezone"] == "utc"
    assert dashboard["tags"] == ["canary-monitor"]
    assert dashboard.get("id") is None
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{panel['title']}: no unit"
        assert panel.get("description"), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_variables_cascade_from_the_datasource(path: Path) -> None:
    """One datasource variable, then platform -> pool -> model from canary_probe_runs_total,
    each narrowed by the ones before."""
    variables = load(path)["templating"]["list"]
    names = [v["name"] for v in variables]
    assert names[:4] == ["datasource", "platform", "pool", "model"]
    assert variables[0] == variables[0] | {"type": "datasource", "query": "prometheus"}
    queries = {v["name"]: v.get("query") for v in variables}
    assert queries["platform"] == "label_values(canary_probe_runs_total, platform)"
    assert queries["pool"] == 'label_values(canary_probe_runs_total{platform=~"$platform"}, pool)'
    assert queries["model"] == (
        'label_values(canary_probe_runs_total{platform=~"$platform", pool=~"$pool"}, model)'
    )
    for variable in variables[1:]:
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_range_uses_the_rate_interval(path: Path) -> None:
    """No fixed windows: rate/increase use $__rate_interval (or $__range for whole-range
    tables), and every canary selector is narrowed by the dashboard's variables."""
    for expr in exprs(load(path)):
        for window in re.findall(r"\[([^\]]*)\]", expr):
            assert window in ("$__rate_interval", "$__range", "$__range:"), expr
        for selector in re.findall(
            r"canary_(?:drift|probe|check|last|suite|target)\w*\{([^}]*)\}", expr
        ):
            assert 'platform=~"$platform"' in selector, expr


def test_overview_and_series_cover_what_the_issue_asks() -> None:
    """Overview: every platform x pool, failures by detector, alarms, freshness. Series:
    statistic against threshold, scores, latency, backend identity, transcript links."""
    overview = " ".join(exprs(load(DASHBOARDS / "canary-overview.json")))
    for needle in (
        "by (platform, pool)",
        "by (detector)",
        "canary_drift_alarm",
        "canary_last_run_timestamp_seconds",
    ):
        assert needle in overview, needle
    series = load(DASHBOARDS / "canary-series.json")
    text = " ".join(exprs(series))
    for needle in (
        "canary_drift_statistic_ratio",
        "canary_check_score_sum",
        "canary_probe_duration_seconds_bucket",
        "canary_target_info",
    ):
        assert needle in text, needle
    statistic = next(
        p for p in panels(series) if "canary_drift_statistic_ratio" in json.dumps(p.get("targets"))
    )
    assert {"color": "red", "value": 1} in statistic["fieldConfig"]["defaults"]["thresholds"][
        "steps"
    ]
    links = json.dumps(
        [
            p["fieldConfig"]["defaults"].get("links", [])
            for p in panels(series)
            if "fieldConfig" in p
        ]
    )
    assert (
        "${canary_api}/api/v1/results?platform=${__data.fields.platform}&pool=${__data.fields.pool}"
        in links
    )


def tsc(files: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Type-check `name -> JSON text` dashboards with tsc against @grafana/schema."""
    binary = NPM_DIR / "node_modules" / ".bin" / "tsc"
    if not (binary.exists() and (NPM_DIR / "node_modules" / "@grafana" / "schema").is_dir()):
        missing(f"@grafana/schema and typescript in {NPM_DIR}")
    with tempfile.TemporaryDirectory(dir=NPM_DIR, prefix="dash-check-") as work:
        names = []
        for name, text in files.items():
            ts = Path(work) / f"{name}.ts"
            # Parenthesised: a `}` then `satisfies` on the next line would not parse (TS1434).
            ts.write_text(f"{TS_PRELUDE}export const d = ({text}) satisfies Json<Dashboard>;\n")
            names.append(ts.name)
        return subprocess.run(
            [
                str(binary),
                "--noEmit",
                "--strict",
                "--skipLibCheck",
                "--target",
                "es2022",
                "--module",
                "esnext",
                "--moduleResolution",
                "bundler",
                *names,
            ],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )


def test_dashboards_type_check_against_grafana_schema() -> None:
    """Both dashboards satisfy @grafana/schema's Dashboard type: known keys, right types."""
    run = tsc({p.stem.replace("-", "_"): p.read_text() for p in FILES})
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_schema_check_catches_mistakes() -> None:
    """Control: an unknown panel key, a string width and a bad colour mode each fail tsc."""
    dashboard = load(DASHBOARDS / "canary-overview.json")
    panel = dashboard["panels"][1]
    bad_key = json.loads(json.dumps(dashboard))
    bad_key["panels"][1]["colour"] = "red"
    bad_width = json.loads(json.dumps(dashboard))
    bad_width["panels"][1]["gridPos"]["w"] = "6"
    bad_mode = json.loads(json.dumps(dashboard))
    bad_mode["panels"][1]["fieldConfig"]["defaults"]["color"] = {"mode": "rainbow"}
    assert panel["type"] != "row"
    for broken in (bad_key, bad_width, bad_mode):
        run = tsc({"broken": json.dumps(broken)})
        assert run.returncode != 0 and "error TS" in run.stdout, run.stdout
