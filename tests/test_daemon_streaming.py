"""The daemon with streamed probes and capability skipping, against the simulated fleet."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from canary_sim import SimFleet
from monitor.daemon import Daemon
from monitor.store import ResultQuery
from tests.conftest import BACKENDS, PROBES
from tests.test_daemon import wait_for_results


def write(tmp_path: Path, fleet: SimFleet) -> Path:
    targets = "".join(
        f"  - {{platform: {b.platform}, pool: {b.pool}, model: sim, api: {b.api},"
        f" base_url: '{fleet.base_url(b.platform, b.pool)}'}}\n"
        for b in BACKENDS
    )
    path = tmp_path / "canary.yaml"
    path.write_text(
        "server: {listen_address: 127.0.0.1, port: 0, drain_timeout_s: 5}\n"
        f"store: {{url: 'sqlite:///{tmp_path / 'canary.db'}'}}\n"
        "defaults: {timeout_s: 5}\n"
        f"targets:\n{targets}"
        "suites:\n"
        f"  - {{file: '{PROBES / 'core.yaml'}', interval_s: 1, stream: true}}\n"
        f"  - {{file: '{PROBES / 'top-token.yaml'}', interval_s: 1}}\n"
    )
    return path


@pytest.fixture
async def daemon(tmp_path: Path, fleet: SimFleet) -> AsyncIterator[Daemon]:
    running = Daemon(write(tmp_path, fleet))
    await running.start()
    yield running
    await running.stop()


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


async def test_streamed_suite_and_skipped_probes(daemon: Daemon) -> None:
    """A binding with `stream: true` streams every probe of its suite on both wire APIs, the
    replies pass the same checks, TTFT and output-rate histograms fill per series, and the
    top-token suite is skipped (not failed) on the Anthropic target, which has no logprobs."""
    await wait_for_results(daemon, 40)
    assert daemon.store is not None
    rows = await daemon.store.query(ResultQuery(suite="core", limit=1000))
    assert rows and {r["outcome"] for r in rows} == {"passed"}
    record = await daemon.store.get(rows[0]["id"])
    assert record is not None and record["request"]["stream"] is True
    assert record["reply"]["time_to_first_token_s"] is not None
    skipped_rows = await daemon.store.query(
        ResultQuery(suite="top-token", platform="anthropic-api", limit=10)
    )
    assert skipped_rows == []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.server_port}") as client:
        text = (await client.get("/metrics")).text
        targets = (await client.get("/api/v1/targets")).json()["data"]
    counts = samples(text, "canary_time_to_first_token_seconds_count")
    for backend in BACKENDS:
        key = (
            ("model", "sim"),
            ("platform", backend.platform),
            ("pool", backend.pool),
            ("suite", "core"),
        )
        assert counts[key] > 0
    assert samples(text, "canary_output_tokens_per_second_count")
    skipped = samples(text, "canary_probes_skipped")
    assert skipped == {
        (
            ("capability", "logprobs"),
            ("model", "sim"),
            ("platform", "anthropic-api"),
            ("pool", "default"),
            ("suite", "top-token"),
        ): 8.0
    }
    by_name = {t["name"]: t for t in targets}
    anthropic = by_name["anthropic-api/default/sim"]["skipped"]
    assert len(anthropic) == 8 and {s["capability"] for s in anthropic} == {"logprobs"}
    assert by_name["vllm-prod/long-context/sim"]["skipped"] == []
    # No drift series for a suite that never runs on that target.
    assert 'platform="anthropic-api",pool="default",suite="top-token"' not in "".join(
        line for line in text.splitlines() if line.startswith("canary_drift_ratio")
    )
