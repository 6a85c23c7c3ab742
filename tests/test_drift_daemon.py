"""Drift inside the daemon: plans, the slow gauges, and state that survives a restart."""

from __future__ import annotations

import asyncio

from monitor.daemon import Daemon
from monitor.drift import ANY_CHECK, PROBE_ERROR
from tests.conftest import WriteConfig

LABELS = {"platform": "vllm-prod", "pool": "long-context", "model": "sim", "suite": "core"}


async def test_plans_and_slow_gauges(write_config: WriteConfig) -> None:
    """Every configured series is planned with its share of the budget and starts warming up;
    the probe interval gauge shows the configured interval."""
    daemon = Daemon(write_config(interval_s=30))
    await daemon.start(serve=False)
    try:
        assert daemon.drift is not None
        series = set(daemon.drift.states)
        assert (*LABELS.values(), PROBE_ERROR) in series and (*LABELS.values(), ANY_CHECK) in series
        reg = daemon.registry
        labels = {**LABELS, "detector": "known_answer"}
        assert reg.get_sample_value("canary_drift_warmup", labels) == 1
        assert reg.get_sample_value("canary_drift_baseline_failure_rate", labels) == 0
        target = reg.get_sample_value("canary_drift_arl0_target_seconds", labels)
        assert target == len(series) * 7 * 86_400  # one false page a week, split evenly
        assert reg.get_sample_value("canary_probe_interval_seconds", LABELS) == 30
    finally:
        await daemon.stop()


async def test_baselines_survive_a_restart(write_config: WriteConfig) -> None:
    """A learned baseline is saved with the drift state and restored by the next daemon."""
    path = write_config(interval_s=30)
    first = Daemon(path)
    await first.start(serve=False)
    assert first.drift is not None
    key = next(iter(first.drift.baselines))
    first.drift.baselines[key].counts.add(50, 5000)
    await first.stop()
    second = Daemon(path)
    await second.start(serve=False)
    try:
        assert second.drift is not None
        assert second.drift.baselines[key].counts.trials >= 5000
    finally:
        await second.stop()
    await asyncio.sleep(0)
