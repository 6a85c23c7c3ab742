"""What a restart on the same store shows at once, before any probe runs again."""

from __future__ import annotations

import asyncio

from canary_sim import Fault, SimFleet
from monitor.daemon import Daemon
from tests.conftest import WriteConfig


async def test_open_alarm_reads_1_right_after_restart(
    write_config: WriteConfig, fleet: SimFleet
) -> None:
    """A drift alarm open at shutdown is exported as 1 as soon as the next daemon has started,
    not 0 until the series' next probe (which would resolve the alert and page again)."""
    fleet.set_fault("vllm-prod", "long-context", Fault("top_token_drop", rate=1.0))
    path = write_config()
    labels = {
        "platform": "vllm-prod",
        "pool": "long-context",
        "model": "sim",
        "suite": "core",
        "detector": "known_answer",
    }
    first = Daemon(path)
    await first.start(serve=False)
    async with asyncio.timeout(60):
        while first.registry.get_sample_value("canary_drift_alarm", labels) != 1:
            await asyncio.sleep(0.05)
    await first.stop()
    second = Daemon(path)
    await second.start(serve=False)  # returns before any job of the new scheduler has run
    try:
        assert second.drift is not None
        series = ("vllm-prod", "long-context", "sim", "core", "known_answer")
        assert second.drift.alarmed(series)
        assert second.registry.get_sample_value("canary_drift_alarm", labels) == 1
        ratio = second.registry.get_sample_value("canary_drift_statistic_ratio", labels)
        assert ratio == min(second.drift.ratio(series), 2.0) and ratio > 0
    finally:
        await second.stop()
