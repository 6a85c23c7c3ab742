"""Scheduler wiring: one job per key, no overlap, jittered start, reload diffing, draining."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from monitor.metrics import Metrics
from monitor.scheduler import MAX_FIRST_OFFSET_S, JobSpec, ProbeScheduler


class ZeroRandom(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a


async def noop() -> None:
    return None


def make(rng: random.Random | None = None) -> ProbeScheduler:
    return ProbeScheduler(Metrics(CollectorRegistry()), rng=rng)


async def test_jobs_are_non_overlapping_and_coalesced() -> None:
    """Each job runs one instance at a time, coalesces a backlog and has a finite misfire grace."""
    scheduler = make()
    scheduler.start()
    scheduler.sync([JobSpec("a", 30, noop), JobSpec("b", 600, noop)])
    jobs = {job.id: job for job in scheduler._scheduler.get_jobs()}
    assert set(jobs) == {"a", "b"}
    for job in jobs.values():
        assert (job.max_instances, job.coalesce) == (1, True)
        assert 0 < job.misfire_grace_time <= 600
    await scheduler.shutdown(1)


async def test_first_run_is_spread_within_interval_and_cap() -> None:
    """The first run lands in [now, now + min(interval, 120 s))."""
    now = datetime.now(UTC) + timedelta(hours=1)  # nothing becomes due during the test
    scheduler = make(random.Random(1))
    scheduler.start()
    scheduler.sync([JobSpec(f"j{i}", 10 if i % 2 else 900, noop) for i in range(50)], now=now)
    for key, when in scheduler.next_run_times().items():
        interval = 10 if int(key[1:]) % 2 else 900
        assert when is not None
        assert now <= when < now + timedelta(seconds=min(interval, MAX_FIRST_OFFSET_S))
    await scheduler.shutdown(1)


async def test_sync_adds_replaces_and_removes() -> None:
    """A reload keeps unchanged jobs, replaces changed ones and removes the rest."""
    scheduler = make()
    scheduler.start()
    scheduler.sync(
        [JobSpec("keep", 60, noop), JobSpec("change", 60, noop, "v1"), JobSpec("drop", 60, noop)]
    )
    kept_next = scheduler.next_run_times()["keep"]
    scheduler.sync(
        [JobSpec("keep", 60, noop), JobSpec("change", 60, noop, "v2"), JobSpec("new", 60, noop)]
    )
    assert scheduler.keys == {"keep", "change", "new"}
    assert scheduler.next_run_times()["keep"] == kept_next
    await scheduler.shutdown(1)


async def test_job_runs_and_lag_is_measured() -> None:
    """A due job runs on the loop and its scheduling lag lands in the histogram."""
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    scheduler = make(ZeroRandom())
    scheduler.start()
    scheduler.sync([JobSpec("now", 3600, job)])
    await asyncio.wait_for(ran.wait(), timeout=10)
    assert scheduler.metrics.registry.get_sample_value("canary_scheduler_lag_seconds_count") == 1
    await scheduler.shutdown(1)


async def test_shutdown_waits_for_in_flight_runs() -> None:
    """Shutdown stops scheduling and lets a running probe finish before returning."""
    started, release, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def job() -> None:
        started.set()
        await release.wait()
        finished.set()

    scheduler = make(ZeroRandom())
    scheduler.start()
    scheduler.sync([JobSpec("slow", 3600, job)])
    await asyncio.wait_for(started.wait(), timeout=10)
    stopping = asyncio.ensure_future(scheduler.shutdown(30))
    await asyncio.sleep(0)
    assert not stopping.done()
    release.set()
    assert await stopping == 0 and finished.is_set()


async def test_shutdown_cancels_runs_past_the_deadline() -> None:
    """A run that outlives the drain deadline is cancelled and reported."""
    started = asyncio.Event()

    async def job() -> None:
        started.set()
        await asyncio.Event().wait()

    scheduler = make(ZeroRandom())
    scheduler.start()
    scheduler.sync([JobSpec("stuck", 3600, job)])
    await asyncio.wait_for(started.wait(), timeout=10)
    assert await scheduler.shutdown(0.05) == 1
