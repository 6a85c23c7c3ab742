"""`canary demo`: the scripted scenario is judged right, and the real demo passes end to end."""

from __future__ import annotations

import asyncio
import json
import sys

from monitor.commands.demo import SCENARIO, Alarm, Injection, verdict

INJ = Injection(0.2, "bedrock", "us-east-1", "http_error", 0.3)


def test_verdict_passes_when_each_fault_alarms_after_injection() -> None:
    """An alarm on the injected pool after injection counts as detection with its delay."""
    out = verdict([(INJ, 10.0)], [Alarm("bedrock", "us-east-1", "probe_error", 25.0)])
    assert out["passed"] and out["faults"][0]["delay_s"] == 15.0
    assert out["faults"][0]["detectors"] == ["probe_error"]


def test_verdict_fails_on_alarm_before_injection_or_elsewhere() -> None:
    """An alarm before the fault or on another pool is a false alarm, and fails the demo."""
    early = verdict([(INJ, 10.0)], [Alarm("bedrock", "us-east-1", "any", 5.0), Alarm("bedrock", "us-east-1", "any", 12.0)])
    assert not early["passed"] and early["false_alarms"][0]["at_s"] == 5.0
    elsewhere = verdict([(INJ, 10.0)], [Alarm("bedrock", "us-east-1", "any", 12.0), Alarm("vertex", "x", "any", 12.0)])
    assert not elsewhere["passed"] and elsewhere["false_alarms"][0]["platform"] == "vertex"


def test_verdict_fails_on_missed_fault() -> None:
    """A fault with no alarm on its pool fails the demo."""
    out = verdict([(INJ, 10.0)], [])
    assert not out["passed"] and out["faults"][0]["detected"] is False


async def test_demo_detects_every_fault_and_nothing_else() -> None:
    """The real demo (fleet + daemon + scenario) exits 0, naming each fault's platform and pool."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor.commands.cli", "demo", "--duration", "120", "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 300)
    summary = json.loads(out)
    assert proc.returncode == 0, json.dumps(summary, indent=1) + err.decode()
    assert summary["passed"] and not summary["false_alarms"]
    named = {(f["platform"], f["pool"]) for f in summary["faults"] if f["detected"]}
    assert named == {(i.platform, i.pool) for i in SCENARIO}
