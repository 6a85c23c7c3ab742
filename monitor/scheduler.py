"""APScheduler 3.x wiring, fenced in this one module: one job per (target, suite).

Jobs use `max_instances=1` (a slow run is skipped, not stacked), `coalesce=True` (a backlog
runs once), a finite misfire grace, and a random first-run offset in [0, min(interval, 120 s))
so that hundreds of series do not fire in the same second. Missed, skipped and failed runs are
counted in `canary_scheduler_events_total{event}`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.metrics import Metrics

log = structlog.get_logger("canary.scheduler")

MAX_FIRST_OFFSET_S = 120.0
JobFn = Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A periodic job; `key` identifies it across reloads (same key, same job)."""

    key: str
    interval_s: float
    run: JobFn
    fingerprint: str = ""  # a change (e.g. of suite version or target settings) replaces the job


class ProbeScheduler:
    """Runs `JobSpec`s periodically on the running asyncio loop and drains them on shutdown."""

    def __init__(self, metrics: Metrics, *, rng: random.Random | None = None) -> None:
        self.metrics = metrics
        self.rng = rng or random.Random()
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._scheduler.add_listener(
            self._on_event,
            EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR | EVENT_JOB_SUBMITTED,
        )
        self._specs: dict[str, JobSpec] = {}
        self._in_flight: set[asyncio.Task[object]] = set()
        self._closing = False

    def start(self) -> None:
        self._scheduler.start()

    @property
    def keys(self) -> set[str]:
        return set(self._specs)

    def sync(self, specs: list[JobSpec], *, now: datetime | None = None) -> None:
        """Make the scheduled jobs exactly `specs`: add new, replace changed, remove gone."""
        wanted = {spec.key: spec for spec in specs}
        for key in set(self._specs) - set(wanted):
            self._scheduler.remove_job(key)
            del self._specs[key]
        start = now or datetime.now(UTC)
        for key, spec in wanted.items():
            old = self._specs.get(key)
            if old is not None and (old.interval_s, old.fingerprint) == (
                spec.interval_s,
                spec.fingerprint,
            ):
                self._specs[key] = spec  # same schedule; pick up the new callable in place
                continue
            offset_s = self.rng.uniform(0, min(spec.interval_s, MAX_FIRST_OFFSET_S))
            self._scheduler.add_job(
                self._runner(key),
                trigger=IntervalTrigger(seconds=spec.interval_s, timezone=UTC),
                id=key,
                name=key,
                next_run_time=start + timedelta(seconds=offset_s),
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(spec.interval_s)),
                replace_existing=True,
            )
            self._specs[key] = spec

    def reschedule(self, key: str, interval_s: float) -> bool:
        """Run job `key` every `interval_s` from now on, without touching its spec (adaptive
        probing; the next `sync` with a changed spec restores the configured interval).
        Returns False if there is no such job."""
        if key not in self._specs or self._scheduler.get_job(key) is None:
            return False
        self._scheduler.reschedule_job(
            key, trigger=IntervalTrigger(seconds=interval_s, timezone=UTC)
        )
        return True

    def next_run_times(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}

    def _runner(self, key: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            spec = self._specs.get(key)
            if spec is None or self._closing:  # a wakeup queued before shutdown starts nothing
                return
            task = asyncio.ensure_future(spec.run())
            # Tracked until the run itself ends: APScheduler cancels this wrapper on shutdown,
            # and the shielded run must still be drained.
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if self._closing:  # shutdown cancels the wrapper; `shutdown` drains the run
                    return  # rather than APScheduler logging a CancelledError traceback
                raise

        return run

    def _on_event(self, event: JobEvent) -> None:
        if isinstance(event, JobExecutionEvent) and isinstance(
            event.exception, asyncio.CancelledError
        ):
            return  # a drain cancelled it on purpose (shutdown), not a failure
        if isinstance(event, JobSubmissionEvent):
            if event.scheduled_run_times:
                lag_s = (datetime.now(UTC) - event.scheduled_run_times[-1]).total_seconds()
                self.metrics.scheduler_lag.observe(max(0.0, lag_s))
            return
        name = {EVENT_JOB_MISSED: "missed", EVENT_JOB_MAX_INSTANCES: "max_instances"}.get(
            event.code, "error"
        )
        self.metrics.scheduler_events.labels(name).inc()
        fields: dict[str, Any] = {"job": event.job_id, "event": name}
        if isinstance(event, JobExecutionEvent) and event.exception is not None:
            fields["error_type"] = type(event.exception).__name__
            log.error("scheduler.job_failed", **fields)
        else:
            log.warning("scheduler.job_skipped", **fields)

    async def shutdown(self, drain_timeout_s: float) -> int:
        """Stop scheduling, then wait for in-flight runs up to the deadline.

        Returns how many runs were still going at the deadline (they are cancelled).
        """
        self._closing = True
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # APScheduler 3 defers its shutdown to the loop; let it run
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_timeout_s
        still: set[asyncio.Task[object]] = set()
        while self._in_flight:  # runs started by a wakeup already queued are drained too
            remaining = deadline - loop.time()
            if remaining <= 0:
                still = set(self._in_flight)
                break
            await asyncio.wait(set(self._in_flight), timeout=remaining)
        for task in still:
            task.cancel()
        if still:
            await asyncio.wait(still, timeout=1.0)
        return len(still)
