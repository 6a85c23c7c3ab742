"""The drift engine: budget split, latched alarms, learned baselines, divergence, persistence."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from monitor.config import DriftConfig
from monitor.drift import Change, Columns, DriftEngine, SeriesId, SeriesPlan
from monitor.drift.engine import HOUR_S

SERIES: SeriesId = ("p", "q", "m", "core", "known_answer")
DAY_S = 86_400.0


def known(budget: float = 1.0) -> DriftEngine:
    """A known baseline of 0.2 % (no warm-up), as the foundation configured it."""
    return DriftEngine(0.002, 0.05, budget)


def feed(
    engine: DriftEngine,
    series: SeriesId,
    outcomes: list[bool],
    t0: float = 0.0,
    step_s: float = 10.0,
) -> list[Change]:
    changes: list[Change] = []
    for i, failed in enumerate(outcomes):
        changes += engine.observe(series, failed, t=t0 + i * step_s)
    return changes


def test_known_baseline_alarms_on_a_burst_and_latches() -> None:
    """A run of failures alarms once; more failures keep it latched with a capped statistic."""
    engine = known()
    engine.configure([SeriesPlan(SERIES, 0.1)])
    changes = feed(engine, SERIES, [True] * 50)
    assert [c.event for c in changes] == ["alarm"]
    state = engine.states[SERIES]
    assert state.alarmed and state.alarms == 1
    assert all(z <= 2 * s.top for z, s in zip(state.latch.z, state.slots, strict=True))
    assert engine.ratio(SERIES) == pytest.approx(2.0)


def test_recovery_needs_evidence_and_resets() -> None:
    """While failures go on the alarm holds; a clean stretch that rejects the alarming design
    clears it (the reverse test) and resets every statistic."""
    engine = known()
    engine.configure([SeriesPlan(SERIES, 0.1)])
    feed(engine, SERIES, [True] * 20)
    assert feed(engine, SERIES, [True, False] * 500, t0=500.0) == []
    changes = feed(engine, SERIES, [False] * 20_000, t0=20_000.0)
    recovered = [c for c in changes if c.event == "recovered"]
    assert len(recovered) == 1 and recovered[0].t > 20_000.0 + 5 * 10
    assert not engine.alarmed(SERIES) and engine.states[SERIES].statistic == 0.0


def test_silence_never_resets_an_alarm() -> None:
    """Missing data (timeouts) and days without probes leave a latched alarm latched."""
    engine = known()
    engine.configure([SeriesPlan(SERIES, 0.1)])
    feed(engine, SERIES, [True] * 20)
    for i in range(500):
        assert engine.observe(SERIES, None, t=10_000.0 + i) == []
    assert engine.observe(SERIES, True, t=30 * DAY_S) == []
    assert engine.alarmed(SERIES)


def test_in_control_stream_stays_quiet() -> None:
    """At the baseline rate, 60,000 probes against a budget of one false page in 20 weeks raise
    no alarm (seeded)."""
    rng = random.Random(3)
    engine = known(budget=0.05)
    engine.configure([SeriesPlan(SERIES, 0.1)])
    changes = feed(engine, SERIES, [rng.random() < 0.002 for _ in range(60_000)])
    assert changes == []


def test_budget_is_split_over_series() -> None:
    """More series in the fleet give each a rarer false alarm, hence a higher threshold."""
    one = known()
    one.configure([SeriesPlan(SERIES, 0.1)])
    many = known()
    many.configure(
        [SeriesPlan((*SERIES[:4], f"d{i}"), 0.1) for i in range(99)] + [SeriesPlan(SERIES, 0.1)]
    )
    assert many.states[SERIES].arl_target_s == pytest.approx(100 * one.states[SERIES].arl_target_s)
    assert many.threshold(SERIES) > one.threshold(SERIES)  # type: ignore[operator]


def test_unknown_series_are_ignored() -> None:
    """Observations for an unconfigured series change nothing and raise nothing."""
    engine = known()
    engine.configure([SeriesPlan(SERIES, 0.1)])
    assert engine.observe(("x", "y", "z", "s", "d"), True) == []
    assert ("x", "y", "z", "s", "d") not in engine.states


def test_snapshot_round_trips_state() -> None:
    """A restored engine holds the same statistics, latch and counters."""
    engine = known()
    engine.configure([SeriesPlan(SERIES, 0.1)])
    feed(engine, SERIES, [True, False, True])
    copy = known()
    copy.configure([SeriesPlan(SERIES, 0.1)])
    copy.restore(engine.snapshot())
    assert copy.states[SERIES].latch == engine.states[SERIES].latch
    assert copy.states[SERIES].observations == 3
    assert copy.ratio(SERIES) == engine.ratio(SERIES) > 0


def learning(budget: float = 10.0, **changes: object) -> DriftEngine:
    return DriftEngine(config=DriftConfig(false_pages_per_week=budget, **changes))  # type: ignore[arg-type]


def platforms(n: int = 3) -> list[SeriesId]:
    return [(f"p{j}", "default", "m", "core", "d") for j in range(n)]


def run_hours(
    engine: DriftEngine, rates: dict[SeriesId, float], first: int, last: int, seed: int = 0
) -> list[Change]:
    """Feed hours [first, last) at one probe per 10 s, failing at the given rates."""
    rng = np.random.default_rng(seed)
    changes: list[Change] = []
    for hour in range(first, last):
        t = hour * HOUR_S + 10.0 * np.arange(360)
        columns = {
            s: Columns(t, (rng.random(360) < p).astype(np.int8), np.full(360, np.nan))
            for s, p in rates.items()
        }
        changes += engine.feed(hour, columns)
    return changes


def test_warm_up_is_silent_but_for_the_ceiling() -> None:
    """While learning, a doubled rate raises nothing; an outright outage still pages."""
    engine = learning()
    a, b = platforms(2)
    engine.configure([SeriesPlan(a, 0.1), SeriesPlan(b, 0.1)])
    assert run_hours(engine, {a: 0.02, b: 0.01}, 0, 20) == []
    assert engine.states[a].rate is None
    changes = run_hours(engine, {a: 0.9, b: 0.01}, 20, 21)
    assert [(c.series, c.event, c.member) for c in changes] == [(a, "alarm", "ceiling")]


def test_baseline_is_pooled_and_designed_on_an_upper_bound() -> None:
    """Siblings share one pooled baseline, never below their own estimate; the design rate sits
    just above the true rate."""
    engine = learning()
    series = platforms(3)
    engine.configure([SeriesPlan(s, 0.1) for s in series])
    run_hours(engine, dict.fromkeys(series, 0.01), 0, 48)
    pooled = engine.baselines[("m", "core", "d", "")]
    assert pooled.design is not None and pooled.counts.trials > 0.8 * 3 * 360 * 47
    for s in series:
        rate = engine.states[s].rate
        assert rate is not None and pooled.design <= rate < 0.0125
        assert rate >= engine.states[s].own.rate


def test_a_different_platform_keeps_its_own_baseline() -> None:
    """A platform whose rate clearly differs from its siblings is not held to theirs."""
    engine = learning()
    a, b, c = platforms(3)
    engine.configure([SeriesPlan(s, 0.1) for s in (a, b, c)])
    changes = run_hours(engine, {a: 0.01, b: 0.01, c: 0.03}, 0, 72)
    assert engine.states[c].rate is not None and engine.states[c].rate > 0.03
    assert not [x for x in changes if x.series == c and x.test == "cusum"]


def test_shift_after_warm_up_alarms_on_its_series_only() -> None:
    """A fivefold rate on one platform pages that platform, by the bank or by divergence."""
    engine = learning()
    a, b, c = platforms(3)
    engine.configure([SeriesPlan(s, 0.1) for s in (a, b, c)])
    run_hours(engine, dict.fromkeys((a, b, c), 0.005), 0, 48)
    changes = run_hours(engine, {a: 0.025, b: 0.005, c: 0.005}, 48, 60, seed=1)
    alarms = {(x.series, x.test) for x in changes if x.event == "alarm"}
    assert {s for s, _ in alarms} == {a}


def test_new_version_starts_a_new_baseline() -> None:
    """A new model or suite version is a new key: back to warm-up."""
    engine = learning()
    (a,) = platforms(1)
    engine.configure([SeriesPlan(a, 0.1, version="1")])
    run_hours(engine, {a: 0.01}, 0, 48)
    assert engine.states[a].rate is not None
    engine.configure([SeriesPlan(a, 0.1, version="2")])
    assert engine.states[a].rate is None


def test_golden_rate_catches_a_degraded_baseline() -> None:
    """A baseline learned a little above the suite's golden rate is flagged suspect; a rate far
    above it pages through the ceiling, even during the warm-up, and is never learned."""
    engine = learning(budget=0.1, golden_failure_rates={"core": 0.01})
    a, b = platforms(2)
    engine.configure([SeriesPlan(a, 0.1), SeriesPlan(b, 0.1, version="2")])
    changes = run_hours(engine, {a: 0.013, b: 0.05}, 0, 48)
    assert engine.summaries()[a].suspect
    assert [(c.series, c.member) for c in changes if c.event == "alarm"] == [(b, "ceiling")]
    assert engine.states[b].rate is None


def test_scalar_and_hourly_paths_agree() -> None:
    """`observe` one at a time and `feed` an hour at a time give identical changes and state."""
    series = platforms(3)
    rng = np.random.default_rng(7)
    rows = []
    for hour in range(24 * 3):
        for j, s in enumerate(series):
            t = hour * HOUR_S + j + 10.0 * np.arange(360)
            p = 0.05 if (j == 0 and hour > 50) else 0.01
            failed = (rng.random(360) < p).astype(np.int8)
            failed[rng.random(360) < 0.02] = -1
            score = np.where(rng.random(360) < 0.5, rng.beta(9, 1, 360), np.nan)
            rows.append((hour, s, t, failed, score))
    one, two = learning(), learning()
    for engine in (one, two):
        engine.configure([SeriesPlan(s, 0.1) for s in series])
    scalar: list[Change] = []
    observations = sorted(
        (float(t[i]), s, int(f[i]), float(sc[i])) for _, s, t, f, sc in rows for i in range(360)
    )
    for t, s, f, sc in observations:
        scalar += one.observe(
            s, None if f < 0 else bool(f), score=None if math.isnan(sc) else sc, t=t
        )
    hourly: list[Change] = []
    for hour in range(24 * 3):
        hourly += two.feed(hour, {s: Columns(t, f, sc) for h, s, t, f, sc in rows if h == hour})
    key = lambda c: (c.t, c.series, c.event, c.test)  # noqa: E731
    assert sorted(scalar, key=key) == sorted(hourly, key=key)
    assert one.snapshot() == two.snapshot()
