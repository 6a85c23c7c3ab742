"""From an injected fault to an Alertmanager notification, with the real Prometheus and
Alertmanager (Debian's packages) on loopback.

The daemon probes the simulated fleet every second; Prometheus scrapes it and evaluates the
shipped rule file unchanged (helm/canary-monitor/files/prometheus_alerts.yaml) every second;
Alertmanager routes to a webhook receiver in this test. A dropped top token on one
(platform, pool) must produce a firing CanaryTopTokenIntegrity notification naming them, and
clearing the fault the resolved one. The paging alerts have `for: 0s` (the daemon's alarm is
already a calibrated, latched sequential test), so no test-only rule rewrite is needed: the
measured delay from the daemon's alarm to the notification must stay within two scrape and
evaluation intervals plus Alertmanager's group wait. The alert names no pod (`max without
(instance, pod)`) and resolves `keep_firing_for` (2m, the bridge over a handover between pods)
after the daemon's recovery, within the same bound. Set CANARY_E2E_REPORT=path to get the
measured delays as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiohttp import web

from canary_sim import Fault, SimFleet
from monitor.daemon import Daemon
from monitor.runner import DriftEvent
from tests.conftest import WriteConfig
from tests.ops.conftest import DASHBOARDS, RULES_FILE, alert_rules, tool

pytestmark = pytest.mark.slow

SCRAPE_S = 1.0
EVAL_S = 1.0
GROUP_WAIT_S = 1.0
GROUP_INTERVAL_S = 1.0
# Process scheduling on a loaded 2-core machine, on top of the intervals themselves.
SLACK_S = 2.0
BOUND_S = 2 * (SCRAPE_S + EVAL_S) + GROUP_WAIT_S + SLACK_S
ALERT = next(r for r in alert_rules() if r["alert"] == "CanaryTopTokenIntegrity")
# The shipped rule's bridge over a handover: a real recovery resolves this long after it.
KEEP_FIRING_S = sum(
    float(n) * {"s": 1, "m": 60, "h": 3600}[u]
    for n, u in re.findall(r"(\d+)([smh])", ALERT["keep_firing_for"])
)
FAULTY = ("vllm-prod", "long-context")
CLEAN = ("anthropic-api", "default")
# Panels that show nothing unless something besides the injected fault is wrong.
MAY_BE_EMPTY = {
    "canary-overview: Monitor errors",  # no scheduler, store or internal errors
    "canary-overview: Alarms raised",  # `> 0` over a 4 s window: only right at the alarm
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(what: str, timeout_s: float, probe: Callable[[], Any]) -> Any:
    """Poll `probe` (sync or async) until it returns something truthy; fail after timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f}s waiting for {what}")
        await asyncio.sleep(0.1)


@dataclass
class Webhook:
    """Alertmanager's webhook receiver: every notification with its arrival time."""

    port: int
    received: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def alerts(
        self, status: str, alertname: str, where: tuple[str, str]
    ) -> list[tuple[float, dict[str, Any]]]:
        return [
            (at, alert)
            for at, note in self.received
            for alert in note["alerts"]
            if alert["status"] == status
            and alert["labels"]["alertname"] == alertname
            and (alert["labels"].get("platform"), alert["labels"].get("pool")) == where
        ]


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    hook = Webhook(free_port())

    async def receive(request: web.Request) -> web.Response:
        hook.received.append((time.monotonic(), await request.json()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/alert", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", hook.port).start()
    yield hook
    await runner.cleanup()


def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@dataclass
class Stack:
    prometheus: str
    alertmanager: str


@pytest.fixture
async def stack(tmp_path: Path, webhook: Webhook, daemon: Daemon) -> AsyncIterator[Stack]:
    """Alertmanager and Prometheus as subprocesses, each with its own temp dir and port."""
    prometheus_bin = tool("prometheus")
    alertmanager_bin = tool("prometheus-alertmanager", "alertmanager")
    am_port, prom_port = free_port(), free_port()
    am_config = tmp_path / "alertmanager.yml"
    am_config.write_text(
        yaml.safe_dump(
            {
                "route": {
                    "receiver": "webhook",
                    "group_by": ["alertname", "platform", "pool"],
                    "group_wait": f"{GROUP_WAIT_S:g}s",
                    "group_interval": f"{GROUP_INTERVAL_S:g}s",
                    "repeat_interval": "1h",
                },
                "receivers": [
                    {
                        "name": "webhook",
                        "webhook_configs": [
                            {"url": f"http://127.0.0.1:{webhook.port}/alert", "send_resolved": True}
                        ],
                    }
                ],
            }
        )
    )
    prom_config = tmp_path / "prometheus.yml"
    prom_config.write_text(
        yaml.safe_dump(
            {
                "global": {
                    "scrape_interval": f"{SCRAPE_S:g}s",
                    "scrape_timeout": f"{SCRAPE_S:g}s",
                    "evaluation_interval": f"{EVAL_S:g}s",
                },
                "rule_files": [str(RULES_FILE)],  # the shipped file, unchanged
                "alerting": {
                    "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]
                },
                "scrape_configs": [
                    {
                        "job_name": "canary-monitor",
                        "static_configs": [{"targets": [f"127.0.0.1:{daemon.server_port}"]}],
                    }
                ],
            }
        )
    )
    alertmanager = start(
        [
            alertmanager_bin,
            f"--config.file={am_config}",
            f"--storage.path={tmp_path / 'am'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        tmp_path / "alertmanager.log",
    )
    prometheus = start(
        [
            prometheus_bin,
            f"--config.file={prom_config}",
            f"--storage.tsdb.path={tmp_path / 'prom'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            "--log.level=warn",
        ],
        tmp_path / "prometheus.log",
    )
    try:
        yield Stack(f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{am_port}")
    finally:
        stop(prometheus)
        stop(alertmanager)
        for log in ("prometheus.log", "alertmanager.log"):
            errors = [
                line
                for line in (tmp_path / log).read_text(errors="replace").splitlines()
                if "level=error" in line
            ]
            if errors:
                print(f"--- {log}", *errors[-20:], sep="\n")


@dataclass
class DriftLog:
    events: list[tuple[float, DriftEvent]] = field(default_factory=list)

    def first(
        self, event: str, where: tuple[str, str], detector: str, after: float
    ) -> float | None:
        return next(
            (
                at
                for at, e in self.events
                if e.event == event
                and e.series[:2] == where
                and e.series[4] == detector
                and at >= after
            ),
            None,
        )


@pytest.fixture
def drift_log() -> DriftLog:
    return DriftLog()


@pytest.fixture
async def daemon(write_config: WriteConfig, drift_log: DriftLog) -> AsyncIterator[Daemon]:
    # Streamed probes, so that the time-to-first-token panels have data too.
    running = Daemon(
        write_config(interval_s=1, stream=True),
        on_drift=lambda e: drift_log.events.append((time.monotonic(), e)),
    )
    await running.start()
    yield running
    await running.stop()


def dashboard_exprs() -> list[tuple[str, str]]:
    """(panel title, expr) of every dashboard query, with Grafana's variables filled in as
    Grafana would for "All" and a short range."""
    values = {
        "$__rate_interval": "4s",
        "$__range": "1m",
        "$platform": ".*",
        "$pool": ".*",
        "$model": ".*",
        "$suite": ".*",
        "$detector": ".*",
    }
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        stack = list(json.loads(path.read_text())["panels"])
        while stack:
            panel = stack.pop()
            stack.extend(panel.get("panels", []))
            for target in panel.get("targets", []):
                expr = target["expr"]
                for name, value in values.items():
                    expr = expr.replace(name, value)
                out.append((f"{path.stem}: {panel['title']}", expr))
    return out


async def query(client: httpx.AsyncClient, url: str, promql: str) -> list[dict[str, Any]]:
    response = await client.get(f"{url}/api/v1/query", params={"query": promql})
    response.raise_for_status()
    return list(response.json()["data"]["result"])


async def test_fault_to_notification_and_back(
    fleet: SimFleet, daemon: Daemon, stack: Stack, webhook: Webhook, drift_log: DriftLog
) -> None:
    """A dropped top token on one pool pages CanaryTopTokenIntegrity naming that platform and
    pool within two scrape+evaluation intervals of the daemon's alarm; clearing it resolves
    the alert once the daemon's reverse CUSUM recovers; the clean pool never alerts."""
    async with httpx.AsyncClient(timeout=5) as client:

        async def ready() -> bool:
            try:
                ok = all(
                    [
                        (await client.get(f"{stack.alertmanager}/-/ready")).status_code == 200,
                        (await client.get(f"{stack.prometheus}/-/ready")).status_code == 200,
                    ]
                )
            except httpx.TransportError:
                return False
            if not ok:
                return False
            up = await query(client, stack.prometheus, 'up{job="canary-monitor"} == 1')
            seen = await query(
                client, stack.prometheus, 'canary_drift_alarm{detector="known_answer"}'
            )
            rules = (await client.get(f"{stack.prometheus}/api/v1/rules")).json()["data"]["groups"]
            evaluated = rules and all(g["lastEvaluation"] > "2000" for g in rules)
            return bool(up and len(seen) == 2 and evaluated)

        await until("Prometheus scraping the daemon and evaluating the rules", 60, ready)
        ready_at = time.monotonic()
        await asyncio.sleep(3 * (SCRAPE_S + EVAL_S))  # a clean fleet fires nothing
        assert [n for _, n in webhook.received if n["status"] == "firing"] == []

        injected_at = time.monotonic()
        fleet.set_fault(*FAULTY, Fault("top_token_drop", rate=1.0))
        firing = await until(
            "the firing notification",
            60,
            lambda: webhook.alerts("firing", "CanaryTopTokenIntegrity", FAULTY),
        )
        fired_at, alert = firing[0]
        alarm_at = drift_log.first("alarm", FAULTY, "known_answer", injected_at)
        assert alarm_at is not None

        labels, annotations = alert["labels"], alert["annotations"]
        assert (
            labels | {"severity": "critical", "detector": "known_answer", "job": "canary-monitor"}
            == labels
        )
        assert "instance" not in labels  # the series' alert, whichever pod probes it
        assert annotations["description"].startswith(
            "vllm-prod/long-context/sim: the known_answer detector"
        )
        assert annotations["runbook_url"].endswith("#alert-name-canarytoptokenintegrity")
        assert "var-platform=vllm-prod&var-pool=long-context" in annotations["dashboard_url"]

        # While the alert fires, every dashboard query runs on the real Prometheus: it parses,
        # and all but the "only when something is wrong" ones return series.
        empty = []
        for title, expr in dashboard_exprs():
            if not await query(client, stack.prometheus, expr):
                empty.append(title)
        assert set(empty) <= MAY_BE_EMPTY, empty

        cleared_at = time.monotonic()
        fleet.clear_faults()
        resolved = await until(
            "the resolved notification (the daemon's reverse CUSUM needs ~80 clean runs, "
            "then keep_firing_for)",
            300 + KEEP_FIRING_S,
            lambda: webhook.alerts("resolved", "CanaryTopTokenIntegrity", FAULTY),
        )
        resolved_at = resolved[0][0]
        recovered_at = drift_log.first("recovered", FAULTY, "known_answer", cleared_at)
        assert recovered_at is not None

    named = {
        (a["labels"].get("platform"), a["labels"].get("pool"))
        for _, note in webhook.received
        for a in note["alerts"]
    }
    assert named == {FAULTY}, named
    report = {
        "scrape_interval_s": SCRAPE_S,
        "evaluation_interval_s": EVAL_S,
        "group_wait_s": GROUP_WAIT_S,
        "keep_firing_for_s": KEEP_FIRING_S,
        "probe_interval_s": 1.0,
        "stack_ready_s": round(ready_at, 2),
        "detection_delay_s": round(alarm_at - injected_at, 2),
        "alarm_to_firing_notification_s": round(fired_at - alarm_at, 2),
        "fault_to_firing_notification_s": round(fired_at - injected_at, 2),
        "recovery_delay_s": round(recovered_at - cleared_at, 2),
        "recovery_to_resolved_notification_s": round(resolved_at - recovered_at, 2),
        "clear_to_resolved_notification_s": round(resolved_at - cleared_at, 2),
        "alerts_notified": sorted(
            {
                f"{a['labels']['alertname']}{{detector={a['labels'].get('detector')}}} {a['status']}"
                for _, note in webhook.received
                for a in note["alerts"]
            }
        ),
    }
    report.pop("stack_ready_s")
    print(json.dumps(report, indent=2))
    if path := os.environ.get("CANARY_E2E_REPORT"):
        await asyncio.to_thread(Path(path).write_text, json.dumps(report, indent=2) + "\n")
    assert fired_at - alarm_at <= BOUND_S, report
    assert KEEP_FIRING_S <= resolved_at - recovered_at <= KEEP_FIRING_S + BOUND_S, report
