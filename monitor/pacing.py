"""Drift plans for the configured jobs, and adaptive probing: which jobs run fast right now.

One job is one (target, suite); it reports several drift series (one per detector its probes
can produce, plus `any` when there are two or more, plus `probe_error`). A job runs at its fast
interval while any of its series' statistics is at or above `fraction` of its threshold and
not yet alarmed (research note 4.9: the sampling decision depends only on past data, so the
run length in probes is unchanged, and the thresholds are calibrated in wall-clock time). Each
platform has a budget of extra probes per second; when it is short, the jobs closest to alarm
go first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from monitor.config import AdaptiveConfig
from monitor.config.probes import ProbeSuite
from monitor.drift import ANY_CHECK, PROBE_ERROR, DriftEngine, SeriesId, SeriesPlan
from monitor.metrics import SeriesKey
from monitor.plan import Plan, PlannedSuite


@dataclass(frozen=True, slots=True)
class Job:
    """A (target, suite) job as drift sees it."""

    key: str
    platform: str
    labels: SeriesKey
    interval_s: float
    probes: int
    series: tuple[SeriesId, ...]


def drift_plan(
    plan: Plan, detectors: Callable[[ProbeSuite, int], dict[str, int]]
) -> tuple[list[Job], list[SeriesPlan]]:
    """Every job and every drift series of a plan, with observation rates and versions;
    `detectors(suite, burst)` counts the checks of each detector one run of a suite reports
    with `burst` copies of each probe. Only the probes a target can serve make series."""
    adaptive = plan.loaded.config.drift.adaptive
    jobs: list[Job] = []
    plans: list[SeriesPlan] = []
    for planned in plan.runnable():
        job, series = _job(planned, adaptive, detectors)
        jobs.append(job)
        plans.extend(series)
    return jobs, plans


def _job(
    planned: PlannedSuite,
    adaptive: AdaptiveConfig,
    detectors: Callable[[ProbeSuite, int], dict[str, int]],
) -> tuple[Job, list[SeriesPlan]]:
    """One planned suite's job and its drift series (one per detector, `any`, errors)."""
    target, binding, suite = planned.target, planned.binding, planned.runnable
    assert suite is not None
    # Each probe alone plus `burst` copies, the copies compared with the lone reply.
    per_run = detectors(suite, binding.burst)
    probes = len(suite.probes) * (1 + binding.burst)
    names = {**per_run}
    if len(per_run) >= 2:
        names[ANY_CHECK] = probes
    names[PROBE_ERROR] = probes
    key = planned.labels
    version = f"{suite.version}:{target.wire_model}"
    fast_s = min(adaptive.fast_interval_s, binding.interval_s)
    plans = [
        SeriesPlan(
            (*key.labels(), name),
            count / binding.interval_s,
            count / fast_s if adaptive.enabled else 0.0,
            version,
        )
        for name, count in names.items()
    ]
    series: tuple[SeriesId, ...] = tuple(p.series for p in plans)
    job = Job(planned.key, target.platform, key, binding.interval_s, probes, series)
    return job, plans


class Pacer:
    """Decides each job's interval from the drift statistics, within per-platform budgets."""

    def __init__(self, config: AdaptiveConfig) -> None:
        self.config = config
        self.fast: set[str] = set()

    def decide(self, jobs: list[Job], engine: DriftEngine) -> dict[str, float]:
        """The jobs whose interval changes, with their new interval in seconds."""
        cfg = self.config
        wanted: dict[str, list[tuple[float, Job]]] = defaultdict(list)
        for job in jobs:
            fast_s = min(cfg.fast_interval_s, job.interval_s)
            if not cfg.enabled or fast_s >= job.interval_s:
                continue
            ratios = [
                engine.ratio(s) for s in job.series if s in engine.states and not engine.alarmed(s)
            ]
            top = max(ratios, default=0.0)
            if top >= cfg.fraction:
                wanted[job.platform].append((top, job))
        fast: set[str] = set()
        for candidates in wanted.values():
            spent = 0.0
            for _, job in sorted(candidates, key=lambda c: -c[0]):
                extra = job.probes * (
                    1 / min(cfg.fast_interval_s, job.interval_s) - 1 / job.interval_s
                )
                if spent + extra <= cfg.max_extra_probes_per_s:
                    fast.add(job.key)
                    spent += extra
        changes = {}
        for job in jobs:
            if (job.key in fast) != (job.key in self.fast):
                changes[job.key] = (
                    min(cfg.fast_interval_s, job.interval_s) if job.key in fast else job.interval_s
                )
        self.fast = fast
        return changes
