"""Sequential change detection per series, with a false-page budget you choose.

Per series (platform, pool, model, suite, detector): a bank of Bernoulli LLR CUSUMs over
log-spaced shifts with exact thresholds (Markov chain on an integer lattice), a score bank
calibrated on the baseline's own distribution, an absolute ceiling, and a cross-platform
divergence test; learned, pooled, protected baselines; latched alarms with reverse-test
recovery. `docs/drift.md` explains the methods and shows the benchmark.

Modules: `chain` (exact run lengths and thresholds), `stats` (bounds without scipy), `cusum`
(the latched bank state machine), `baseline` and `scores` (learning), `designs` (members and
their budget shares), `divergence`, `series`, `engine`, `persist`.
"""

from __future__ import annotations

from typing import Literal

from monitor.drift.chain import Calibration, calibrate, kl_bernoulli
from monitor.drift.engine import ANY_CHECK, PROBE_ERROR, WEEK_S, Change, Columns, DriftEngine
from monitor.drift.series import SeriesId, SeriesPlan, SeriesState

Event = Literal["alarm", "recovered"]

__all__ = [
    "ANY_CHECK",
    "PROBE_ERROR",
    "WEEK_S",
    "Calibration",
    "Change",
    "Columns",
    "DriftEngine",
    "Event",
    "SeriesId",
    "SeriesPlan",
    "SeriesState",
    "calibrate",
    "kl_bernoulli",
]
