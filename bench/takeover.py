"""Takeover after SIGKILL in cluster mode, as two figures: when the dead replica's leases moved,
and when its targets were probed again (and the longest any one of them went unprobed).

    python bench/takeover.py            # 7 kills; lease 4 s, heartbeat 1 s, interval 2 s (~1.5 min)
    python bench/takeover.py --ttl 15 --heartbeat 5 --interval 30 --cycles 3  # defaults (~4 min)
    python bench/takeover.py --json

Processes: a throwaway PostgreSQL (tests/pg.py), the simulated fleet (`python -m canary_sim`,
two backends) and three `canary run` replicas in cluster mode over `--models` models x 2
platforms with a 3-probe suite. Each cycle: wait until every model is held and has been probed
since the last change, SIGKILL the next replica (r0, r1, r2, r0, ...) that holds a model, then
read from the database, by its clock (same machine):

- lease moved: the latest `acquired_at` of the dead replica's models, minus the kill time;
- probed again: per target of those models, the first result started after the kill, minus
  the kill time (the largest over the targets), and the gap from the target's last result
  started before the kill (the largest: the longest a target went without a probe).

Then the replica is started again and takes its models back before the next cycle.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.scale import BACKENDS, fleet, owners  # noqa: E402
from monitor.shard import assign  # noqa: E402
from tests.pg import free_port, running_postgres  # noqa: E402

REPLICAS = ("r0", "r1", "r2")


def progress(message: str) -> None:
    print(f"[takeover] {message}", file=sys.stderr, flush=True)


def write_config(workdir: Path, sim_port: int, args: argparse.Namespace, replica: str) -> Path:
    core = (REPO / "probes" / "core.yaml").read_text()
    suite = workdir / "bench-suite.yaml"
    suite.write_text(
        core[: core.index("  - name: gold-symbol")].replace("suite: core", "suite: bench")
    )
    targets = "".join(
        f"  - {{platform: {platform}, pool: {pool}, model: m{m}, api: {api},"
        f" base_url: 'http://127.0.0.1:{sim_port}/{platform}/{pool}/'}}\n"
        for m in range(args.models)
        for platform, pool, api in BACKENDS
    )
    path = workdir / f"{replica}.yaml"
    path.write_text(
        f"server: {{listen_address: 127.0.0.1, port: {free_port()}, drain_timeout_s: 5}}\n"
        "store: {url: '${CANARY_BENCH_STORE_URL}'}\n"
        f"cluster: {{enabled: true, replica_id: {replica}, lease_ttl_s: {args.ttl},"
        f" heartbeat_s: {args.heartbeat}}}\n"
        "defaults: {timeout_s: 10}\n"
        f"targets:\n{targets}"
        f"suites:\n  - {{file: '{suite}', interval_s: {args.interval}}}\n"
    )
    return path


def start(
    config: Path, workdir: Path, dsn: str, replica: str, cycle: int
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CANARY_BENCH_STORE_URL": dsn, "PYTHONUNBUFFERED": "1"}
    with open(workdir / f"{replica}-{cycle}.log", "wb") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "monitor.commands.cli",
                "--log-level",
                "info",
                "run",
                "--config",
                str(config),
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def query(dsn: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def wait_settled(dsn: str, args: argparse.Namespace, since: float) -> dict[str, str]:
    """Every model held by the replica rendezvous hashing gives it among all three (so a
    restarted replica has taken its models back), and every target probed since; returns
    shard -> owner."""
    models = [f"m{m}" for m in range(args.models)]
    settled = assign(models, list(REPLICAS))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if owners(dsn) == settled:
            mark = max(since, time.time())
            while time.monotonic() < deadline:
                rows = query(
                    dsn,
                    "SELECT count(DISTINCT (platform, pool, model)) FROM results"
                    " WHERE started_at > %s",
                    mark,
                )
                if rows[0][0] == args.models * len(BACKENDS):
                    return settled
                time.sleep(0.2)
        time.sleep(0.5)
    raise SystemExit("the replicas never settled: see the logs in the work dir")


def measure(dsn: str, models: list[str], killed_at: float) -> dict[str, float]:
    targets = len(models) * len(BACKENDS)
    deadline = time.monotonic() + 600
    while True:
        again = query(
            dsn,
            "SELECT platform, pool, model, min(started_at) FROM results"
            " WHERE model = ANY(%s) AND started_at > %s GROUP BY 1, 2, 3",
            models,
            killed_at,
        )
        if len(again) == targets:
            break
        if time.monotonic() > deadline:
            raise SystemExit("the dead replica's targets were never probed again")
        time.sleep(0.2)
    before = {
        (p, q, m): float(t)
        for p, q, m, t in query(
            dsn,
            "SELECT platform, pool, model, max(started_at) FROM results"
            " WHERE model = ANY(%s) AND started_at < %s GROUP BY 1, 2, 3",
            models,
            killed_at,
        )
    }
    leases = query(
        dsn,
        "SELECT max(extract(epoch FROM acquired_at)) FROM shard_leases WHERE shard = ANY(%s)",
        models,
    )
    return {
        "lease_moved_s": round(float(leases[0][0]) - killed_at, 2),
        "probed_again_s": round(max(float(t) for *_, t in again) - killed_at, 2),
        "max_gap_s": round(max(float(t) - before[p, q, m] for p, q, m, t in again), 2),
    }


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-ups on kill
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--cycles", type=int, default=7)
    p.add_argument("--models", type=int, default=9)  # rendezvous gives r2 one of 9
    p.add_argument("--ttl", type=float, default=4.0, help="cluster.lease_ttl_s")
    p.add_argument("--heartbeat", type=float, default=1.0, help="cluster.heartbeat_s")
    p.add_argument("--interval", type=float, default=2.0, help="suite interval, seconds")
    args = p.parse_args()
    cycles: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="canary-takeover-") as tmp,
        running_postgres() as server,
    ):
        workdir = Path(tmp)
        dsn = server.create_database("takeover")
        with fleet(workdir) as sim_port:
            configs = {r: write_config(workdir, sim_port, args, r) for r in REPLICAS}
            procs = {r: start(configs[r], workdir, dsn, r, 0) for r in REPLICAS}
            try:
                since = 0.0
                turn = 0
                for cycle in range(1, args.cycles + 1):
                    held = wait_settled(dsn, args, since)
                    while (victim := REPLICAS[turn % len(REPLICAS)]) not in held.values():
                        turn += 1
                    turn += 1
                    models = sorted(s for s, o in held.items() if o == victim)
                    procs[victim].send_signal(signal.SIGKILL)
                    killed_at = time.time()
                    procs[victim].wait()
                    figures = measure(dsn, models, killed_at)
                    cycles.append({"victim": victim, "models": len(models), **figures})
                    progress(f"cycle {cycle}: {json.dumps(cycles[-1])}")
                    procs[victim] = start(configs[victim], workdir, dsn, victim, cycle)
                    since = time.time()
            finally:
                for proc in procs.values():
                    proc.send_signal(signal.SIGTERM)
                for proc in procs.values():
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
    summary = {
        key: {
            "min": min(c[key] for c in cycles),
            "median": round(statistics.median(c[key] for c in cycles), 2),
            "max": max(c[key] for c in cycles),
        }
        for key in ("lease_moved_s", "probed_again_s", "max_gap_s")
    }
    report = {
        "settings": {
            "replicas": len(REPLICAS),
            "models": args.models,
            "targets": args.models * len(BACKENDS),
            "lease_ttl_s": args.ttl,
            "heartbeat_s": args.heartbeat,
            "interval_s": args.interval,
        },
        "cycles": cycles,
        "summary": summary,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    s = report["settings"]
    print(
        f"{s['replicas']} replicas, {s['targets']} targets, lease_ttl_s {s['lease_ttl_s']:g},"
        f" heartbeat_s {s['heartbeat_s']:g}, interval {s['interval_s']:g} s,"
        f" {len(cycles)} SIGKILLs"
    )
    print(f"{'':<16} {'min':>6} {'median':>7} {'max':>6}")
    for key, row in summary.items():
        print(f"{key:<16} {row['min']:>6} {row['median']:>7} {row['max']:>6}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
