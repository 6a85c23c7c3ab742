"""The foundation CUSUM: thresholds from the budget, alarms latch, recovery needs evidence."""

from __future__ import annotations

import math
import random

import pytest

from monitor.drift import (
    BernoulliCusum,
    CusumState,
    DriftEngine,
    SeriesPlan,
    kl_bernoulli,
    threshold_for,
)

SERIES = ("p", "q", "m", "core", "known_answer")


def test_kl_matches_closed_form() -> None:
    """KL(0.05 || 0.002) equals its textbook value."""
    expected = 0.05 * math.log(0.05 / 0.002) + 0.95 * math.log(0.95 / 0.998)
    assert kl_bernoulli(0.05, 0.002) == pytest.approx(expected)


def test_threshold_grows_with_arl0() -> None:
    """A rarer false alarm needs a higher threshold."""
    assert threshold_for(0.002, 0.05, 1e4) < threshold_for(0.002, 0.05, 1e6)


def test_in_control_stream_rarely_alarms() -> None:
    """At the baseline rate, 20,000 probes against an ARL0 of 1e6 raise no alarm (seeded)."""
    rng = random.Random(3)
    cusum = BernoulliCusum(0.002, 0.05, threshold_for(0.002, 0.05, 1e6))
    state = CusumState()
    events = [cusum.update(state, rng.random() < 0.002) for _ in range(20_000)]
    assert "alarm" not in events


def test_shift_alarms_then_latches_until_recovery() -> None:
    """A run of failures alarms once; the alarm stays latched through more failures and clears only
    after a long clean stretch."""
    cusum = BernoulliCusum(0.002, 0.05, 10.0)
    state = CusumState()
    events = [cusum.update(state, True) for _ in range(10)]
    assert events.count("alarm") == 1 and state.alarmed
    assert cusum.update(state, True) is None and state.alarmed
    recovered_after = next(i for i in range(10_000) if cusum.update(state, False) == "recovered")
    assert recovered_after > 100 and not state.alarmed and state.statistic == 0.0


def test_statistic_is_capped_while_latched() -> None:
    """A long incident cannot wind the statistic up without bound (recovery stays timely)."""
    cusum = BernoulliCusum(0.002, 0.05, 10.0)
    state = CusumState()
    for _ in range(1000):
        cusum.update(state, True)
    assert state.statistic <= 20.0


def test_engine_splits_budget_and_round_trips_state() -> None:
    """More series give each a higher threshold, and a snapshot restores the exact state."""
    one = DriftEngine(0.002, 0.05, 1.0)
    one.configure([SeriesPlan(SERIES, 0.1)])
    many = DriftEngine(0.002, 0.05, 1.0)
    many.configure(
        [SeriesPlan((*SERIES[:4], f"d{i}"), 0.1) for i in range(99)] + [SeriesPlan(SERIES, 0.1)]
    )
    assert many.threshold(SERIES) > one.threshold(SERIES)  # type: ignore[operator]
    for _ in range(3):
        one.observe(SERIES, True)
    copy = DriftEngine(0.002, 0.05, 1.0)
    copy.configure([SeriesPlan(SERIES, 0.1)])
    copy.restore(one.snapshot())
    assert copy.states[SERIES] == one.states[SERIES]
    assert copy.ratio(SERIES) == one.ratio(SERIES) > 0


def test_unknown_series_are_ignored() -> None:
    """Observations for an unconfigured series change nothing and raise nothing."""
    engine = DriftEngine(0.002, 0.05, 1.0)
    engine.configure([SeriesPlan(SERIES, 0.1)])
    assert engine.observe(("x", "y", "z", "s", "d"), True) is None
    assert ("x", "y", "z", "s", "d") not in engine.states
