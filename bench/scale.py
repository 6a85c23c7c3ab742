"""Scale-out on PostgreSQL: probes per second per replica and the load on the database, for
1, 2 and 4 replicas over ~10,000 simulated series, and per-probe store write latency of SQLite
and PostgreSQL side by side.

    python bench/scale.py                 # about 5 minutes
    python bench/scale.py --quick         # smoke run (about 2 minutes, 1,200 series)
    python bench/scale.py --json

Run time: for each N, the replicas' start until every lease is held (3-25 s here), one
interval, the measured window and 5 s (30 + 30 + 5 s; --quick 10 + 10 + 5 s), a scrape and
the shutdown; then the write-latency runs (seconds). Timed on the shared 2-core box: 4 min 50 s
in full (with other tests running), 1 min 52 s with --quick.

Processes: a throwaway PostgreSQL (tests/pg.py: Debian's binaries, fsync on), the simulated
fleet (`python -m canary_sim`, two backends) and N `canary run --config` replicas in cluster
mode. A series is (platform, pool, model, suite, detector); the bench suite (the first three
core probes) gives 6 per (target, suite), so 10,000 series are ~1,667 targets over ~834 models.

For each N: a fresh database; start N replicas; wait until every model's lease is held and
every replica holds some; wait one interval (first runs are spread over it); then over
`--measure` seconds count the stored results (by the replica holding their model's lease) and
the statements the database ran (pg_stat_statements). Every probe result is one INSERT, so
coordination = statements - result INSERTs (heartbeats with their lease renewals, state
saves). Also one /metrics scrape of r0 (its size shrinks with N: each replica exports only its
own series). Then, in the same run, 2,000 sequential writes of a realistic result (reply,
checks, evidence) to a SQLite store and to the PostgreSQL store.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from monitor.store import open_store  # noqa: E402
from monitor.types import Check, FinishReason, Outcome, Reply, Result  # noqa: E402
from tests.pg import PgServer, free_port, running_postgres  # noqa: E402

BACKENDS = (
    ("anthropic-api", "default", "anthropic_messages"),
    ("vllm-prod", "default", "openai_chat"),
)
SERIES_PER_JOB = (
    6  # known_answer, unexpected_script, suspicious_format, finish_reason, any, probe_error
)


def progress(message: str) -> None:
    print(f"[scale] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def fleet(workdir: Path) -> Iterator[int]:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "canary_sim",
        "--port",
        str(port),
        "--probes",
        str(REPO / "probes"),
    ]
    for platform, pool, api in BACKENDS:
        argv += ["--backend", f"{platform}/{pool}/{api}"]
    with open(workdir / "sim.log", "wb") as log:
        proc = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).is_success:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("simulated fleet did not come up: see sim.log")
                time.sleep(0.1)
            yield port
        finally:
            proc.terminate()
            proc.wait(10)


def write_config(
    workdir: Path, sim_port: int, *, models: int, interval_s: float, replica: str, port: int
) -> Path:
    core = (REPO / "probes" / "core.yaml").read_text()
    suite = workdir / "bench-suite.yaml"
    suite.write_text(
        core[: core.index("  - name: gold-symbol")].replace("suite: core", "suite: bench")
    )
    targets = "".join(
        f"  - {{platform: {platform}, pool: {pool}, model: m{m:04d}, api: {api},"
        f" base_url: 'http://127.0.0.1:{sim_port}/{platform}/{pool}/'}}\n"
        for m in range(models)
        for platform, pool, api in BACKENDS
    )
    path = workdir / f"{replica}.yaml"
    path.write_text(
        f"server: {{listen_address: 127.0.0.1, port: {port}, drain_timeout_s: 5}}\n"
        "store: {url: '${CANARY_BENCH_STORE_URL}'}\n"
        f"cluster: {{enabled: true, replica_id: {replica}, lease_ttl_s: 15, heartbeat_s: 5}}\n"
        "drift: {adaptive: {enabled: false}}\n"
        "defaults: {timeout_s: 10, concurrency: 2}\n"
        f"targets:\n{targets}"
        f"suites:\n  - {{file: '{suite}', interval_s: {interval_s}}}\n"
    )
    return path


def scrape_size(port: int) -> tuple[float, int]:
    """Seconds and bytes of one /metrics scrape of a replica."""
    t = time.perf_counter()
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=120).content
    return time.perf_counter() - t, len(body)


def owners(dsn: str) -> dict[str, str]:
    """shard -> replica, for the unexpired shard leases (none before the schema exists)."""
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT to_regclass('shard_leases')").fetchone() == (None,):
            return {}
        rows = conn.execute(
            "SELECT shard, owner FROM shard_leases WHERE expires_at > now()"
        ).fetchall()
    return {str(shard): str(owner) for shard, owner in rows}


def probes_by_replica(dsn: str, since: float, until: float) -> dict[str, int]:
    """Results stored with started_at in [since, until), by the replica holding their model."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT l.owner, count(*) FROM results r JOIN shard_leases l ON l.shard = r.model"
            " WHERE r.started_at >= %s AND r.started_at < %s GROUP BY l.owner",
            (since, until),
        ).fetchall()
    return {str(owner): int(n) for owner, n in rows}


def db_counters(dsn: str) -> tuple[int, int]:
    """(statements run, result writes) in the bench database so far, from pg_stat_statements
    (counted when each statement ends, so both ends of the window are exact)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(calls), 0),"
            " coalesce(sum(calls) FILTER (WHERE query LIKE 'INSERT INTO results%%'), 0)"
            " FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database"
            "  WHERE datname = current_database())"
            " AND query NOT LIKE '%%pg_stat_statements%%'"
        ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def run_replicas(
    server: PgServer, workdir: Path, sim_port: int, replicas: int, args: argparse.Namespace
) -> dict[str, Any]:
    dsn = server.create_database("scale")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    ports = {f"r{i}": free_port() for i in range(replicas)}
    env = {**os.environ, "CANARY_BENCH_STORE_URL": dsn, "PYTHONUNBUFFERED": "1"}
    procs = {}
    for replica, port in ports.items():
        config = write_config(
            workdir,
            sim_port,
            models=args.models,
            interval_s=args.interval,
            replica=replica,
            port=port,
        )
        # Closed with the process, below.
        log = open(workdir / f"{replica}-{replicas}.log", "wb")  # noqa: SIM115
        procs[replica] = (
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "monitor.commands.cli",
                    "--log-level",
                    "warning",
                    "run",
                    "--config",
                    str(config),
                ],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            ),
            log,
        )
    try:
        started = time.monotonic()
        while True:
            held = owners(dsn)
            if len(held) == args.models and len(set(held.values())) == replicas:
                break
            if time.monotonic() - started > 600:
                raise SystemExit(f"{replicas} replicas never held every model ({len(held)})")
            time.sleep(1)
        settle_s = time.monotonic() - started
        progress(f"{replicas} replica(s): all {args.models} models held after {settle_s:.0f} s")
        time.sleep(args.interval)  # first runs are spread over one interval
        cpu = {r: psutil.Process(proc.pid) for r, (proc, _) in procs.items()}
        cpu0 = {r: sum(p.cpu_times()[:2]) for r, p in cpu.items()}
        (x0, w0), t0, w_t0 = db_counters(dsn), time.monotonic(), time.time()
        time.sleep(args.measure)
        (x1, w1), t1, w_t1 = db_counters(dsn), time.monotonic(), time.time()
        cores = {r: (sum(p.cpu_times()[:2]) - cpu0[r]) / (t1 - t0) for r, p in cpu.items()}
        elapsed = t1 - t0
        moved = owners(dsn) != held
        time.sleep(5)  # results started in the window and written just after it
        per_replica = {
            r: n / (w_t1 - w_t0) for r, n in sorted(probes_by_replica(dsn, w_t0, w_t1).items())
        }
        scrape_s, scrape_bytes = scrape_size(ports["r0"])
        probes_s = sum(per_replica.values())
        statements_s = (x1 - x0) / elapsed
        writes_s = (w1 - w0) / elapsed  # one statement per stored result
        expected = args.models * len(BACKENDS) * 3 / args.interval
        return {
            "replicas": replicas,
            "series": args.models * len(BACKENDS) * SERIES_PER_JOB,
            "settle_s": round(settle_s, 1),
            "shards_moved_while_measuring": moved,
            "expected_probes_per_s": round(expected, 1),
            "probes_per_s": round(probes_s, 1),
            "probes_per_s_per_replica": {r: round(v, 1) for r, v in per_replica.items()},
            "cpu_cores_per_replica": {r: round(v, 2) for r, v in cores.items()},
            "cpu_ms_per_probe": round(1000 * sum(cores.values()) / max(probes_s, 1e-9), 2),
            "pg_queries_per_s": round(statements_s, 1),
            "result_writes_per_s": round(writes_s, 1),
            "coordination_queries_per_s": round(statements_s - writes_s, 2),
            "coordination_queries_per_s_per_replica": round(
                (statements_s - writes_s) / replicas, 2
            ),
            "metrics_scrape_s_r0": round(scrape_s, 2),
            "metrics_mb_r0": round(scrape_bytes / 1e6, 1),
            "store_write_errors": sum(
                (workdir / f"{r}-{replicas}.log").read_text().count("store.write_failed")
                for r in ports
            ),
        }
    finally:
        for proc, _ in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc, log in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def sample_result() -> Result:
    reply = Reply(
        text="Paris",
        finish_reason=FinishReason.STOP,
        raw_finish_reason="stop",
        model="m0001",
        response_id="chatcmpl-1",
        input_tokens=20,
        output_tokens=2,
        latency_s=0.05,
        headers={"x-request-id": "abc"},
        raw_body='{"choices": [{"message": {"content": "Paris"}}]}' * 4,
    )
    return Result(
        id=uuid.uuid4().hex,
        run_id=uuid.uuid4().hex,
        started_at=time.time(),
        platform="vllm-prod",
        pool="default",
        model="m0001",
        suite="bench",
        suite_version=1,
        probe="capital-france",
        api="openai_chat",
        outcome=Outcome.PASSED,
        latency_s=0.05,
        checks=(
            Check("known_answer", True, 1.0, {"expected": "Paris"}),
            Check("unexpected_script", True, 1.0, {"counts": {}}),
            Check("finish_reason", True, 1.0, {"got": "stop"}),
        ),
        request={"messages": [{"role": "user", "content": "What is the capital of France?"}]},
        reply=reply,
    )


async def write_latency(url: str, writes: int) -> dict[str, float]:
    store = open_store(url)
    try:
        await store.write(sample_result())  # open, migrate
        times = []
        for _ in range(writes):
            result = sample_result()
            t = time.perf_counter()
            await store.write(result)
            times.append(time.perf_counter() - t)
    finally:
        await store.close()
    times.sort()
    return {
        "p50_ms": round(statistics.median(times) * 1000, 3),
        "p99_ms": round(times[int(0.99 * (len(times) - 1))] * 1000, 3),
        "mean_ms": round(statistics.fmean(times) * 1000, 3),
    }


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-ups on kill
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--replicas", default="1,2,4")
    p.add_argument("--series", type=int, default=10_000)
    p.add_argument("--interval", type=float, default=30.0, help="suite interval, seconds")
    p.add_argument("--measure", type=float, default=30.0, help="seconds measured per N")
    p.add_argument("--writes", type=int, default=2000)
    args = p.parse_args()
    if args.quick:
        args.series, args.interval, args.measure, args.writes = 1200, 10.0, 10.0, 300
    args.models = max(1, round(args.series / (SERIES_PER_JOB * len(BACKENDS))))
    report: dict[str, Any] = {"models": args.models, "interval_s": args.interval, "runs": []}
    with (
        tempfile.TemporaryDirectory(prefix="canary-scale-") as tmp,
        running_postgres(
            settings=("shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all")
        ) as server,
    ):
        workdir = Path(tmp)
        with fleet(workdir) as sim_port:
            for n in (int(x) for x in args.replicas.split(",")):
                report["runs"].append(run_replicas(server, workdir, sim_port, n, args))
                progress(json.dumps(report["runs"][-1]))
        progress("store write latency, SQLite vs PostgreSQL")
        sqlite = asyncio.run(write_latency(f"sqlite:///{workdir / 'lat.db'}", args.writes))
        postgres = asyncio.run(write_latency(server.create_database("lat"), args.writes))
        report["write_latency"] = {
            "sqlite": sqlite,
            "postgres": postgres,
            "ratio_p50": round(postgres["p50_ms"] / sqlite["p50_ms"], 2),
            "ratio_p99": round(postgres["p99_ms"] / sqlite["p99_ms"], 2),
        }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['models']} models, suite interval {args.interval:g} s")
    header = ("N", "series", "probes/s", "per replica", "cores each", "pg q/s", "coord q/s")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (2, 7, 9, 24, 20, 7, 10), strict=True)))
    for run in report["runs"]:
        per = " ".join(f"{v:g}" for v in run["probes_per_s_per_replica"].values())
        cores = " ".join(f"{v:g}" for v in run["cpu_cores_per_replica"].values())
        print(
            f"{run['replicas']:>2} {run['series']:>7} {run['probes_per_s']:>9} {per:>24}"
            f" {cores:>20} {run['pg_queries_per_s']:>7} {run['coordination_queries_per_s']:>10}"
        )
    lat = report["write_latency"]
    print("store write latency (ms)    p50      p99     mean")
    for name in ("sqlite", "postgres"):
        row = lat[name]
        print(f"  {name:<24} {row['p50_ms']:>6} {row['p99_ms']:>8} {row['mean_ms']:>8}")
    print(f"  postgres / sqlite          {lat['ratio_p50']:>6} {lat['ratio_p99']:>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
