"""What the drift engine knows, as plain data: no behaviour, so persistence and the batch
path read and write it without importing the engine (they did, and the engine imported them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from monitor.drift.baseline import Baseline
from monitor.drift.scores import ScoreBaseline
from monitor.drift.series import PoolKey, SeriesId, SeriesState


@dataclass(frozen=True, slots=True)
class Change:
    """An alarm or a recovery of one series' `test` ("cusum" or "divergence") at time `t`."""

    t: float
    series: SeriesId
    event: str  # "alarm" | "recovered"
    statistic: float  # statistic over threshold at the event
    test: str
    member: str  # the bank member (design) that alarmed


# Records a bank event of a series as a Change: (t, series, state, (kind, slot, ratio), test).
ChangeFn = Callable[[float, SeriesId, SeriesState, tuple[str, int, float], str], Change]


@dataclass(slots=True)
class DriftData:
    """Every series' state, the learned baselines per pool, the pools' members, the hour."""

    states: dict[SeriesId, SeriesState] = field(default_factory=dict)
    baselines: dict[PoolKey, Baseline] = field(default_factory=dict)
    score_baselines: dict[PoolKey, ScoreBaseline] = field(default_factory=dict)
    groups: dict[PoolKey, list[SeriesId]] = field(default_factory=dict)
    hour: int | None = None
