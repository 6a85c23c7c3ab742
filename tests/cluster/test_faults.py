"""Cluster mode under faults, on a PostgreSQL server of this module's own (so it can be
restarted and stopped): no acknowledged result lost across a restart or a short outage, every
result write fenced by its run's lease, `may_probe` never yes for a shard a round lost, a shard
released only once its runs have ended, and leases taken back in proportion after an outage
(issue 25)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from canary_sim import Fault, SimFleet
from monitor.config import ClusterConfig
from monitor.daemon import Daemon
from monitor.drift import DriftEngine
from monitor.metrics import Metrics
from monitor.runner import Runner
from monitor.shard import Coordinator, assign
from monitor.shard.role import ShardRole
from monitor.store import StoreError, current_fence
from monitor.store.postgres import COORDINATION_WAIT_S, PostgresStore
from tests.conftest import BACKENDS, PROBES
from tests.pg import PgServer
from tests.store.test_sqlite import make_result

MODELS = [f"m{i}" for i in range(12)]
OWNERS = assign(MODELS, ["a", "b"])
B_SHARD = min(m for m, r in OWNERS.items() if r == "b")


@pytest.fixture
def dsn(own_pg: PgServer) -> str:
    return own_pg.create_database()


@pytest.fixture
async def store(dsn: str) -> AsyncIterator[PostgresStore]:
    s = PostgresStore(
        dsn, retention_passed_days=7, retention_failed_days=90, pool_size=4, write_deadline_s=20
    )
    yield s
    await s.close()


def coordinator(store: PostgresStore, me: str, ttl_s: float = 60.0) -> Coordinator:
    async def noop(held: frozenset[str]) -> None:
        del held

    return Coordinator(store, me, cluster(ttl_s), lambda: set(MODELS), noop)


def cluster(ttl_s: float) -> ClusterConfig:
    return ClusterConfig(enabled=True, lease_ttl_s=ttl_s, heartbeat_s=ttl_s / 4)


def execute(dsn: str, sql: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


async def test_a_server_restart_loses_no_write(store: PostgresStore, own_pg: PgServer) -> None:
    """After a restart every pooled connection is dead; each write meets one, is retried on a
    fresh connection, and is stored: none of the next pool_size + 1 writes is lost."""
    retries: list[int] = []
    store.on_write_retry = lambda: retries.append(1)
    async with contextlib.AsyncExitStack() as stack:  # open all four pooled connections
        for _ in range(4):
            await stack.enter_async_context(store.connection())
    await store.write(make_result())
    await asyncio.to_thread(own_pg.stop)
    await asyncio.to_thread(own_pg.start)
    results = [make_result() for _ in range(5)]
    for result in results:
        await store.write(result)
    assert all([await store.get(r.id) is not None for r in results])
    assert await store.count() == 6
    assert retries  # the dead connections were met, and retried


async def test_an_outage_within_the_deadline_loses_no_write(
    store: PostgresStore, own_pg: PgServer
) -> None:
    """A write issued while the server is down waits and lands once it is back; past
    `write_deadline_s` it fails (and the daemon counts it) instead of waiting forever."""
    await store.write(make_result())
    result = make_result()
    await asyncio.to_thread(own_pg.stop)
    try:
        pending = asyncio.ensure_future(store.write(result))
        await asyncio.sleep(1.5)  # the outage
        assert not pending.done()
    finally:
        await asyncio.to_thread(own_pg.start)
    await asyncio.wait_for(pending, 20)
    assert await store.get(result.id) is not None

    store.write_deadline_s = 0.5
    await asyncio.to_thread(own_pg.stop)
    try:
        with pytest.raises(StoreError):
            await store.write(make_result())
    finally:
        await asyncio.to_thread(own_pg.start)


async def test_a_stale_run_is_fenced_dropped_and_counted(store: PostgresStore, dsn: str) -> None:
    """A run that started under a's lease finishes after b took the shard (a was paused past
    its lease): its result is not stored, not counted in the series' metrics and not fed to
    drift, only to canary_results_fenced_total; the same holds after a takes the shard back
    (the epoch is the token, not the owner's name)."""
    a, b = coordinator(store, "a"), coordinator(store, "b")
    await a.step()
    fence = a.fence(B_SHARD)
    assert fence is not None
    execute(dsn, "UPDATE shard_leases SET expires_at = now() WHERE owner = 'a'")  # a paused
    await b.step()
    assert B_SHARD in b.held
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    runner = Runner(metrics=metrics, store=store, drift=DriftEngine(), clients=lambda _t: None)  # type: ignore[arg-type,return-value]
    stale = make_result(model=B_SHARD)
    token = current_fence.set(fence)
    try:
        assert await runner.record(stale) is False
    finally:
        current_fence.reset(token)
    assert await store.get(stale.id) is None
    assert registry.get_sample_value("canary_results_fenced_total") == 1
    labels = {"platform": "anthropic-api", "pool": "default", "model": B_SHARD, "suite": "smoke"}
    assert (
        registry.get_sample_value("canary_probe_runs_total", {**labels, "outcome": "passed"})
        is None
    )

    fresh = make_result(model=B_SHARD)
    token = current_fence.set(b.fence(B_SHARD))
    try:
        await store.write(fresh)  # the owner's own run is stored
    finally:
        current_fence.reset(token)
    assert await store.get(fresh.id) is not None

    await b.leave()  # b hands the shard back; a takes it with a new epoch
    await a.step()
    assert a.fence(B_SHARD) is not None and a.fence(B_SHARD) != fence
    token = current_fence.set(fence)
    try:
        assert await runner.record(make_result(model=B_SHARD)) is False
    finally:
        current_fence.reset(token)
    assert registry.get_sample_value("canary_results_fenced_total") == 2


async def test_may_probe_is_no_for_a_lost_shard_during_the_hand_over(
    store: PostgresStore, dsn: str
) -> None:
    """While the round that found a shard lost still awaits the daemon (saving state), the
    coordinator already says no for it (and gives no fencing token), and yes for the rest."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def on_change(held: frozenset[str]) -> None:
        del held
        entered.set()
        await release.wait()

    a = Coordinator(store, "a", cluster(60.0), lambda: set(MODELS), on_change)
    release.set()
    await a.step()
    assert a.may_probe("m0")
    release.clear()
    entered.clear()
    execute(  # taken by b while a was away
        dsn,
        "UPDATE shard_leases SET owner = 'b', epoch = epoch + 1,"
        " expires_at = now() + interval '60 seconds' WHERE shard = 'm0'",
    )
    step = asyncio.ensure_future(a.step())
    await asyncio.wait_for(entered.wait(), 10)
    assert not a.may_probe("m0")
    assert a.fence("m0") is None
    assert a.may_probe("m1")
    release.set()
    await step
    assert "m0" not in a.held


async def test_a_shard_is_released_only_after_its_runs_end(store: PostgresStore, dsn: str) -> None:
    """When b joins, a gives up b's shards: a run of one still in flight past the grace is
    cancelled, and only then is the lease released (the run's last act sees it still a's),
    so two replicas' requests never overlap; the cancellation is counted."""
    registry = CollectorRegistry()
    role = ShardRole(
        store,
        cluster(60.0).model_copy(update={"replica_id": "a"}),
        Metrics(registry),
        shards=lambda: set(MODELS),
        engine=lambda: None,
        reapply=lambda: None,
    )
    role.handover_grace_s = 0.1
    await role.coordinator.step()
    assert B_SHARD in role.held
    started = asyncio.Event()
    seen: list[tuple[object, ...]] = []

    async def probe_run() -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # a probe that would outlast the hand-over
        finally:
            seen.extend(
                await asyncio.to_thread(
                    execute,
                    dsn,
                    "SELECT owner, expires_at > now() FROM shard_leases WHERE shard = %s",
                    B_SHARD,
                )
            )

    run = asyncio.ensure_future(role.run(B_SHARD, probe_run))
    await asyncio.wait_for(started.wait(), 10)
    b = coordinator(store, "b")
    await b.step()  # joins; a still holds the lease
    assert B_SHARD not in b.held
    await role.coordinator.step()  # a gives b's shards up
    assert run.done() and seen == [("a", True)]
    assert execute(
        dsn, "SELECT expires_at > now() FROM shard_leases WHERE shard = %s", B_SHARD
    ) == [(False,)]
    assert registry.get_sample_value("canary_shard_runs_cancelled_total") == 1
    await b.step()
    assert B_SHARD in b.held


async def test_after_an_outage_leases_are_taken_back_in_proportion(
    store: PostgresStore, own_pg: PgServer
) -> None:
    """Both replicas are cut off longer than the lease; the first one back takes its own
    shards only (the other is presumed live for one lease period), not every expired lease,
    and reconnects at once rather than after the pool's back-off."""
    ttl_s = 2.0
    a, b = coordinator(store, "a", ttl_s), coordinator(store, "b", ttl_s)
    for _ in range(2):
        await a.step()
        await b.step()
    share_a, share_b = set(a.held), set(b.held)
    assert share_a and share_b and share_a | share_b == set(MODELS)
    await asyncio.to_thread(own_pg.stop)
    try:
        for replica in (a, b):
            with pytest.raises(StoreError):
                await replica.step()
        await asyncio.sleep(ttl_s + 0.5)  # the outage outlasts every lease
    finally:
        await asyncio.to_thread(own_pg.start)
    started = time.monotonic()
    await a.step()
    rejoin_s = time.monotonic() - started
    assert a.held == share_a
    assert rejoin_s < COORDINATION_WAIT_S + 1.0, rejoin_s
    await b.step()
    assert b.held == share_b


def daemon_config(tmp_path: Path, fleet: SimFleet, dsn: str, replica: str) -> Path:
    targets = "".join(
        f"  - {{platform: {b.platform}, pool: {b.pool}, model: {m}, api: {b.api},"
        f" base_url: '{fleet.base_url(b.platform, b.pool)}'}}\n"
        for b in BACKENDS
        for m in MODELS[:6]
    )
    path = tmp_path / f"{replica}.yaml"
    path.write_text(
        "server: {listen_address: 127.0.0.1, port: 0, drain_timeout_s: 5}\n"
        f"store: {{url: '{dsn}'}}\n"
        f"cluster: {{enabled: true, replica_id: {replica}, lease_ttl_s: 4, heartbeat_s: 0.5}}\n"
        "defaults: {timeout_s: 10}\n"
        f"targets:\n{targets}"
        f"suites:\n  - {{file: '{PROBES / 'core.yaml'}', interval_s: 1}}\n"
    )
    return path


def models_exported(registry: CollectorRegistry) -> set[str]:
    return {
        sample.labels["model"]
        for family in registry.collect()
        for sample in family.samples
        if "model" in sample.labels
    }


async def test_a_replica_exports_only_its_shards_after_a_hand_over(
    tmp_path: Path, fleet: SimFleet, dsn: str
) -> None:
    """Replies take 2 s, so runs are in flight when b joins and a hands half its models
    over: from the moment the hand-over is done, a exports no series of b's models (no run
    finishing late re-creates one), and b's requests never overlap a's on one model."""
    delay_s = 2.0
    for backend in BACKENDS:
        fleet.set_fault(backend.platform, backend.pool, Fault("latency", delay_s=delay_s))
    a = Daemon(daemon_config(tmp_path, fleet, dsn, "a"))
    b = Daemon(daemon_config(tmp_path, fleet, dsn, "b"))
    await a.start(serve=False)
    try:
        role = a.shard_role
        assert role is not None
        share_b = {m for m in MODELS[:6] if assign(MODELS[:6], ["a", "b"])[m] == "b"}
        async with asyncio.timeout(30):  # a holds everything and probes b's share too
            while not (role.held == set(MODELS[:6]) and share_b & set(role._runs)):
                await asyncio.sleep(0.02)
        await b.start(serve=False)
        async with asyncio.timeout(30):
            while role.held & share_b:
                await asyncio.sleep(0.01)
        handed_over = time.monotonic()
        while time.monotonic() - handed_over < 1.5 * delay_s:  # every late run would be done
            assert not models_exported(a.registry) & share_b
            await asyncio.sleep(0.02)
    finally:
        await b.stop()
        await a.stop()
