"""Soak: a simulated week of probing for 100 series in accelerated time; memory, fds, disk.

    python bench/soak.py                      # 7 days, 100 series, a probe each 300 s (~2-4 min)
    python bench/soak.py --days 2 --json      # shorter, machine-readable

No HTTP and no waiting: the clock is simulated. Each tick, every series (one target x the
`core` suite) finishes one probe, rotating through the suite's probes, and the result goes
through the daemon's own `Runner.record` (the SQLite store, the metrics, the drift engine at
the result's simulated time, so baselines roll hourly). Replies are the probes' reference
answers, a few corrupted with Thai characters (failures) and a few timeouts (errors). As the
daemon does, the drift state is saved every 10 simulated minutes and the store is pruned every
simulated hour (`prune(now)`: retention, then `incremental_vacuum` and a WAL checkpoint).

Reported every 6 simulated hours: RSS, open file descriptors, the database and WAL sizes, the
rows kept. Exit 0 when the second half of the run grew RSS by no more than the first half
(plus 8 MiB of allocator slack), fds did not grow, no row outlived its retention, and the
database stayed within 1.25x its size once retention first applied.
`tests/reliability/test_soak.py` runs a CI-sized version of the same code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
from prometheus_client import CollectorRegistry

if __package__ in (None, ""):  # `python bench/soak.py`: the monitor next to this file
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config import load_config
from monitor.config.probes import Probe, ProbeSuite
from monitor.daemon import DRIFT_STATE_KEY, suite_detectors
from monitor.detectors import run_detectors
from monitor.drift import DriftEngine
from monitor.metrics import Metrics, TargetInfo
from monitor.pacing import drift_plan
from monitor.plan import make_plan
from monitor.runner import Runner, request_record
from monitor.store.sqlite import SQLiteStore
from monitor.types import FinishReason, Outcome, Reply, Result

ROOT = Path(__file__).resolve().parents[1]
DAY_S = 86_400.0
T0 = 1_700_000_000.0  # the simulated clock's start (unix seconds)
FLUSH_S, PRUNE_S, SAMPLE_S = 600.0, 3600.0, 6 * 3600.0
THAI = " สวัสดีครับ"


@dataclass(frozen=True)
class Sample:
    day: float  # simulated days since the start
    rss_mib: float
    fds: int
    db_mib: float  # database + WAL
    rows: int


@dataclass
class Report:
    series: int
    days: float
    interval_s: float
    retention_passed_days: float
    retention_failed_days: float
    results: int = 0
    pruned: int = 0
    wall_s: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    stale_rows: int = 0  # rows older than their retention after the last prune

    def halves(self) -> tuple[Sample, Sample, Sample]:
        """The samples at the start of the steady state (retention in force), the middle
        of the remaining run and the end."""
        steady = [s for s in self.samples if s.day >= self.retention_failed_days] or self.samples
        return steady[0], steady[len(steady) // 2], steady[-1]

    @property
    def rss_growth_mib(self) -> tuple[float, float]:
        first, mid, last = self.halves()
        return mid.rss_mib - first.rss_mib, last.rss_mib - mid.rss_mib

    @property
    def ok(self) -> bool:
        first, mid, last = self.halves()
        grew_first, grew_second = self.rss_growth_mib
        return (
            grew_second <= max(grew_first, 0.0) + 8.0
            and last.fds <= mid.fds <= first.fds + 2
            and self.stale_rows == 0
            and max(s.db_mib for s in self.samples if s.day >= first.day) <= 1.25 * first.db_mib
        )


def write_config(workdir: Path, series: int, interval_s: float) -> Path:
    """`series` targets (never contacted: the soak records results itself) on the core suite."""
    targets = "".join(
        f"  - {{platform: p{i:03d}, pool: default, model: m, api: openai_chat,"
        f" base_url: 'http://127.0.0.1:9/', credentials: {{api_key_env: HOME}}}}\n"
        for i in range(series)
    )
    path = workdir / "canary.yaml"
    path.write_text(
        f"store: {{url: 'sqlite:///{workdir / 'canary.db'}'}}\n"
        f"targets:\n{targets}"
        f"suites:\n  - {{file: '{ROOT / 'probes' / 'core.yaml'}', interval_s: {interval_s}}}\n"
    )
    return path


def fake_result(
    target_platform: str, suite: ProbeSuite, probe: Probe, t: float, rng: random.Random
) -> Result:
    """One finished probe at simulated time `t`: the reference answer (2 % corrupted with
    Thai, 1 % a timeout), judged by the real detectors."""
    request = suite.request(probe, uuid.uuid4().hex)
    common: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "run_id": uuid.uuid4().hex,
        "started_at": t,
        "platform": target_platform,
        "pool": "default",
        "model": "m",
        "suite": suite.suite,
        "suite_version": suite.version,
        "probe": probe.name,
        "api": "openai_chat",
        "request": request_record(request),
    }
    draw = rng.random()
    if draw < 0.01:
        return Result(outcome=Outcome.TIMEOUT, latency_s=10.0, error="no reply", **common)
    text = probe.reference or "Paris."
    if draw < 0.03:
        text += THAI
    reply = Reply(
        text=text, finish_reason=FinishReason.STOP, raw_finish_reason="stop", raw_body=text
    )
    checks = tuple(run_detectors(reply, probe.expect))
    outcome = Outcome.PASSED if all(c.passed for c in checks) else Outcome.FAILED
    return Result(outcome=outcome, latency_s=0.4, checks=checks, reply=reply, **common)


def measure(day: float, workdir: Path, rows: int) -> Sample:
    me = psutil.Process()
    size = sum(p.stat().st_size for p in workdir.glob("canary.db*"))
    return Sample(
        round(day, 2),
        round(me.memory_info().rss / 2**20, 1),
        me.num_fds(),
        round(size / 2**20, 2),
        rows,
    )


async def soak(
    workdir: Path,
    *,
    series: int = 100,
    days: float = 7.0,
    interval_s: float = 300.0,
    retention_passed_days: float = 1.0,
    retention_failed_days: float = 2.0,
    seed: int = 1,
    sample_s: float = SAMPLE_S,
    progress: Callable[[Sample], None] | None = None,
) -> Report:
    """Run the simulated soak in `workdir`; see the module docstring."""
    report = Report(series, days, interval_s, retention_passed_days, retention_failed_days)
    loaded = load_config(write_config(workdir, series, interval_s))
    ((_, suite),) = loaded.bindings
    store = SQLiteStore(
        workdir / "canary.db",
        retention_passed_days=retention_passed_days,
        retention_failed_days=retention_failed_days,
    )
    metrics = Metrics(CollectorRegistry())
    drift = DriftEngine(config=loaded.config.drift)
    jobs, plans = drift_plan(make_plan(loaded), suite_detectors)
    metrics.configure(
        [TargetInfo(t.platform, t.pool, t.model, t.api) for t in loaded.config.targets],
        {job.labels: job.interval_s for job in jobs},
        [(job.labels, sid[4]) for job in jobs for sid in job.series],
    )
    drift.configure(plans, loaded.config.drift)
    runner = Runner(metrics=metrics, store=store, drift=drift, clients=lambda _: None)  # type: ignore[arg-type,return-value]
    rng = random.Random(seed)
    platforms = [t.platform for t in loaded.config.targets]
    started = time.monotonic()
    next_flush, next_prune, next_sample = FLUSH_S, PRUNE_S, 0.0
    elapsed, tick = 0.0, 0
    while elapsed <= days * DAY_S:
        if elapsed >= next_sample:
            sample = measure(elapsed / DAY_S, workdir, await store.count())
            report.samples.append(sample)
            if progress is not None:
                progress(sample)
            next_sample += sample_s
        for index, platform in enumerate(platforms):
            probe = suite.probes[(tick + index) % len(suite.probes)]
            t = T0 + elapsed + rng.uniform(0, interval_s / 2)
            await runner.record(fake_result(platform, suite, probe, t, rng))
            report.results += 1
        tick += 1
        elapsed += interval_s
        if elapsed >= next_flush:
            await store.save_state(DRIFT_STATE_KEY, drift.snapshot())
            next_flush += FLUSH_S
        if elapsed >= next_prune:
            report.pruned += await store.prune(T0 + elapsed)
            next_prune += PRUNE_S
    now = T0 + elapsed
    report.pruned += await store.prune(now)
    report.samples.append(measure(elapsed / DAY_S, workdir, await store.count()))
    report.stale_rows = await asyncio.to_thread(stale_rows, store, now)
    await store.close()
    report.wall_s = round(time.monotonic() - started, 1)
    return report


def stale_rows(store: SQLiteStore, now: float) -> int:
    """Rows older than their retention allows."""
    passed_cutoff = now - store.retention_passed_days * DAY_S
    other_cutoff = now - store.retention_failed_days * DAY_S
    return store._call(
        lambda conn: int(
            conn.execute(
                "SELECT count(*) FROM results WHERE (outcome = 'passed' AND started_at < ?)"
                " OR started_at < ?",
                (passed_cutoff, other_cutoff),
            ).fetchone()[0]
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--interval", type=float, default=300.0, help="simulated seconds")
    parser.add_argument("--retention-passed", type=float, default=1.0, help="days")
    parser.add_argument("--retention-failed", type=float, default=2.0, help="days")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="canary-soak-") as tmp:
        report = asyncio.run(
            soak(
                Path(tmp),
                series=args.series,
                days=args.days,
                interval_s=args.interval,
                retention_passed_days=args.retention_passed,
                retention_failed_days=args.retention_failed,
                progress=None if args.json else lambda s: print(_row(s), flush=True),
            )
        )
    first, _, last = report.halves()
    if args.json:
        print(json.dumps({**asdict(report), "ok": report.ok}, indent=2))
    else:
        print(_row(report.samples[-1]))
        grew_first, grew_second = report.rss_growth_mib
        print(
            f"{report.results} results for {report.series} series over {report.days:g}"
            f" simulated days in {report.wall_s} s; {report.pruned} pruned;"
            f" {report.stale_rows} rows past retention\n"
            f"RSS {report.samples[0].rss_mib} MiB at start, {last.rss_mib} MiB at end;"
            f" steady state from day {first.day}: +{grew_first:.1f} MiB then"
            f" +{grew_second:.1f} MiB; fds {report.samples[0].fds} -> {last.fds};"
            f" database {first.db_mib} -> max"
            f" {max(s.db_mib for s in report.samples if s.day >= first.day)} MiB"
            f" -> ok={report.ok}"
        )
    return 0 if report.ok else 1


def _row(s: Sample) -> str:
    return (
        f"day {s.day:5.2f}  rss {s.rss_mib:7.1f} MiB  fds {s.fds:3d}"
        f"  db {s.db_mib:7.2f} MiB  rows {s.rows}"
    )


if __name__ == "__main__":
    sys.exit(main())
