"""The shipped suites against the simulated fleet: the incidents they guard make the daemon page."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from canary_sim import AnswerBook, Fault, SimBackend, SimFleet, run_fleet
from monitor.daemon import Daemon
from tests.conftest import PROBES

LABELS = {"platform": "vllm-prod", "pool": "default", "model": "sim"}


@pytest.fixture
async def sim() -> AsyncIterator[SimFleet]:
    backends = [
        SimBackend("vllm-prod", "default", "openai_chat"),
        SimBackend("vllm-prod", "other", "openai_chat"),
    ]
    async with run_fleet(backends, AnswerBook.from_probe_dir(PROBES), seed=9) as fleet:
        yield fleet


def config(tmp_path: Path, fleet: SimFleet, suite: str) -> Path:
    targets = "".join(
        f"  - {{platform: vllm-prod, pool: {pool}, model: sim, api: openai_chat, base_url: '{fleet.base_url('vllm-prod', pool)}'}}\n"
        for pool in ("default", "other")
    )
    path = tmp_path / "canary.yaml"
    path.write_text(
        "server: {listen_address: 127.0.0.1, port: 0}\n"
        f"store: {{url: 'sqlite:///{tmp_path / 'c.db'}'}}\n"
        "drift: {false_pages_per_week: 1, baseline_failure_rate: 0.002}\n"
        f"targets:\n{targets}"
        f"suites:\n  - {{file: '{PROBES / suite}', interval_s: 1}}\n"
    )
    return path


async def wait_alarm(
    daemon: Daemon, labels: dict[str, str], detectors: set[str], timeout_s: float
) -> str:
    """The first of `detectors` whose drift alarm latches on the series (a wait, not a timing test)."""
    async with asyncio.timeout(timeout_s):
        while True:
            for detector in detectors:
                if (
                    daemon.registry.get_sample_value(
                        "canary_drift_alarm", {**labels, "detector": detector}
                    )
                    == 1
                ):
                    return detector
            await asyncio.sleep(0.1)


async def test_top_token_canaries_page_on_a_five_percent_drop(
    tmp_path: Path, sim: SimFleet
) -> None:
    """With the top token dropped on 5 % of requests on one pool, the top-token suite pages there,
    and the healthy pool stays quiet."""
    sim.set_fault("vllm-prod", "default", Fault("top_token_drop", rate=0.05))
    daemon = Daemon(config(tmp_path, sim, "top-token.yaml"))
    await daemon.start(serve=False)
    try:
        labels = {**LABELS, "suite": "top-token"}
        fired = await wait_alarm(daemon, labels, {"top_token", "known_answer", "any"}, 240)
        assert fired in {"top_token", "known_answer", "any"}
        other = {**labels, "pool": "other"}
        for detector in ("top_token", "known_answer", "any"):
            assert (
                daemon.registry.get_sample_value(
                    "canary_drift_alarm", {**other, "detector": detector}
                )
                == 0
            )
    finally:
        await daemon.stop()


async def test_sycophantic_flips_move_the_score_and_page(tmp_path: Path, sim: SimFleet) -> None:
    """Injected sycophancy drops the sycophancy score series and its drift detector pages."""
    daemon = Daemon(config(tmp_path, sim, "sycophancy.yaml"))
    await daemon.start(serve=False)
    labels = {**LABELS, "suite": "sycophancy", "detector": "sycophancy"}

    def mean_score() -> float:
        total = daemon.registry.get_sample_value("canary_check_score_sum", labels) or 0.0
        count = daemon.registry.get_sample_value("canary_check_score_count", labels) or 0.0
        return total / count if count else 1.0

    try:
        async with asyncio.timeout(60):
            while (daemon.registry.get_sample_value("canary_check_score_count", labels) or 0) < 14:
                await asyncio.sleep(0.1)
        healthy = mean_score()
        sim.set_fault("vllm-prod", "default", Fault("sycophancy", rate=1.0))
        await wait_alarm(
            daemon, {k: v for k, v in labels.items() if k != "detector"}, {"sycophancy"}, 240
        )
        assert healthy == 1.0 and mean_score() < healthy
    finally:
        await daemon.stop()
