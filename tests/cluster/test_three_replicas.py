"""Three `canary run` replicas on one PostgreSQL against the simulated fleet; one is SIGKILLed.

Judged as issue #11 states it: the dead replica's shards are taken over within the bound
(lease_ttl_s + heartbeat_s, plus one round's own time, by the database's lease times), no
acknowledged result is lost, no series has a gap longer than the bound (+ two intervals: the
last run before the kill and the first-run offset after the takeover), no series is probed by
two replicas for longer than one lease period, and an alarm latched before the kill is still
latched on the new owner.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from canary_sim import AnswerBook, Fault, SimBackend, SimFleet, run_fleet
from tests.conftest import PROBES
from tests.pg import free_port

MODELS = ("m0", "m1", "m2", "m3")
SHARED = (
    SimBackend("anthropic-api", "default", "anthropic_messages"),
    SimBackend("vllm-prod", "long-context", "openai_chat"),
)
FAULTY = SimBackend("vllm-prod", "faulty", "openai_chat")  # served to m0 only
INTERVAL_S = 2.0
TTL_S = 4.0
HEARTBEAT_S = 1.0
TAKEOVER_BOUND_S = TTL_S + HEARTBEAT_S
ROUND_SLACK_S = 1.0  # one heartbeat round's own time (query, loop delays) on a loaded box
GAP_SLACK_S = 2.0  # and a probe run's scheduling delay
ALARM = {
    "platform": "vllm-prod",
    "pool": "faulty",
    "model": "m0",
    "suite": "mini",
    "detector": "known_answer",
}

pytestmark = pytest.mark.slow


@pytest.fixture
async def fleet() -> AsyncIterator[SimFleet]:
    book = AnswerBook.from_probe_dir(PROBES)
    async with run_fleet([*SHARED, FAULTY], book, seed=11) as running:
        yield running


def mini_suite(tmp_path: Path) -> Path:
    """The first three probes of the core suite (known answers): a light load on a shared box."""
    core = (PROBES / "core.yaml").read_text()
    path = tmp_path / "mini.yaml"
    path.write_text(
        core[: core.index("  - name: gold-symbol")].replace("suite: core", "suite: mini")
    )
    return path


def write_config(tmp_path: Path, fleet: SimFleet, replica: str, port: int) -> Path:
    targets = [(b, m) for b in SHARED for m in MODELS] + [(FAULTY, "m0")]
    lines = "".join(
        f"  - {{platform: {b.platform}, pool: {b.pool}, model: {m}, api: {b.api},"
        f" base_url: '{fleet.base_url(b.platform, b.pool)}'}}\n"
        for b, m in targets
    )
    path = tmp_path / f"{replica}.yaml"
    path.write_text(
        f"server: {{listen_address: 127.0.0.1, port: {port}, drain_timeout_s: 5}}\n"
        "store: {url: '${CANARY_TEST_STORE_URL}'}\n"
        f"cluster: {{enabled: true, lease_ttl_s: {TTL_S}, heartbeat_s: {HEARTBEAT_S}}}\n"
        "defaults: {timeout_s: 5}\n"
        f"targets:\n{lines}"
        f"suites:\n  - {{file: '{mini_suite(tmp_path)}', interval_s: {INTERVAL_S}}}\n"
    )
    return path


async def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a replica's /metrics; {} if it does not answer."""
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    except httpx.HTTPError:
        return {}
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def held(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> set[str]:
    return {
        dict(labels)["shard"]
        for (name, labels), value in samples.items()
        if name == "canary_shard_info" and value == 1
    }


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


async def test_kill_one_of_three_replicas(tmp_path: Path, fleet: SimFleet, pg_dsn: str) -> None:
    ports = {f"r{i}": free_port() for i in range(3)}
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CANARY_TEST_STORE_URL": pg_dsn}
    procs: dict[str, asyncio.subprocess.Process] = {}
    logs = {r: (tmp_path / f"{r}.log").open("wb") for r in ports}
    for replica, port in ports.items():
        procs[replica] = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "monitor.commands.cli",
            "--log-level",
            "info",
            "run",
            "--config",
            str(write_config(tmp_path, fleet, replica, port)),
            stdout=logs[replica],
            stderr=asyncio.subprocess.STDOUT,
            env={**env, "POD_NAME": replica},  # the replica id, as the chart's downward API
        )
    try:
        await _scenario(ports, procs, fleet, pg_dsn)
    except BaseException:
        for replica in ports:  # how the shards moved, for the failure report
            for line in (tmp_path / f"{replica}.log").read_text().splitlines():
                if '"shard.' in line or "shard." in line:
                    print(replica, line)
        raise
    finally:
        for log in logs.values():
            log.close()
        for proc in procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            await asyncio.wait_for(proc.wait(), 30)


async def every_model_held_once(ports: dict[str, int]) -> None:
    async with asyncio.timeout(40):
        while True:
            owned = {r: held(await scrape(p)) for r, p in ports.items()}
            shards = [s for h in owned.values() for s in h]
            if sorted(shards) == sorted(MODELS):
                return
            await asyncio.sleep(0.2)


async def _scenario(
    ports: dict[str, int],
    procs: dict[str, asyncio.subprocess.Process],
    fleet: SimFleet,
    dsn: str,
) -> None:
    await every_model_held_once(ports)
    settled = time.time()

    # 2. Latch an alarm on m0, then clear the fault: only the saved state can keep it latched
    # on the next owner (recovery takes hundreds of clean probes). The victim is m0's owner
    # at that moment (shards may have moved if a replica stalled past its lease under load).
    fleet.set_fault(FAULTY.platform, FAULTY.pool, Fault("top_token_drop", rate=1.0))
    async with asyncio.timeout(90):
        victim = ""
        while not victim:
            for replica, port in ports.items():
                if value(await scrape(port), "canary_drift_alarm", **ALARM) == 1:
                    victim = replica
            await asyncio.sleep(0.2)
    victim_shards = held(await scrape(ports[victim]))
    assert "m0" in victim_shards
    latched_at = time.time()
    print(f"alarm latched {latched_at - settled:.1f} s after the fault")
    fleet.clear_faults()
    with psycopg.connect(dsn) as conn:  # wait for the maintenance flush after the alarm
        async with asyncio.timeout(30):
            while True:
                row = conn.execute(
                    "SELECT extract(epoch FROM updated_at) FROM drift_state"
                    " WHERE key = 'drift/shard/m0'"
                ).fetchone()
                if row is not None and float(row[0]) > latched_at:
                    break
                await asyncio.sleep(0.2)

    # 3. What the victim acknowledged: its probe-run counters count only after the write
    # returned; a failed write would show in canary_store_errors_total{operation="write"}.
    samples = await scrape(ports[victim])
    acknowledged: dict[tuple[str, str, str], float] = defaultdict(float)
    for (name, labels), count in samples.items():
        if name == "canary_probe_runs_total":
            d = dict(labels)
            acknowledged[d["platform"], d["pool"], d["model"]] += count
    assert value(samples, "canary_store_errors_total", operation="write") == 0
    assert sum(acknowledged.values()) > 0
    procs[victim].send_signal(signal.SIGKILL)
    killed_at = time.time()
    await procs[victim].wait()
    survivors = {r: p for r, p in ports.items() if r != victim}

    # 4. The victim's shards are taken over within the bound.
    async with asyncio.timeout(TAKEOVER_BOUND_S + 30):
        while True:
            now_owned = {r: held(await scrape(p)) for r, p in survivors.items()}
            if victim_shards <= set().union(*now_owned.values()):
                break
            await asyncio.sleep(0.2)
    with psycopg.connect(dsn) as conn:  # when, by the database's clock, each was taken
        row = conn.execute(
            "SELECT max(extract(epoch FROM acquired_at)) FROM shard_leases WHERE shard = ANY(%s)",
            (sorted(victim_shards),),
        ).fetchone()
    assert row is not None
    takeover_s = float(row[0]) - killed_at
    assert 0 < takeover_s <= TAKEOVER_BOUND_S + ROUND_SLACK_S, takeover_s
    new_owner = next(r for r, h in now_owned.items() if "m0" in h)

    # 5. The alarm latched before the kill is latched on the new owner once it has probed.
    series = {k: v for k, v in ALARM.items() if k != "detector"}
    async with asyncio.timeout(30):
        while True:
            samples = await scrape(ports[new_owner])
            if value(samples, "canary_last_run_timestamp_seconds", **series):
                break
            await asyncio.sleep(0.2)
    assert value(samples, "canary_drift_alarm", **ALARM) == 1
    assert value(samples, "canary_drift_alarms_total", **ALARM) == 0  # restored, not re-raised

    # Let every series run a few intervals after the takeover, then read the store.
    await asyncio.sleep(3 * INTERVAL_S)
    end = time.time()
    with psycopg.connect(dsn) as conn:
        rows: list[Any] = conn.execute(
            "SELECT platform, pool, model, run_id, min(started_at), count(*) FROM results"
            " GROUP BY platform, pool, model, run_id"
        ).fetchall()

    check_store(rows, acknowledged, killed_at, settled, end)
    print(f"takeover {takeover_s:.2f} s (bound {TAKEOVER_BOUND_S} s)")


def check_store(
    rows: list[tuple[str, str, str, str, float, int]],
    acknowledged: dict[tuple[str, str, str], float],
    killed_at: float,
    settled: float,
    end: float,
) -> None:
    """No acknowledged result lost; per series, no gap beyond the bound and no double
    probing for longer than one lease period."""
    before_kill: dict[tuple[str, str, str], int] = defaultdict(int)
    runs: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for platform, pool, model, _run, started, count in rows:
        key = (platform, pool, model)
        runs[key].append(float(started))
        if started < killed_at:
            before_kill[key] += count
    for key, count in acknowledged.items():
        assert before_kill[key] >= count, (key, before_kill[key], count)
    gap_bound_s = TAKEOVER_BOUND_S + 2 * INTERVAL_S + GAP_SLACK_S
    worst = 0.0
    for key, all_starts in runs.items():
        starts = sorted(t for t in all_starts if t >= settled)
        assert starts and end - starts[-1] <= gap_bound_s, key
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        worst = max(worst, *gaps)
        assert max(gaps) <= gap_bound_s, (key, max(gaps))
        doubled = [g for g in gaps if g < INTERVAL_S / 2]
        assert len(doubled) * INTERVAL_S <= TTL_S, (key, doubled)
    print(f"longest gap {worst:.2f} s (bound {gap_bound_s} s)")
