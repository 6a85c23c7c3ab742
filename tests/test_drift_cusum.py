"""The latched bank state machine: one at a time and vectorised runs are the same machine."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.drift.cusum import BankShape, Latch, run, step


@st.composite
def banks(draw: st.DrawFn) -> tuple[BankShape, np.ndarray, list[int]]:
    slots = draw(st.integers(1, 4))
    tops = tuple(draw(st.integers(3, 80)) for _ in range(slots))
    rtops = tuple(draw(st.integers(3, 80)) for _ in range(slots))
    n = draw(st.integers(1, 300))
    ups = np.array([draw(st.integers(1, 40)) for _ in range(slots)])[:, None]
    downs = np.array([draw(st.integers(1, 4)) for _ in range(slots)])[:, None]
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    failed = rng.random(n) < draw(st.sampled_from([0.02, 0.1, 0.3, 0.6]))
    missing = rng.random(n) < 0.1
    w = np.where(failed[None, :], ups, -downs).astype(np.int64)
    w[:, missing] = 0
    start = [draw(st.integers(0, t - 1)) for t in tops]
    return BankShape(tops, rtops), w, start


@settings(max_examples=300, deadline=None)
@given(banks())
def test_step_and_run_agree(case: tuple[BankShape, np.ndarray, list[int]]) -> None:
    """Any bank and any stream: identical events and identical final state."""
    shape, w, start = case
    one, many = Latch(list(start)), Latch(list(start))
    events = []
    for i in range(w.shape[1]):
        event = step(one, shape, w[:, i].tolist())
        if event is not None:
            events.append((i, *event))
    assert run(many, shape, w).events == events
    assert one == many


def test_alarm_latches_and_caps() -> None:
    """One alarm however long the failures last; statistics stop at twice the threshold."""
    shape = BankShape((10, 40), (20, 20))
    latch = Latch([0, 0])
    events = [step(latch, shape, [5, 3]) for _ in range(100)]
    assert [e[0] for e in events if e] == ["alarm"]
    assert latch.z == [20, 80] and latch.alarmed and latch.slot == 0


def test_missing_data_moves_nothing() -> None:
    """A zero increment (no verdict) neither raises nor lowers a statistic, nor recovers."""
    shape = BankShape((10,), (5,))
    latch = Latch([0])
    step(latch, shape, [12])
    before = (latch.z[:], latch.reverse)
    for _ in range(1000):
        assert step(latch, shape, [0]) is None
    assert (latch.z, latch.reverse) == before and latch.alarmed
