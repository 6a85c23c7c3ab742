"""Crash safety: SIGKILL `canary run` at random moments, restart it on the same store, and check.

    python bench/kill_harness.py                 # 100 cycles (about 10-15 minutes)
    python bench/kill_harness.py --cycles 10 --seed 7 --json

The real daemon process probes the simulated fleet (served by this process, one pool with a
fault so that failures and alarms happen), and is killed with SIGKILL at a random moment of
each cycle (seeded): mostly while it probes, sometimes while it is still starting up. After
every kill the store file is read directly (SQLite, read-only) and checked:

- **no acknowledged result lost**: every result id the API (`GET /api/v1/results`) showed
  before the kill is stored;
- **drift state resumes**: the drift state persisted with `save_state` never goes back: each
  series' `observations` and `alarms` only grow from one cycle to the next (a restart that
  did not restore the state would flush smaller counts);
- **no double counting**: each series' persisted `observations` never exceeds the stored
  results that could have fed it (the drift engine counts every result once and never
  re-reads the store on start-up), and no API page lists an id twice.

A last cycle ends with SIGTERM instead: the daemon must exit 0, and its final flush must add
exactly one observation of each `probe_error` series per result it stored in that run, which
pins down that a restart resumes from the persisted state exactly, neither from zero nor twice.
Exit status 0 when all checks hold. `tests/reliability/test_kill_harness.py` runs a CI-sized
version of the same code.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import httpx

if __package__ in (None, ""):  # `python bench/kill_harness.py`: the monitor next to this file
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from canary_sim import AnswerBook, Fault, SimBackend, SimFleet, run_fleet

ROOT = Path(__file__).resolve().parents[1]
PROBES = ROOT / "probes"
BACKENDS = (
    SimBackend("anthropic-api", "default", "anthropic_messages"),
    SimBackend("vllm-prod", "long-context", "openai_chat"),
)
PROBE_ERROR = "probe_error"
Key = tuple[str, ...]  # (platform, pool, model, suite) or with the detector


@dataclass
class Totals:
    """What the harness did and found; every `*_lost`/`violations` figure must be 0."""

    cycles: int = 0
    killed_during_startup: int = 0
    killed_after_flush: int = 0
    results_acknowledged: int = 0
    results_stored: int = 0
    results_lost: int = 0
    state_flushes_seen: int = 0
    max_observations: int = 0
    violations: list[str] = field(default_factory=list)
    sigterm_exit_code: int | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.results_lost == 0 and not self.violations and self.sigterm_exit_code == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(workdir: Path, fleet: SimFleet, port: int) -> Path:
    """A daemon config for the two simulated pools, probing every second."""
    targets = "".join(
        f"  - {{platform: {b.platform}, pool: {b.pool}, model: sim, api: {b.api},"
        f" base_url: '{fleet.base_url(b.platform, b.pool)}'}}\n"
        for b in BACKENDS
    )
    path = workdir / "canary.yaml"
    path.write_text(
        f"server: {{listen_address: 127.0.0.1, port: {port}, drain_timeout_s: 5}}\n"
        f"store: {{url: 'sqlite:///{workdir / 'canary.db'}'}}\n"
        "defaults: {timeout_s: 5}\n"
        f"targets:\n{targets}"
        f"suites:\n  - {{file: '{PROBES / 'core.yaml'}', interval_s: 1}}\n"
    )
    return path


@dataclass(frozen=True)
class StoreView:
    """What the store file holds, read by another process as an operator would."""

    ids: frozenset[str]
    per_quad: dict[Key, int]
    per_detector: dict[Key, int]
    state: dict[str, dict[str, Any]]  # series "p|pool|m|suite|detector" -> persisted counters


def read_store(db: Path) -> StoreView:
    if not db.exists():
        return StoreView(frozenset(), {}, {}, {})
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        ids: set[str] = set()
        per_quad: dict[Key, int] = {}
        per_detector: dict[Key, int] = {}
        try:
            rows = conn.execute(
                "SELECT id, platform, pool, model, suite, checks FROM results"
            ).fetchall()
        except sqlite3.OperationalError:  # killed before the schema was created
            rows = []
        for rid, platform, pool, model, suite, checks in rows:
            ids.add(rid)
            quad = (platform, pool, model, suite)
            per_quad[quad] = per_quad.get(quad, 0) + 1
            for check in json.loads(checks):
                key = (*quad, check["detector"])
                per_detector[key] = per_detector.get(key, 0) + 1
        try:
            row = conn.execute("SELECT state FROM drift_state WHERE key = 'drift'").fetchone()
        except sqlite3.OperationalError:
            row = None
        state = json.loads(row[0])["series"] if row else {}
    finally:
        conn.close()
    return StoreView(frozenset(ids), per_quad, per_detector, state)


def check_state(before: StoreView, after: StoreView, cycle: int) -> list[str]:
    """The drift-state invariants between two consecutive kills (see the module docstring)."""
    problems = []
    for key, old in before.state.items():
        new = after.state.get(key)
        if new is None:
            problems.append(f"cycle {cycle}: series {key} vanished from the drift state")
            continue
        for counter in ("observations", "alarms"):
            if new[counter] < old[counter]:
                problems.append(
                    f"cycle {cycle}: {key} {counter} went back {old[counter]} -> {new[counter]}"
                )
    for key, value in after.state.items():
        parts = tuple(key.split("|"))
        if parts[4] in (PROBE_ERROR, "any"):  # one observation per result at most
            feeding = after.per_quad.get(parts[:4], 0)
        else:  # one observation per check of that detector
            feeding = after.per_detector.get(parts, 0)
        if value["observations"] > feeding:
            problems.append(
                f"cycle {cycle}: {key} counted {value['observations']} observations"
                f" from {feeding} stored results (double counting)"
            )
    return problems


async def poll_results(client: httpx.AsyncClient, acked: set[str], problems: list[str]) -> bool:
    """One API read; adds the ids it lists to `acked`. False if the daemon did not answer."""
    try:
        response = await client.get("/api/v1/results", params={"limit": 1000})
    except httpx.TransportError:
        return False
    if response.status_code != 200:
        return False
    ids = [r["id"] for r in response.json()["data"]]
    if len(ids) != len(set(ids)):
        problems.append("an API page listed the same result id twice")
    acked.update(ids)
    return True


def state_stamp(db: Path) -> float | None:
    """When the drift state was last saved (None if never): a flush is a kill moment worth
    aiming at, since the next start-up must resume from exactly that state."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute("SELECT updated_at FROM drift_state WHERE key = 'drift'").fetchone()
    except sqlite3.Error:
        row = None
    finally:
        conn.close()
    return None if row is None else float(row[0])


class Moment(NamedTuple):
    """When to kill: `mode` "startup" (`life_s` after spawn), "after-flush" (`delay_s` after
    the first drift-state save once ready) or "uniform" (`life_s` after ready)."""

    mode: str
    life_s: float
    delay_s: float


def draw_moments(
    cycles: int, seed: int, *, max_life_s: float, startup_kill_share: float
) -> list[Moment]:
    """The seeded kill moments of every cycle, drawn before anything runs (reproducible)."""
    rng = random.Random(seed)
    moments = []
    for _ in range(cycles):
        draw = rng.random()
        if draw < startup_kill_share:  # import, store open, migrations, first jobs
            moments.append(Moment("startup", rng.uniform(0.05, 2.0), 0.0))
        elif draw < 0.6:  # maintenance saves the drift state every 10 s: kill just after
            moments.append(Moment("after-flush", 0.0, rng.uniform(0.0, 1.5)))
        else:
            moments.append(Moment("uniform", rng.uniform(0.2, max_life_s), 0.0))
    return moments


class Lives:
    """Starts and ends `canary run` processes on one config, and reads the API meanwhile."""

    def __init__(self, config: Path, port: int, log_file: Any) -> None:
        self.config, self.port, self.log_file = config, port, log_file
        self.jitter = random.Random()  # poll spacing only; the kill moments are drawn up front
        self.db = config.parent / "canary.db"
        self.acked: set[str] = set()
        self.problems: list[str] = []

    async def spawn(self) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "monitor.commands.cli",
            "--log-format",
            "json",
            "run",
            "--config",
            str(self.config),
            stdout=self.log_file,
            stderr=self.log_file,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)},
        )

    async def kill_cycle(self, moment: Moment) -> str:
        """Start the daemon, read the API until `moment`, SIGKILL it. Returns when it was
        killed: "startup" (before it became ready), "after-flush" or "uniform"."""
        stamp = state_stamp(self.db)
        proc = await self.spawn()
        try:
            ready = await self._watch(proc, moment, stamp)
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        return "uniform" if moment.mode == "startup" and ready else moment.mode

    async def _watch(
        self, proc: asyncio.subprocess.Process, moment: Moment, stamp: float | None
    ) -> bool:
        """Poll until the kill moment; True if the daemon became ready first."""
        mode, life_s, delay_s = moment
        flushed_at: float | None = None
        started = time.monotonic()
        ready_at: float | None = None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=5) as client:
            while True:
                now = time.monotonic()
                if mode == "startup" and now - started >= life_s:
                    break
                if mode == "uniform" and ready_at is not None and now - ready_at >= life_s:
                    break
                if mode == "after-flush" and ready_at is not None:
                    if flushed_at is None and state_stamp(self.db) != stamp:
                        flushed_at = now
                    if flushed_at is not None and now - flushed_at >= delay_s:
                        break
                    if now - ready_at > 30:
                        self.problems.append("no drift-state flush within 30 s of ready")
                        break
                if proc.returncode is not None:
                    self.problems.append(f"the daemon exited by itself with {proc.returncode}")
                    break
                if ready_at is None:
                    with contextlib.suppress(httpx.TransportError):
                        if (await client.get("/readyz")).status_code == 200:
                            ready_at = time.monotonic()
                    if now - started > 60:
                        self.problems.append("the daemon was not ready within 60 s")
                        break
                else:
                    await poll_results(client, self.acked, self.problems)
                await asyncio.sleep(self.jitter.uniform(0.01, 0.1))
        return ready_at is not None

    async def graceful_cycle(self, life_s: float) -> int | None:
        """Start the daemon, let it probe for `life_s` seconds after ready, SIGTERM it; its
        exit status (None if it never became ready)."""
        proc = await self.spawn()
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{self.port}", timeout=5
            ) as client:
                async with asyncio.timeout(60):
                    while True:
                        with contextlib.suppress(httpx.TransportError):
                            if (await client.get("/readyz")).status_code == 200:
                                break
                        await asyncio.sleep(0.05)
                ready_at = time.monotonic()
                while time.monotonic() - ready_at < life_s:
                    await poll_results(client, self.acked, self.problems)
                    await asyncio.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            return await asyncio.wait_for(proc.wait(), 60)
        except TimeoutError:
            self.problems.append("the daemon did not become ready or stop within 60 s")
            return None
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def run_harness(
    cycles: int,
    seed: int,
    workdir: Path,
    *,
    max_life_s: float = 12.0,
    startup_kill_share: float = 0.15,
    progress: Callable[[str], None] | None = None,
) -> Totals:
    """`cycles` SIGKILL cycles, then one SIGTERM cycle, on one store in `workdir`."""
    t0 = time.monotonic()
    totals = Totals()
    db = workdir / "canary.db"
    book = AnswerBook.from_probe_dir(PROBES)
    async with run_fleet(list(BACKENDS), book, seed=seed) as fleet:
        # Failures on one pool: its known_answer and `any` series alarm and count alarms.
        fleet.set_fault("vllm-prod", "long-context", Fault("top_token_drop", rate=0.5))
        port = free_port()
        config = write_config(workdir, fleet, port)
        before = read_store(db)
        with (workdir / "daemon.log").open("ab") as log_file:
            lives = Lives(config, port, log_file)
            moments = draw_moments(
                cycles, seed, max_life_s=max_life_s, startup_kill_share=startup_kill_share
            )
            for cycle, moment in enumerate(moments, start=1):
                mode = await lives.kill_cycle(moment)
                totals.killed_during_startup += mode == "startup"
                totals.killed_after_flush += mode == "after-flush"
                after = read_store(db)
                lost = lives.acked - after.ids
                if lost:
                    lives.problems.append(f"cycle {cycle}: {len(lost)} acknowledged lost")
                lives.problems += check_state(before, after, cycle)
                totals.state_flushes_seen += after.state != before.state
                before = after
                totals.cycles = cycle
                if progress is not None:
                    progress(
                        f"cycle {cycle}/{cycles}: {mode} kill, {len(lives.acked)} acknowledged,"
                        f" {len(after.ids)} stored, {len(lost)} lost"
                    )
            totals.sigterm_exit_code = await lives.graceful_cycle(life_s=3.0)
        final = read_store(db)
        lives.problems += check_state(before, final, cycles + 1)
        lives.problems += check_exact_resume(before, final)
        totals.results_acknowledged = len(lives.acked)
        totals.results_stored = len(final.ids)
        totals.results_lost = len(lives.acked - final.ids)
        totals.max_observations = max((v["observations"] for v in final.state.values()), default=0)
        totals.violations = lives.problems
    totals.seconds = round(time.monotonic() - t0, 1)
    return totals


def check_exact_resume(before: StoreView, after: StoreView) -> list[str]:
    """After a clean stop (final flush), each probe_error series counted exactly the results
    stored in that run on top of the state it restored: resumed, neither reset nor doubled."""
    problems = []
    for key, value in after.state.items():
        parts = tuple(key.split("|"))
        if parts[4] != PROBE_ERROR:
            continue
        stored = after.per_quad.get(parts[:4], 0) - before.per_quad.get(parts[:4], 0)
        counted = value["observations"] - before.state.get(key, {}).get("observations", 0)
        if counted != stored:
            problems.append(
                f"clean stop: {key} counted {counted} observations for {stored} results stored"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-life", type=float, default=12.0, help="seconds after ready")
    parser.add_argument("--json", action="store_true", help="totals as JSON on stdout")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    args = parser.parse_args(argv)
    # The simulator logs a traceback for every request cut off by a kill: expected here.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    workdir = Path(tempfile.mkdtemp(prefix="canary-kill-"))
    totals = asyncio.run(
        run_harness(
            args.cycles,
            args.seed,
            workdir,
            max_life_s=args.max_life,
            progress=lambda line: print(line, file=sys.stderr),
        )
    )
    if args.json:
        print(json.dumps({**asdict(totals), "ok": totals.ok}, indent=2))
    else:
        print(
            f"cycles run: {totals.cycles} (+1 SIGTERM, exit {totals.sigterm_exit_code}),"
            f" {totals.killed_during_startup} killed during start-up,"
            f" {totals.killed_after_flush} just after a drift-state flush\n"
            f"results acknowledged: {totals.results_acknowledged},"
            f" stored: {totals.results_stored}, lost: {totals.results_lost}\n"
            f"drift state flushes seen: {totals.state_flushes_seen},"
            f" largest series count: {totals.max_observations}\n"
            f"violations: {len(totals.violations)}  ({totals.seconds} s)"
        )
        for problem in totals.violations[:20]:
            print("  " + problem)
    if args.keep:
        print(f"work dir: {workdir}", file=sys.stderr)
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if totals.ok else 1


if __name__ == "__main__":
    sys.exit(main())
