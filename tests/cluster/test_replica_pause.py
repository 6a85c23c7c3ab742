"""Three `canary run` replicas on a PostgreSQL server of this module's own, against the
simulated fleet answering in 1 s: one replica is paused (SIGSTOP) with requests in flight until
its leases have moved, then resumed; then the server is restarted (issue 25).

Judged from the database and the replicas' /metrics and logs: (a) no result row is written by a
replica that did not hold the model's lease when it wrote it (the paused replica's late runs are
counted in `canary_results_fenced_total` instead); (b) once each hand-over is done, every
(platform, pool, model) is exported by exactly one replica, the lease holder; (c) every result a
replica acknowledged (counted in `canary_probe_runs_total`, logged as `probe.finished`) is
stored, across the pause and the restart.

Who wrote a row: each replica connects as a role of its own name, and a trigger the test adds
to `results` records with each row the role that inserted it and the lease owner the INSERT saw.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from canary_sim import AnswerBook, Fault, SimBackend, SimFleet, run_fleet
from monitor.shard import assign
from monitor.store.pg_schema import apply_migrations
from tests.cluster.test_three_replicas import held, mini_suite, scrape, value
from tests.conftest import PROBES
from tests.pg import PgServer, free_port

PLATFORM = "vllm-prod"
MODELS = tuple(f"m{i}" for i in range(6))
# One pool per model, so the simulator's request counts tell what is in flight for a model.
BACKENDS = {m: SimBackend(PLATFORM, f"pool-{m}", "openai_chat") for m in MODELS}
REPLICAS = ("r0", "r1", "r2")
REPLY_S = 1.0
INTERVAL_S = 2.0
TTL_S = 4.0
HEARTBEAT_S = 1.0
OUTAGE_S = 1.5  # the server is down this long (plus its stop and start), well under 30 s
# The trigger runs in the INSERT's snapshot (STABLE), so it sees the lease the fence saw.
AUDIT = (
    "ALTER TABLE results ADD COLUMN written_by text NOT NULL DEFAULT current_user,"
    " ADD COLUMN lease_owner text, ADD COLUMN lease_epoch bigint",
    """CREATE FUNCTION audit_lease() RETURNS trigger LANGUAGE plpgsql STABLE AS $$
    BEGIN
        SELECT owner, epoch INTO NEW.lease_owner, NEW.lease_epoch
            FROM shard_leases WHERE shard = NEW.model;
        RETURN NEW;
    END $$""",
    "CREATE TRIGGER results_audit BEFORE INSERT ON results"
    " FOR EACH ROW EXECUTE FUNCTION audit_lease()",
)

pytestmark = pytest.mark.slow

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
async def fleet() -> AsyncIterator[SimFleet]:
    async with run_fleet(BACKENDS.values(), AnswerBook.from_probe_dir(PROBES), seed=25) as running:
        for backend in BACKENDS.values():
            running.set_fault(backend.platform, backend.pool, Fault("latency", delay_s=REPLY_S))
        yield running


def requests(fleet: SimFleet, model: str) -> tuple[int, int]:
    """(requests received, requests in flight) for `model` (every request waits REPLY_S)."""
    pool = BACKENDS[model].pool
    received = fleet.faults.requests[(PLATFORM, pool)]
    return received, received - fleet.affected(PLATFORM, pool, "latency")


def execute(dsn: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


async def prepare_database(server: PgServer) -> tuple[str, dict[str, str]]:
    """A migrated database with the audit trigger, and a role (and DSN) per replica."""
    dsn = server.create_database("pause")
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await apply_migrations(conn)
        for statement in AUDIT:
            await conn.execute(statement)
    password = secrets.token_hex(12)
    dbname = dsn.rsplit("/", 1)[1]
    with psycopg.connect(dsn, autocommit=True) as conn:
        for role in REPLICAS:
            ident = sql.Identifier(role)
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(ident, sql.Literal(password))
            )
            conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(ident))
            conn.execute(sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA public TO {}").format(ident))
    return dsn, {
        r: f"postgresql://{r}:{password}@{server.host}:{server.port}/{dbname}" for r in REPLICAS
    }


def write_config(tmp_path: Path, fleet: SimFleet, replica: str, port: int) -> Path:
    targets = "".join(
        f"  - {{platform: {b.platform}, pool: {b.pool}, model: {m}, api: {b.api},"
        f" base_url: '{fleet.base_url(b.platform, b.pool)}'}}\n"
        for m, b in BACKENDS.items()
    )
    path = tmp_path / f"{replica}.yaml"
    path.write_text(
        f"server: {{listen_address: 127.0.0.1, port: {port}, drain_timeout_s: 5}}\n"
        "store: {url: '${CANARY_TEST_STORE_URL}'}\n"
        f"cluster: {{enabled: true, replica_id: {replica}, lease_ttl_s: {TTL_S},"
        f" heartbeat_s: {HEARTBEAT_S}}}\n"
        "defaults: {timeout_s: 5}\n"
        f"targets:\n{targets}"
        f"suites:\n  - {{file: '{mini_suite(tmp_path)}', interval_s: {INTERVAL_S}}}\n"
    )
    return path


def exporters(samples: dict[str, Samples]) -> dict[tuple[str, str, str], set[str]]:
    """(platform, pool, model) -> the replicas exporting any series of it."""
    found: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for replica, replica_samples in samples.items():
        for _, labels in replica_samples:
            d = dict(labels)
            if "model" in d:
                found[d["platform"], d["pool"], d["model"]].add(replica)
    return found


async def one_exporter_each(ports: dict[str, int]) -> dict[str, str]:
    """Poll until every model is held by one replica and each target's series are exported by
    that replica alone, unchanged for two heartbeats; returns model -> replica. Fails with
    what it saw last if that does not happen within 60 s."""
    targets = {(b.platform, b.pool, m): m for m, b in BACKENDS.items()}
    last: dict[str, str] | None = None
    since = 0.0
    seen = "nothing scraped yet"
    try:
        async with asyncio.timeout(60):
            while True:
                samples = {r: await scrape(p) for r, p in ports.items()}
                holders: dict[str, list[str]] = defaultdict(list)
                for replica, replica_samples in samples.items():
                    for model in held(replica_samples):
                        holders[model].append(replica)
                owners = {m: rs[0] for m, rs in holders.items() if len(rs) == 1}
                found = exporters(samples)
                wrong = {
                    key: sorted(found.get(key, ()))
                    for key, model in targets.items()
                    if found.get(key, set()) != {owners.get(model, "?")}
                }
                seen = f"holders {dict(holders)}, targets exported wrongly {wrong}"
                if set(owners) == set(MODELS) and not wrong and set(found) == set(targets):
                    if owners != last:
                        last, since = owners, time.monotonic()
                    elif time.monotonic() - since >= 2 * HEARTBEAT_S:
                        return owners
                else:
                    last = None
                await asyncio.sleep(0.2)
    except TimeoutError:
        pytest.fail(f"the hand-over never settled: {seen}")


def logged(path: Path, event: str) -> list[dict[str, Any]]:
    lines = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == event:
            lines.append(record)
    return lines


@dataclass(frozen=True)
class Cluster:
    tmp_path: Path
    ports: dict[str, int]
    procs: dict[str, asyncio.subprocess.Process]
    fleet: SimFleet
    server: PgServer
    dsn: str


async def test_a_paused_replica_and_a_database_restart(
    tmp_path: Path, fleet: SimFleet, own_pg: PgServer
) -> None:
    """A replica paused past its leases with requests in flight writes none of their results
    once resumed (fenced and counted), each target ends up exported by its lease holder alone,
    and neither the pause nor a restart of the server loses an acknowledged result."""
    dsn, role_dsns = await prepare_database(own_pg)
    ports = {r: free_port() for r in REPLICAS}
    procs: dict[str, asyncio.subprocess.Process] = {}
    logs = {r: (tmp_path / f"{r}.log").open("wb") for r in REPLICAS}
    for replica, port in ports.items():
        procs[replica] = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "monitor.commands.cli",
            "--log-level",
            "info",
            "--log-format",
            "json",
            "run",
            "--config",
            str(write_config(tmp_path, fleet, replica, port)),
            stdout=logs[replica],
            stderr=asyncio.subprocess.STDOUT,
            env={
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                "CANARY_TEST_STORE_URL": role_dsns[replica],
            },
        )
    try:
        cluster = Cluster(tmp_path, ports, procs, fleet, own_pg, dsn)
        owners = await one_exporter_each(ports)
        assert owners == assign(MODELS, list(REPLICAS))
        victim, fenced = await pause_one(cluster, owners)
        retries = await restart_server(cluster, set(owners.values()))
        await nothing_lost(cluster, victim, fenced, retries)
    except BaseException:
        for replica in REPLICAS:  # how the shards moved, for the failure report
            for line in (tmp_path / f"{replica}.log").read_text().splitlines():
                if '"shard.' in line or '"probe.fenced' in line or "store." in line:
                    print(replica, line)
        raise
    finally:
        for log in logs.values():
            log.close()
        for proc in procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            await asyncio.wait_for(proc.wait(), 30)


async def pause_one(cluster: Cluster, owners: dict[str, str]) -> tuple[str, float]:
    """Steps 1-3; returns the paused replica and its canary_results_fenced_total."""
    fleet, dsn, ports, procs = cluster.fleet, cluster.dsn, cluster.ports, cluster.procs
    # 1. Pause the replica holding most models just after it sent a request: the reply comes
    # back while it is stopped.
    victim = max(REPLICAS, key=lambda r: (sum(o == r for o in owners.values()), r))
    models = sorted(m for m, r in owners.items() if r == victim)
    before = {m: requests(fleet, m)[0] for m in models}
    async with asyncio.timeout(30):
        while True:
            await asyncio.sleep(0.02)
            now = {m: requests(fleet, m) for m in models}
            if any(now[m][0] > before[m] and now[m][1] > 0 for m in models):
                break
            before = {m: now[m][0] for m in models}
    procs[victim].send_signal(signal.SIGSTOP)
    paused_at = time.time()
    in_flight = sum(requests(fleet, m)[1] for m in models)
    assert in_flight > 0

    # 2. While it is stopped its leases move, and the new owners probe its models.
    async with asyncio.timeout(TTL_S + HEARTBEAT_S + 30):
        while True:
            rows = execute(
                dsn,
                "SELECT shard, owner, extract(epoch FROM acquired_at) FROM shard_leases"
                " WHERE shard = ANY(%s) AND expires_at > now()",
                models,
            )
            if len(rows) == len(models) and victim not in {owner for _, owner, _ in rows}:
                break
            await asyncio.sleep(0.2)
    moved_s = max(float(at) for _, _, at in rows) - paused_at
    async with asyncio.timeout(30):
        while True:
            probed = execute(
                dsn,
                "SELECT DISTINCT model FROM results WHERE model = ANY(%s)"
                " AND written_by <> %s AND started_at > %s",
                models,
                victim,
                paused_at,
            )
            if len(probed) == len(models):
                break
            await asyncio.sleep(0.2)
    probed_s = time.time() - paused_at
    procs[victim].send_signal(signal.SIGCONT)
    print(f"{victim} paused with {in_flight} requests in flight: leases moved {moved_s:.1f} s,")
    print(f"its models probed by the others {probed_s:.1f} s after the pause")

    # 3. Once it has resumed and the models have come back to it: (b) one exporter each,
    # (a) no row written by a replica that did not hold the lease, its late runs fenced.
    assert await one_exporter_each(ports) == owners
    stale = execute(
        dsn,
        "SELECT written_by, lease_owner, model, count(*) FROM results"
        " WHERE lease_owner IS DISTINCT FROM written_by GROUP BY 1, 2, 3",
    )
    assert stale == []
    fenced = value(await scrape(ports[victim]), "canary_results_fenced_total")
    assert fenced is not None and fenced >= 1, fenced
    return victim, fenced


async def restart_server(cluster: Cluster, writers: set[str]) -> float:
    """Step 4: `writers`, the replicas holding models, all write again afterwards. Returns
    canary_store_write_retries_total over the replicas before the restart."""
    dsn, ports, server = cluster.dsn, cluster.ports, cluster.server

    # 4. Restart the server while results are being written.
    retries_before = await total(ports, "canary_store_write_retries_total")
    await asyncio.to_thread(server.stop)
    try:
        await asyncio.sleep(OUTAGE_S)
    finally:
        await asyncio.to_thread(server.start)
    restarted_at = time.time()
    async with asyncio.timeout(30):
        while True:
            rows = execute(
                dsn, "SELECT DISTINCT written_by FROM results WHERE started_at > %s", restarted_at
            )
            if {w for (w,) in rows} >= writers:
                break
            await asyncio.sleep(0.2)
    await one_exporter_each(ports)
    return retries_before


async def nothing_lost(cluster: Cluster, victim: str, fenced: float, retries: float) -> None:
    """Step 5; `retries`: canary_store_write_retries_total before the restart."""
    dsn, ports, procs, tmp_path = cluster.dsn, cluster.ports, cluster.procs, cluster.tmp_path

    # 5. (c) Every acknowledged result is stored: what each replica's counters count (they
    # count a result once its write returned; a series removed at a hand-over restarts at 0,
    # so they are a lower bound), then every `probe.finished` in its log, by run and probe.
    samples = {r: await scrape(p) for r, p in ports.items()}
    retried = sum(value(s, "canary_store_write_retries_total") or 0.0 for s in samples.values())
    stored = Counter(
        {
            (w, pl, pool, m): n
            for w, pl, pool, m, n in execute(
                dsn,
                "SELECT written_by, platform, pool, model, count(*) FROM results GROUP BY 1, 2, 3, 4",
            )
        }
    )
    for replica, replica_samples in samples.items():
        acknowledged: Counter[tuple[str, str, str, str]] = Counter()
        for (name, labels), count in replica_samples.items():
            if name == "canary_probe_runs_total":
                d = dict(labels)
                acknowledged[replica, d["platform"], d["pool"], d["model"]] += int(count)
        for key, count in acknowledged.items():
            assert stored[key] >= count, (key, stored[key], count)
    for proc in procs.values():
        proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    rows = {tuple(r) for r in execute(dsn, "SELECT written_by, run_id, probe FROM results")}
    for replica in REPLICAS:
        log = tmp_path / f"{replica}.log"
        finished = {(replica, e["run_id"], e["probe"]) for e in logged(log, "probe.finished")}
        assert finished, replica
        assert not finished - rows, (replica, len(finished - rows), len(finished))
        write_errors = value(samples[replica], "canary_store_errors_total", operation="write")
        assert write_errors == 0, (replica, write_errors)
    assert len(logged(tmp_path / f"{victim}.log", "probe.fenced")) >= fenced
    assert retried > retries  # the restart was felt: writes met dead connections or none


async def total(ports: dict[str, int], name: str) -> float:
    """A counter without labels, summed over the replicas."""
    return sum([value(await scrape(p), name) or 0.0 for p in ports.values()])
