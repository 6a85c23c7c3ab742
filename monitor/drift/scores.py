"""Scores in [0, 1]: a mean-shift CUSUM calibrated exactly on the baseline's own distribution.

A Gaussian CUSUM on scores, l(s) = (delta / sigma^2) (mu0 - delta/2 - s), detects a drop of the
mean by delta. Its normal-theory threshold is optimistic for skewed, bounded scores (research
note 4.2), so the threshold is calibrated by resampling the baseline scores instead, and
exactly: scores are binned (50 bins), each bin gets an integer increment, and the statistic is a
Markov chain whose transition probabilities are the baseline histogram, i.e. the bootstrap
distribution. The same banded solver as the binary CUSUMs gives the run length from every
state. A small bank of drops (in units of the baseline's standard deviation) covers an unknown
delta, as the binary bank covers an unknown p1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monitor.drift.baseline import DAY_S, BaselinePolicy
from monitor.drift.chain import FloatArray, jump_run_lengths, smallest_top

BINS = 50
MIN_SCORES = 500  # scores a warm-up needs besides its minimum duration
DROPS_SD = (0.25, 0.75, 2.0)  # designed mean drops, in baseline standard deviations
RESOLUTION = 25  # lattice steps for the largest increment
MIN_SD = 0.01
MAX_DRIFT_SD_PER_DAY = 0.25


def bin_of(score: float) -> int:
    return min(BINS - 1, max(0, int(score * BINS)))


CENTRES = (np.arange(BINS) + 0.5) / BINS


@dataclass(slots=True)
class ScoreBaseline:
    """Pooled score histogram (with forgetting) and the frozen design (mean, sd)."""

    hist: list[float] = field(default_factory=lambda: [0.0] * BINS)
    started_t: float | None = None
    mean: float | None = None  # None while warming up
    sd: float = 0.0
    updated_t: float = 0.0
    frozen: list[float] = field(default_factory=list)  # the histogram the design was made on

    @property
    def warm(self) -> bool:
        return self.mean is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "hist": self.hist,
            "started_t": self.started_t,
            "mean": self.mean,
            "sd": self.sd,
            "updated_t": self.updated_t,
            "frozen": self.frozen,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScoreBaseline:
        return cls(
            [float(v) for v in data["hist"]],
            None if data["started_t"] is None else float(data["started_t"]),
            None if data["mean"] is None else float(data["mean"]),
            float(data["sd"]),
            float(data["updated_t"]),
            [float(v) for v in data.get("frozen", [])],
        )

    def probabilities(self) -> FloatArray:
        """The in-control score distribution the design is calibrated on."""
        hist = np.array(self.frozen or self.hist, dtype=np.float64)
        probs: FloatArray = hist / hist.sum()
        return probs


def update_scores(
    baseline: ScoreBaseline, counts: list[float], t: float, policy: BaselinePolicy
) -> bool:
    """Fold one hour's clean score histogram in; True if the design changed."""
    total = sum(counts)
    if baseline.started_t is None:
        if total <= 0:
            return False
        baseline.started_t = t
    elapsed = max(0.0, t - (baseline.updated_t or baseline.started_t))
    factor = 0.5 ** (elapsed / policy.half_life_s)
    baseline.hist = [h * factor + c for h, c in zip(baseline.hist, counts, strict=True)]
    n = sum(baseline.hist)
    previous = baseline.mean
    probs = np.array(baseline.hist) / n if n > 0 else np.zeros(BINS)
    mean = float(probs @ CENTRES)
    sd = max(MIN_SD, math.sqrt(float(probs @ (CENTRES - mean) ** 2)))
    if previous is None:
        age = t - baseline.started_t
        if not ((age >= policy.warmup_min_s and n >= MIN_SCORES) or age >= policy.warmup_max_s):
            baseline.updated_t = t
            return False
        baseline.mean, baseline.sd, baseline.frozen = mean, sd, list(baseline.hist)
        baseline.updated_t = t
        return True
    days = max(0.0, t - baseline.updated_t) / DAY_S
    limit = MAX_DRIFT_SD_PER_DAY * baseline.sd * days
    if days < 1.0:  # designs move at most daily: each move costs a recalibration
        return False
    baseline.mean = min(max(mean, previous - limit), previous + limit)
    baseline.sd, baseline.updated_t, baseline.frozen = sd, t, list(baseline.hist)
    return True


@dataclass(frozen=True, slots=True)
class ScoreDesign:
    """One score slot: the integer increment of every score bin, and its threshold."""

    drop: float  # designed mean drop
    table: tuple[int, ...]
    unit: float
    top: int


def score_table(mean: float, sd: float, drop: float) -> tuple[tuple[int, ...], float]:
    """Integer increments per bin of the winsorised Gaussian LLR for a drop of `drop`."""
    centres = np.clip(CENTRES, mean - 4 * sd, mean + 4 * sd)
    llr = (drop / sd**2) * (mean - drop / 2 - centres)
    unit = float(np.abs(llr).max()) / RESOLUTION
    return tuple(int(v) for v in np.rint(llr / unit)), unit


def calibrate_scores(
    probs: FloatArray, mean: float, sd: float, drop: float, arl0: float
) -> ScoreDesign:
    """The smallest threshold whose in-control run length under `probs` reaches `arl0`."""
    table, unit = score_table(mean, sd, drop)
    jumps = np.array(table, dtype=np.int64)
    keep = probs > 0

    def arl(top: int) -> float:
        return float(jump_run_lengths(jumps[keep], probs[keep], top)[0])

    slope = _adjustment(jumps[keep], probs[keep]) if keep.any() else 0.0
    info = drop**2 / (2 * sd**2)
    guess = math.ceil(max(math.log(max(arl0 * info, 2.0)), 1.0) / unit)
    return ScoreDesign(drop, table, unit, smallest_top(arl, arl0, guess, slope))


def _adjustment(jumps: np.ndarray[Any, Any], probs: FloatArray) -> float:
    """theta > 0 with sum p_k exp(theta w_k) = 1 (per lattice step), 0 if the drift is >= 0."""
    if float(probs @ jumps) >= 0 or jumps.max() <= 0:
        return 0.0
    lo, hi = 0.0, 1.0
    while float(probs @ np.exp(hi * jumps)) < 1:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        if float(probs @ np.exp(mid * jumps)) < 1:
            lo = mid
        else:
            hi = mid
    return hi
