"""Scale-out on PostgreSQL: probes per second per replica and the load on the database, for
1, 2 and 4 replicas over ~10,000 simulated series, and per-probe store write latency of SQLite
and PostgreSQL side by side.

    python bench/scale.py                 # about 5 minutes
    python bench/scale.py --quick         # smoke run (about 1.5 minutes, 1,200 series)
    python bench/scale.py --json

Processes: a throwaway PostgreSQL (tests/pg.py: Debian's binaries, fsync on), the simulated
fleet (`python -m monitor.sim`, two backends) and N `canary run --config` replicas in cluster
mode. A series is (platform, pool, model, suite, detector); the bench suite (the first three
core probes) gives 6 per (target, suite), so 10,000 series are ~1,667 targets over ~834 models.

For each N: a fresh database; start N replicas; wait until every model is held; wait one
interval (first runs are spread over it); then over `--measure` seconds read each replica's
`canary_probe_runs_total` and the statements the database ran. Every probe result is one
INSERT, so coordination = statements - result INSERTs (heartbeats with their lease
renewals, state saves), counted by pg_stat_statements. Then, in the same run, 2,000
sequential writes of a realistic result (reply, checks, evidence) to a SQLite store and to
the PostgreSQL store.
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
import psycopg
from prometheus_client.parser import text_string_to_metric_families

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
        "monitor.sim",
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


def scrape(port: int) -> dict[str, float]:
    """Sums per metric name of the samples we read."""
    wanted = {"canary_probe_runs_total", "canary_shards_held", "canary_drift_arl0_target_seconds"}
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    except httpx.HTTPError:
        return {}
    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in wanted:
                key = sample.name if sample.name != "canary_drift_arl0_target_seconds" else "series"
                sums[key] = sums.get(key, 0.0) + (1 if key == "series" else sample.value)
    return sums


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
        log = open(workdir / f"{replica}-{replicas}.log", "wb")  # noqa: SIM115 (closed with the process)
        procs[replica] = (
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "monitor.cli",
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
            held = sum(scrape(p).get("canary_shards_held", 0) for p in ports.values())
            if held == args.models:
                break
            if time.monotonic() - started > 300:
                raise SystemExit(f"{replicas} replicas never held every model (held {held})")
            time.sleep(1)
        settle_s = time.monotonic() - started
        progress(f"{replicas} replica(s): all {args.models} models held after {settle_s:.0f} s")
        time.sleep(args.interval)  # first runs are spread over one interval
        before = {r: scrape(p) for r, p in ports.items()}
        (x0, w0), t0 = db_counters(dsn), time.monotonic()
        time.sleep(args.measure)
        after = {r: scrape(p) for r, p in ports.items()}
        (x1, w1), t1 = db_counters(dsn), time.monotonic()
        elapsed = t1 - t0
        per_replica = {
            r: (
                after[r].get("canary_probe_runs_total", 0)
                - before[r].get("canary_probe_runs_total", 0)
            )
            / elapsed
            for r in ports
        }
        probes_s = sum(per_replica.values())
        statements_s = (x1 - x0) / elapsed
        writes_s = (w1 - w0) / elapsed  # one statement per stored result
        expected = args.models * len(BACKENDS) * 3 / args.interval
        return {
            "replicas": replicas,
            "series": int(sum(a.get("series", 0) for a in after.values())),
            "settle_s": round(settle_s, 1),
            "expected_probes_per_s": round(expected, 1),
            "probes_per_s": round(probes_s, 1),
            "probes_per_s_per_replica": {r: round(v, 1) for r, v in per_replica.items()},
            "pg_queries_per_s": round(statements_s, 1),
            "result_writes_per_s": round(writes_s, 1),
            "coordination_queries_per_s": round(statements_s - writes_s, 2),
            "coordination_queries_per_s_per_replica": round(
                (statements_s - writes_s) / replicas, 2
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
    header = ("N", "series", "probes/s", "per replica", "pg queries/s", "coord q/s")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (2, 7, 9, 24, 10, 13), strict=True)))
    for run in report["runs"]:
        per = " ".join(f"{v:g}" for v in run["probes_per_s_per_replica"].values())
        print(
            f"{run['replicas']:>2} {run['series']:>7} {run['probes_per_s']:>9} {per:>24}"
            f" {run['pg_queries_per_s']:>10} {run['coordination_queries_per_s']:>13}"
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
