"""The daemon's side of cluster mode: which models it probes, and the hand-over of their state.

The daemon asks `mine(model)` when it builds jobs, drift plans and metric series, so a replica
schedules, judges and exports only the shards it holds (Prometheus then sums replicas without
double counting). On every change of the held set the role saves the state of the shards going
away (under their lease), loads the state of those arriving, has the daemon rebuild its jobs,
and restores the loaded state before any new job can run.

Every run goes through `run(model, job)`, which gives it its fencing token (the store refuses
its results once the lease has moved) and tracks it: before a shard leaves, its runs get
`handover_grace_s` to finish and are then cancelled, so the lease is released only once no
run of it is in flight, and no late result re-creates a series the hand-over removed.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from monitor.config import ClusterConfig
from monitor.drift import DriftEngine
from monitor.metrics import Metrics
from monitor.shard import state
from monitor.shard.coordinator import Coordinator, replica_id
from monitor.store.base import current_fence
from monitor.store.postgres import PostgresStore

log = structlog.get_logger("canary.shard")


class ShardRole:
    """Cluster membership for one daemon; `start` after the scheduler, `stop` before the store
    closes. `reapply()` must rebuild jobs, plans and metric series from `mine`."""

    def __init__(
        self,
        store: PostgresStore,
        config: ClusterConfig,
        metrics: Metrics,
        *,
        shards: Callable[[], set[str]],
        engine: Callable[[], DriftEngine | None],
        reapply: Callable[[], None],
        restored: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.replica = replica_id(config)
        self.engine = engine
        self.reapply = reapply
        self.restored = restored  # after a takeover's state is restored: re-export its gauges
        self.held: frozenset[str] = frozenset()
        # A shard's runs may finish this long after it was given up, then they are cancelled.
        self.handover_grace_s = config.heartbeat_s / 2
        self._runs: dict[str, set[asyncio.Task[Any]]] = {}
        self._dirty: set[str] = set()
        self._saving: asyncio.Task[None] | None = None
        self.coordinator = Coordinator(
            store,
            self.replica,
            config,
            shards,
            self._on_change,
            on_error=self._count,
            after_round=self._gauges,
        )
        metrics.set_shards(self.replica, (), 0)

    def mine(self, model: str) -> bool:
        return model in self.held

    def may_probe(self, model: str) -> bool:
        """Checked before each run: held, and the lease not past its local deadline."""
        return self.coordinator.may_probe(model)

    def start(self) -> None:
        self.coordinator.start()

    async def run(self, model: str, job: Callable[[], Awaitable[object]]) -> None:
        """Run `job` (one probe run of `model`) under the shard's fencing token, if it may
        run now; tracked, so a hand-over can wait for it or cancel it."""
        fence = self.coordinator.fence(model)
        if fence is None:
            return  # not held, or the lease lapsed (cut off from the database)
        context = contextvars.copy_context()
        context.run(current_fence.set, fence)
        # The task copies `context`, so every write of the run (and of its gathered probes)
        # sees the fence.
        task = asyncio.get_running_loop().create_task(_call(job), context=context)
        runs = self._runs.setdefault(model, set())
        runs.add(task)
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:  # the scheduler's drain: the run goes with it
            task.cancel()
            raise
        finally:
            runs.discard(task)
            if not runs:
                self._runs.pop(model, None)
        if not task.cancelled():  # cancelled: a hand-over ended it, on purpose
            task.result()

    async def _end_runs(self, shards: frozenset[str]) -> None:
        """Let the runs of `shards` finish within the grace, then cancel the rest and wait
        for them: afterwards no run of these shards is in flight."""
        tasks = {t for s in shards for t in self._runs.get(s, ())}
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self.handover_grace_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
            self.metrics.handover_cancelled.inc(len(pending))
            log.info("shard.runs_cancelled", runs=len(pending), shards=sorted(shards))

    async def stop(self) -> None:
        """After the last probe: save every held shard's state, then hand the leases back and
        leave the membership (the jobs are already gone with the scheduler)."""
        await self.coordinator.stop()
        if self._saving is not None:
            await asyncio.gather(self._saving, return_exceptions=True)
        await self.flush()
        try:
            await self.coordinator.leave()
        except Exception as exc:
            self._count(exc)
            log.error("shard.leave_failed", error_type=type(exc).__name__)
        self.held = frozenset()
        self._gauges()

    def changed(self, model: str) -> None:
        """An alarm latched or recovered on `model`: save its shard soon (one task at a time,
        batching whatever changed meanwhile), so a SIGKILL right after loses no latch."""
        if model not in self.held:
            return
        self._dirty.add(model)
        if self._saving is None or self._saving.done():
            self._saving = asyncio.ensure_future(self._save_dirty())

    async def _save_dirty(self) -> None:
        while self._dirty:
            shards, self._dirty = frozenset(self._dirty & self.held), set()
            await self._save(shards)

    async def flush(self) -> None:
        """Save the drift state of every held shard (maintenance, shutdown)."""
        await self._save(self.held)

    async def _on_change(self, held: frozenset[str]) -> None:
        gained, lost = held - self.held, self.held - held
        await self._end_runs(lost)  # before the save (their results count) and the release
        await self._save(lost)
        try:
            documents = await state.load(self.store, gained)
        except Exception as exc:  # start those shards fresh rather than not at all
            self._count(exc)
            log.error("shard.state_load_failed", error_type=type(exc).__name__)
            documents = {}
        self.held = held
        self.reapply()  # synchronous: no job of a gained shard runs before the restore below
        engine = self.engine()
        if engine is not None and documents:
            state.restore(engine, documents.values())
            self.restored()
        self._gauges()
        if gained or lost:
            log.info("shard.state_moved", loaded=sorted(documents), saved=sorted(lost))

    def _gauges(self) -> None:
        self.metrics.set_shards(self.replica, self.held, len(self.coordinator.members))

    async def _save(self, shards: frozenset[str]) -> None:
        engine = self.engine()
        if engine is None or not shards:
            return
        documents = state.split(engine.snapshot(), shards)
        try:
            refused = await state.save(self.store, self.replica, documents)
        except Exception as exc:
            self._count(exc)
            log.error("shard.state_save_failed", error_type=type(exc).__name__)
            return
        if refused:
            log.warning("shard.state_fenced", shards=refused)

    def _count(self, exc: BaseException) -> None:
        del exc
        self.metrics.store_errors.labels("lease").inc()

    def describe(self) -> dict[str, Any]:
        return {
            "replica": self.replica,
            "members": list(self.coordinator.members),
            "held": sorted(self.held),
        }


async def _call(job: Callable[[], Awaitable[object]]) -> object:
    return await job()
