"""The hourly path: one hour of one series' observations through its banks with numpy.

Replay and the benchmark feed an hour of columns per series; the counts, the bank and the
divergence banks advance exactly as one `observe` at a time would (the same integer machines,
see `cusum.run`), so replayed alarms are the daemon's alarms. Divergence labels are collected
per sibling group and replayed in time order after the series' own banks: the two latches are
independent, so the order between them does not matter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.drift import cusum
from monitor.drift.scores import BINS
from monitor.drift.series import PoolKey, SeriesId, increment_matrix
from monitor.drift.state import Change, ChangeFn, DriftData

Times = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Columns:
    """One series' observations in one hour: times, failed (1, 0 or -1: none), score (NaN: none)."""

    t: Times
    failed: npt.NDArray[np.int8]
    score: Times


def feed(engine: DriftData, change: ChangeFn, columns: Mapping[SeriesId, Columns]) -> list[Change]:
    """Every series' columns through its bank, then every sibling group's divergence."""
    changes: list[Change] = []
    failures: dict[PoolKey, list[tuple[Times, int]]] = defaultdict(list)
    for series, cols in columns.items():
        state = engine.states.get(series)
        if state is None:
            continue
        failed = np.asarray(cols.failed, dtype=np.int8)
        scored = ~np.isnan(cols.score)
        bins = None
        if scored.any():
            raw = (np.where(scored, cols.score, 0.0) * BINS).astype(np.int64)
            bins = np.where(scored, np.clip(raw, 0, BINS - 1), -1)
        binary = failed >= 0
        state.observations += int((binary | scored).sum())
        tally = state.tally
        if binary.any():
            state.binary_seen = True
            tally.trials += int(binary.sum())
            tally.failures += int((failed == 1).sum())
        if bins is not None:
            state.score_seen = True
            counts = np.bincount(bins[scored], minlength=BINS)
            previous = tally.scores or [0.0] * BINS
            tally.scores = [a + float(b) for a, b in zip(previous, counts, strict=True)]
        result = cusum.run(state.latch, state.shape, increment_matrix(state.slots, failed, bins))
        for index, kind, slot, ratio in result.events:
            event = (kind, slot, ratio)
            changes.append(change(float(cols.t[index]), series, state, event, "cusum"))
        tally.alarmed |= state.latch.alarmed or result.alarmed
        key = state.plan.key
        failures[key].append((cols.t[failed == 1], engine.groups[key].index(series)))
    for key, parts in failures.items():
        changes += _divergence(engine, change, key, parts)
    changes.sort(key=lambda c: c.t)
    return changes


def _divergence(
    engine: DriftData, change: ChangeFn, key: PoolKey, parts: list[tuple[Times, int]]
) -> list[Change]:
    members = engine.groups[key]
    if not any(engine.states[s].div_slots for s in members):
        return []
    times = np.concatenate([p[0] for p in parts])
    if times.shape[0] == 0:
        return []
    labels = np.concatenate([np.full(p[0].shape[0], p[1]) for p in parts])
    order = np.argsort(times, kind="stable")
    times, labels = times[order], labels[order]
    changes = []
    for index, series in enumerate(members):
        state = engine.states[series]
        if not state.div_slots:
            continue
        ups = np.array([[s.up] for s in state.div_slots], dtype=np.int64)
        downs = np.array([[s.down] for s in state.div_slots], dtype=np.int64)
        w = np.where((labels == index)[None, :], ups, -downs)
        result = cusum.run(state.div_latch, state.div_shape, w)
        for i, kind, slot, ratio in result.events:
            event = (kind, slot, ratio)
            changes.append(change(float(times[i]), series, state, event, "divergence"))
        state.tally.alarmed |= state.div_latch.alarmed or result.alarmed
    return changes
