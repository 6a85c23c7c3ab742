"""Adaptive probing (monitor/pacing.py): which jobs run fast, within each platform's budget, and the
scheduler's reschedule."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from monitor.config import AdaptiveConfig
from monitor.drift import DriftEngine, SeriesId, SeriesPlan
from monitor.metrics import Metrics, SeriesKey
from monitor.pacing import Job, Pacer
from monitor.scheduler import JobSpec, ProbeScheduler


def job(platform: str, name: str, interval_s: float = 60.0) -> Job:
    key = SeriesKey(platform, "default", "m", name)
    return Job(
        f"{platform}/default/m/{name}",
        platform,
        key,
        interval_s,
        5,
        ((*key.labels(), "known_answer"),),
    )


def engine_with(jobs: list[Job]) -> DriftEngine:
    engine = DriftEngine(0.002, 0.05, 1.0)
    engine.configure([SeriesPlan(s, 5 / j.interval_s) for j in jobs for s in j.series])
    return engine


def nudge(engine: DriftEngine, series: SeriesId, failures: int) -> None:
    for i in range(failures):
        engine.observe(series, True, t=float(i))


def test_a_rising_statistic_speeds_its_job_up_and_back() -> None:
    """Above `fraction` of the threshold a job runs at the fast interval; once latched in alarm
    (paged already) or back down, at its own."""
    a, b = job("p", "core"), job("p", "other")
    engine = engine_with([a, b])
    pacer = Pacer(AdaptiveConfig(fraction=0.25, fast_interval_s=2.0, max_extra_probes_per_s=10))
    assert pacer.decide([a, b], engine) == {}
    nudge(engine, a.series[0], 1)
    assert 0.25 <= engine.ratio(a.series[0]) < 1
    assert pacer.decide([a, b], engine) == {a.key: 2.0}
    assert pacer.decide([a, b], engine) == {}
    nudge(engine, a.series[0], 10)
    assert engine.alarmed(a.series[0])
    assert pacer.decide([a, b], engine) == {a.key: 60.0}


def test_platform_budget_goes_to_the_closest_to_alarm() -> None:
    """With room for one fast job per platform, the one nearer its threshold gets it."""
    a, b, c = job("p", "one"), job("p", "two"), job("q", "three")
    engine = engine_with([a, b, c])
    for j in (a, b, c):
        nudge(engine, j.series[0], 1)
    engine.observe(b.series[0], True, t=100.0)
    extra = 5 * (1 / 2.0 - 1 / 60.0)
    pacer = Pacer(
        AdaptiveConfig(fraction=0.25, fast_interval_s=2.0, max_extra_probes_per_s=extra * 1.5)
    )
    assert engine.ratio(b.series[0]) > engine.ratio(a.series[0])
    assert pacer.decide([a, b, c], engine) == {b.key: 2.0, c.key: 2.0}


def test_disabled_or_slower_fast_interval_changes_nothing() -> None:
    """Adaptive probing off, or a fast interval no faster than the job's: no change."""
    a = job("p", "core", interval_s=1.0)
    engine = engine_with([a])
    nudge(engine, a.series[0], 1)
    assert Pacer(AdaptiveConfig(fast_interval_s=2.0)).decide([a], engine) == {}
    assert Pacer(AdaptiveConfig(enabled=False)).decide([a], engine) == {}


async def noop() -> None:
    return None


async def test_reschedule_changes_one_jobs_interval() -> None:
    """`reschedule` puts a job on a new interval now; unknown jobs are refused."""
    scheduler = ProbeScheduler(Metrics(CollectorRegistry()))
    scheduler.start()
    scheduler.sync([JobSpec("a", 600, noop)])
    before = datetime.now(UTC)
    assert scheduler.reschedule("a", 2.0)
    when = scheduler.next_run_times()["a"]
    assert when is not None and (when - before).total_seconds() <= 3.0
    assert not scheduler.reschedule("missing", 2.0)
    await scheduler.shutdown(1)
