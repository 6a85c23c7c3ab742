"""The assembled daemon against the simulated fleet: metrics, API, reload and drain."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from canary_sim import Fault, SimFleet
from monitor.daemon import Daemon
from tests.conftest import WriteConfig


async def wait_for_results(daemon: Daemon, count: int, timeout_s: float = 30) -> None:
    """Wait (not a timing assertion) until the store holds `count` results."""
    assert daemon.store is not None
    async with asyncio.timeout(timeout_s):
        while await daemon.store.count() < count:
            await asyncio.sleep(0.05)


@pytest.fixture
async def daemon(write_config: WriteConfig) -> Daemon:
    running = Daemon(write_config())
    await running.start()
    yield running
    await running.stop()


async def test_metrics_and_api_after_probing(daemon: Daemon) -> None:
    """After a few runs /metrics shows every series and the API lists results with transcripts."""
    await wait_for_results(daemon, 14)
    base = f"http://127.0.0.1:{daemon.server_port}"
    async with httpx.AsyncClient(base_url=base) as client:
        metrics = (await client.get("/metrics")).text
        for platform, pool in (("anthropic-api", "default"), ("vllm-prod", "long-context")):
            assert (
                f'canary_probe_runs_total{{model="sim",outcome="passed",platform="{platform}",pool="{pool}",suite="core"}}'
                in metrics
            )
        assert "canary_config_last_reload_successful 1.0" in metrics
        results = (
            await client.get("/api/v1/results", params={"platform": "vllm-prod", "limit": 5})
        ).json()["data"]
        assert 0 < len(results) <= 5 and all(r["platform"] == "vllm-prod" for r in results)
        record = (await client.get(f"/api/v1/results/{results[0]['id']}")).json()["data"]
        assert record["reply"]["text"] and record["request"]["messages"]
        targets = (await client.get("/api/v1/targets")).json()["data"]
        assert sorted(t["name"] for t in targets) == [
            "anthropic-api/default/sim",
            "vllm-prod/long-context/sim",
        ]
        assert (await client.get("/readyz")).status_code == 200
    if shutil.which("promtool"):
        check = await asyncio.to_thread(
            subprocess.run,
            ["promtool", "check", "metrics"],
            input=metrics,
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr


async def test_clean_fleet_passes_every_check(daemon: Daemon) -> None:
    """Against a fault-free fleet every shipped core probe passes (no false failures)."""
    await wait_for_results(daemon, 14)
    assert daemon.store is not None
    from monitor.store import ResultQuery

    rows = await daemon.store.query(ResultQuery(limit=1000))
    assert rows and {r["outcome"] for r in rows} == {"passed"}, [
        r for r in rows if r["outcome"] != "passed"
    ][:3]


async def test_fault_raises_alarm_on_its_series_only(daemon: Daemon, fleet: SimFleet) -> None:
    """A persistent wrong answer on one pool latches an alarm there and nowhere else."""
    fleet.set_fault("vllm-prod", "long-context", Fault("top_token_drop", rate=1.0))
    labels = {
        "platform": "vllm-prod",
        "pool": "long-context",
        "model": "sim",
        "suite": "core",
        "detector": "known_answer",
    }
    async with asyncio.timeout(60):
        while daemon.registry.get_sample_value("canary_drift_alarm", labels) != 1:
            await asyncio.sleep(0.05)
    other = {**labels, "platform": "anthropic-api", "pool": "default"}
    assert daemon.registry.get_sample_value("canary_drift_alarm", other) == 0


async def test_reload_with_broken_file_keeps_old_config(daemon: Daemon) -> None:
    """A broken config on reload is refused with its message; the old jobs keep running."""
    jobs_before = daemon.scheduler.keys
    good = daemon.config_path.read_text()
    daemon.config_path.write_text(good.replace("timeout_s: 5", "timeout_s: -5"))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.server_port}") as client:
        response = await client.post("/-/reload")
        assert response.status_code == 500
        assert "defaults.timeout_s: must be > 0" in response.json()["error"]
        assert daemon.registry.get_sample_value("canary_config_last_reload_successful") == 0
        assert daemon.scheduler.keys == jobs_before
        daemon.config_path.write_text(good)
        assert (await client.post("/-/reload")).status_code == 200
    assert daemon.registry.get_sample_value("canary_config_last_reload_successful") == 1


async def test_reload_says_which_changes_need_a_restart(daemon: Daemon) -> None:
    """A reload applies targets and suites at once and names the start-only sections it
    changed (store, listen port) in a log line, keeping the running store and port."""
    from structlog.testing import capture_logs

    text = daemon.config_path.read_text()
    port = daemon.server_port
    daemon.config_path.write_text(
        text.replace("port: 0,", "port: 1,").replace("canary.db", "elsewhere.db")
    )
    with capture_logs() as logs:
        assert (await daemon.reload()) == (True, "reloaded")
    [warning] = [e for e in logs if e["event"] == "config.restart_required"]
    assert warning["sections"] == ["store", "server.port"]
    assert daemon.server_port == port
    with capture_logs() as logs:  # the same file again: nothing new needs a restart
        await daemon.reload()
    assert [e for e in logs if e["event"] == "config.restart_required"] == []


async def test_reload_removes_series_of_dropped_target(
    daemon: Daemon, write_config: WriteConfig
) -> None:
    """Dropping a target on reload removes its jobs and its metric series."""
    await wait_for_results(daemon, 1)
    text = daemon.config_path.read_text().splitlines()
    daemon.config_path.write_text(
        "\n".join(line for line in text if "anthropic-api" not in line) + "\n"
    )
    ok, _ = await daemon.reload()
    assert ok
    assert all("anthropic-api" not in key for key in daemon.scheduler.keys)
    labels = {
        "platform": "anthropic-api",
        "pool": "default",
        "model": "sim",
        "suite": "core",
        "outcome": "passed",
    }
    assert daemon.registry.get_sample_value("canary_probe_runs_total", labels) is None


async def test_drift_state_survives_restart(write_config: WriteConfig, fleet: SimFleet) -> None:
    """Drift statistics are flushed on stop and resumed by the next daemon on the same store."""
    fleet.set_fault("vllm-prod", "long-context", Fault("top_token_drop", rate=1.0))
    path = write_config()
    first = Daemon(path)
    await first.start()
    await wait_for_results(first, 7)
    await first.stop()
    assert first.drift is not None
    saved = {k: v for k, v in first.drift.states.items() if v.observations}
    assert saved
    second = Daemon(path)
    await second.start()
    assert second.drift is not None
    for series, state in saved.items():
        assert second.drift.states[series].observations >= state.observations
    await second.stop()


def test_config_path_is_required(tmp_path: Path) -> None:
    """Starting on a missing config fails with the file named, before anything runs."""
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot read file"):
        asyncio.run(Daemon(tmp_path / "missing.yaml").start(serve=False))


async def test_clients_keep_connections_across_runs(daemon: Daemon) -> None:
    """Each target's client keeps idle connections a little longer than its longest suite
    interval, so the next run reuses them (no new TCP/TLS handshake per run)."""
    assert daemon.loaded is not None
    for target in daemon.loaded.config.targets:
        pool = daemon.clients(target)._transport._pool  # type: ignore[attr-defined]
        assert pool._keepalive_expiry == 1 + 5  # the fixture's interval_s is 1


async def test_timeout_rebuilds_the_target_client(daemon: Daemon, fleet: SimFleet) -> None:
    """After a probe times out the target gets a fresh HTTP client (a wedged connection pool
    cannot keep failing it), and the retired client is closed once no probe can still use it."""
    await wait_for_results(daemon, 1)
    target = next(t for t in daemon.loaded.config.targets if t.pool == "long-context")  # type: ignore[union-attr]
    before = daemon.clients(target)
    fleet.set_fault("vllm-prod", "long-context", Fault("latency", rate=1.0, delay_s=30))
    labels = {
        "platform": "vllm-prod",
        "pool": "long-context",
        "model": "sim",
        "suite": "core",
        "outcome": "timeout",
    }
    async with asyncio.timeout(60):
        while not daemon.registry.get_sample_value("canary_probe_runs_total", labels):
            await asyncio.sleep(0.05)
    assert daemon.clients(target) is not before
    assert before in daemon.clients._closing  # type: ignore[attr-defined]
    await daemon.clients.close_retired(everything=True)
    assert before.is_closed


async def test_reload_with_non_finite_interval_is_refused_whole(daemon: Daemon) -> None:
    """`interval_s: .inf` on reload is a located error, not a 500 that half-applies: the
    interval gauge keeps the running value and the reload-success gauge reads 0."""
    labels = {"platform": "anthropic-api", "pool": "default", "model": "sim", "suite": "core"}
    before = daemon.registry.get_sample_value("canary_probe_interval_seconds", labels)
    assert before is not None and before > 0
    good = daemon.config_path.read_text()
    daemon.config_path.write_text(good.replace("interval_s: 1,", "interval_s: .inf,"))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.server_port}") as client:
        response = await client.post("/-/reload")
    assert response.status_code == 500
    assert "interval_s: must be a finite number" in response.json()["error"]
    assert daemon.registry.get_sample_value("canary_config_last_reload_successful") == 0
    assert daemon.registry.get_sample_value("canary_probe_interval_seconds", labels) == before


async def test_reload_failing_while_applying_keeps_the_running_config(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any failure while a valid config is applied puts the running one back, sets the
    reload-success gauge to 0 and says so; the next good reload works."""
    from structlog.testing import capture_logs

    jobs_before = daemon.scheduler.keys
    good = daemon.config_path.read_text()
    daemon.config_path.write_text(good.replace("interval_s: 1,", "interval_s: 2,"))
    real_sync = daemon.scheduler.sync
    calls = 0

    def sync_failing_once(specs: Any) -> None:  # a fault injected into one apply
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("injected")
        real_sync(specs)

    monkeypatch.setattr(daemon.scheduler, "sync", sync_failing_once)
    with capture_logs() as logs:
        ok, message = await daemon.reload()
    assert not ok and "the running config is kept" in message
    assert [e["error_type"] for e in logs if e["event"] == "config.reload_failed"] == [
        "RuntimeError"
    ]
    assert daemon.registry.get_sample_value("canary_config_last_reload_successful") == 0
    assert daemon.scheduler.keys == jobs_before
    assert daemon.loaded is not None and daemon.loaded.bindings[0][0].interval_s == 1
    assert (await daemon.reload()) == (True, "reloaded")
    assert daemon.registry.get_sample_value("canary_config_last_reload_successful") == 1
