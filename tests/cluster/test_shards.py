"""Sharding pieces against a real PostgreSQL: rendezvous hashing, leases and their expiry by the
database's clock, fenced state saves, and two daemons splitting the models between them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from canary_sim import SimFleet
from monitor.config import ClusterConfig
from monitor.daemon import Daemon
from monitor.drift import DriftEngine, SeriesPlan
from monitor.runner import DriftEvent
from monitor.shard import Coordinator, assign, owner
from monitor.shard import state as shard_state
from monitor.store.leases import ReplicaIdConflict
from monitor.store.postgres import PostgresStore
from tests.conftest import BACKENDS, PROBES

MODELS = [f"m{i}" for i in range(12)]


def test_rendezvous_moves_only_the_dead_members_shards() -> None:
    """Removing a member moves exactly its shards; adding one takes shards only to itself."""
    shards = [f"model-{i}" for i in range(400)]
    three = assign(shards, ["a", "b", "c"])
    two = assign(shards, ["a", "b"])
    assert {s for s in shards if three[s] != two[s]} == {s for s in shards if three[s] == "c"}
    four = assign(shards, ["a", "b", "c", "d"])
    assert all(four[s] in (three[s], "d") for s in shards)
    counts = [list(three.values()).count(m) for m in "abc"]
    assert min(counts) > 100  # roughly even: 400/3 each
    assert owner("x", []) is None and assign(shards, []) == {}


@pytest.fixture
async def store(pg_dsn: str) -> AsyncIterator[PostgresStore]:
    s = PostgresStore(pg_dsn, retention_passed_days=7, retention_failed_days=90)
    yield s
    await s.close()


def coordinator(store: PostgresStore, me: str, ttl_s: float = 60.0) -> Coordinator:
    async def noop(held: frozenset[str]) -> None:
        del held

    config = ClusterConfig(enabled=True, lease_ttl_s=ttl_s, heartbeat_s=ttl_s / 4)
    return Coordinator(store, me, config, lambda: set(MODELS), noop)


async def test_two_replicas_split_every_shard_once(store: PostgresStore) -> None:
    """After both have heartbeated twice, each shard is held by exactly one replica, the one
    rendezvous hashing names; the first replica alone first takes everything, then hands over."""
    a, b = coordinator(store, "a"), coordinator(store, "b")
    await a.step()
    assert a.held == set(MODELS)
    await b.step()  # b sees two members but a still holds the leases
    assert b.held == set()
    await a.step()  # a gives up b's shards and releases them
    await b.step()  # b takes them
    owners = assign(MODELS, ["a", "b"])
    assert a.held == {s for s in MODELS if owners[s] == "a"}
    assert b.held == {s for s in MODELS if owners[s] == "b"}
    assert a.held.isdisjoint(b.held)


async def test_dead_replicas_leases_expire_by_the_database_clock(store: PostgresStore) -> None:
    """A replica that stops renewing keeps its shards until its leases expire (DB clock), then
    the survivor takes them in one round."""
    a, b = coordinator(store, "a", ttl_s=1.0), coordinator(store, "b", ttl_s=1.0)
    for _ in range(2):
        await a.step()
        await b.step()
    assert a.held and b.held
    lost = set(b.held)
    await a.step()
    assert a.held.isdisjoint(lost)  # b's leases are live: a must not take them
    async with asyncio.timeout(10):
        while not lost <= a.held:  # b is "dead": it never steps again
            await asyncio.sleep(0.1)
            await a.step()
    assert a.held == set(MODELS)
    assert not b.may_probe(next(iter(lost)))  # b's own deadline has passed too


async def test_two_processes_with_one_replica_id_do_not_share_leases(
    store: PostgresStore,
) -> None:
    """A second process heartbeating under a live replica's id is refused (and takes no
    shard); after the first leaves, it may take the id over."""
    first, second = coordinator(store, "same"), coordinator(store, "same")
    await first.step()
    assert first.held == set(MODELS)
    with pytest.raises(ReplicaIdConflict, match="'same' is held by another live process"):
        await second.step()
    assert second.held == set()
    await second.leave()  # must not drop the first one's membership or leases
    await first.step()
    assert first.held == set(MODELS)
    await first.stop()
    await first.leave()
    await second.step()
    assert second.held == set(MODELS)


async def test_fenced_save_refuses_a_shard_not_held(store: PostgresStore) -> None:
    """State is saved only under the shard's lease: a replica that lost it cannot overwrite the
    new owner's state."""
    a = coordinator(store, "a")
    await a.step()
    documents = {"m0": {"format": 2, "series": {}}, "m1": {"format": 2, "series": {}}}
    assert await shard_state.save(store, "a", documents) == []
    assert await shard_state.save(store, "zombie", documents) == ["m0", "m1"]
    assert set(await shard_state.load(store, ["m0", "m1", "m2"])) == {"m0", "m1"}


def test_split_and_restore_carry_one_models_series() -> None:
    """A snapshot cut per model restores into another engine: latched alarms and own counts
    of that model come back, other models are untouched."""
    plans = [
        SeriesPlan((p, "default", m, "core", "known_answer"), 0.1, 0.0, "1:" + m)
        for m in ("m0", "m1")
        for p in ("x", "y")
    ]
    first = DriftEngine()
    first.configure(plans)
    series = ("x", "default", "m0", "core", "known_answer")
    for i in range(300):
        first.observe(series, True, t=1_000_000.0 + i)
    assert first.alarmed(series)
    documents = shard_state.split(first.snapshot(), ["m0", "m1"])
    assert set(documents["m0"]["series"]) == {f"{p}|default|m0|core|known_answer" for p in "xy"}
    second = DriftEngine()
    second.configure(plans)
    shard_state.restore(second, [documents["m0"]])
    assert second.alarmed(series)
    assert second.states[series].observations == 300
    assert second.states[("x", "default", "m1", "core", "known_answer")].observations == 0


def cluster_config(tmp_path: Path, fleet: SimFleet, dsn: str, replica: str) -> Path:
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
        f"cluster: {{enabled: true, replica_id: {replica}, lease_ttl_s: 2, heartbeat_s: 0.5}}\n"
        "defaults: {timeout_s: 5}\n"
        f"targets:\n{targets}"
        f"suites:\n  - {{file: '{PROBES / 'core.yaml'}', interval_s: 30}}\n"
    )
    return path


async def test_two_daemons_export_only_their_own_shards(
    tmp_path: Path, fleet: SimFleet, pg_dsn: str
) -> None:
    """Two daemons on one database: together they schedule every job exactly once, each
    exports only its models' series and `canary_shard_info`, and the drift budget is split
    over the whole fleet's series, not each replica's."""
    a = Daemon(cluster_config(tmp_path, fleet, pg_dsn, "a"))
    b = Daemon(cluster_config(tmp_path, fleet, pg_dsn, "b"))
    await a.start(serve=False)
    await b.start(serve=False)
    try:
        want = assign(MODELS[:6], ["a", "b"])
        async with asyncio.timeout(20):
            while not all(
                d.shard_role is not None
                and d.shard_role.held == {m for m, r in want.items() if r == name}
                for d, name in ((a, "a"), (b, "b"))
            ):
                await asyncio.sleep(0.05)
        jobs_a = {k for k in a.scheduler.keys if not k.startswith("_")}
        jobs_b = {k for k in b.scheduler.keys if not k.startswith("_")}
        assert jobs_a.isdisjoint(jobs_b) and len(jobs_a | jobs_b) == 6 * len(BACKENDS)
        for daemon, name in ((a, "a"), (b, "b")):
            reg = daemon.registry
            for model, replica in want.items():
                labels = {"platform": "vllm-prod", "pool": "long-context", "model": model}
                interval = reg.get_sample_value(
                    "canary_suite_interval_seconds", {**labels, "suite": "core"}
                )
                info = reg.get_sample_value("canary_shard_info", {"replica": name, "shard": model})
                assert (interval is not None) == (replica == name) == (info == 1), (name, model)
            held = sum(1 for r in want.values() if r == name)
            assert reg.get_sample_value("canary_shards_held", {"replica": name}) == held
            assert daemon.drift is not None and daemon.drift.states
            per_series = 7 * 86_400 * (len(a.drift.states) + len(b.drift.states))
            state = next(iter(daemon.drift.states.values()))
            assert state.arl_target_s <= per_series  # split over the fleet, then over tests
            assert daemon.drift.series_arl_s == per_series
        await alarm_is_saved_at_once(a, pg_dsn)
    finally:
        await a.stop()
        await b.stop()


async def alarm_is_saved_at_once(daemon: Daemon, dsn: str) -> None:
    """An alarm on a held model saves that shard's state now, not at the next flush."""
    assert daemon.shard_role is not None
    model = min(daemon.shard_role.held)
    with psycopg.connect(dsn) as conn:
        conn.execute("DELETE FROM drift_state WHERE key = %s", (shard_state.state_key(model),))
    series = ("vllm-prod", "long-context", model, "core", "known_answer")
    daemon._drift_event(DriftEvent(series, "alarm", 1.0, "cusum", "ceiling"))
    assert daemon.shard_role._saving is not None
    await daemon.shard_role._saving
    assert model in await shard_state.load(daemon.shard_role.store, [model])
