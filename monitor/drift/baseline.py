"""Baselines: learned in a warm-up, pooled across platforms, designed on an upper bound.

The in-control failure rate p0 is the biggest risk to a CUSUM's false-alarm rate (research note
T5: a p0 1.25x too low turns a 30-day ARL0 into 2-12 days), so it is handled conservatively:

- **Warm-up.** A baseline is unusable until it has seen `warmup_failures` failures (about 43:
  the upper 95 % bound is then within +25 %) and at least `warmup_min_s`, or `warmup_max_s`
  has passed. Meanwhile only the absolute ceiling can page.
- **Pooled.** Counts are kept per (model, suite, detector, version) across platforms and pools
  (same model, same expected rate) with exponential forgetting, and per series. A series whose
  own counts clearly disagree with the pool (|z| > 3) uses its own; otherwise the design never
  falls below the series' own point estimate, so pooling cannot hide a worse platform.
- **Upper bound.** The design rate is the Jeffreys upper bound at `confidence`.
- **Clean data only, bounded drift.** After warm-up only hours in which the series stayed below
  half its threshold and was not alarmed are counted, and the design moves at most
  `max_drift_per_day` per day, so a slow degradation is not learned as normal.
- **Versioned.** A new model or suite version is a new key: a new baseline and a new warm-up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from monitor.drift.stats import jeffreys_upper

DAY_S = 86_400.0
MIN_RATE = 1e-4  # design floor: below it a "2x" shift is a handful of failures a month
HETEROGENEOUS_Z = 3.0
REDESIGN_S = 6 * 3600.0  # how often a warm baseline's design rate is recomputed


@dataclass(frozen=True, slots=True)
class BaselinePolicy:
    """How baselines are learned (from `DriftConfig`)."""

    warmup_min_s: float = DAY_S
    warmup_max_s: float = 7 * DAY_S
    warmup_failures: float = 43.0
    confidence: float = 0.9
    half_life_s: float = 14 * DAY_S
    max_drift_per_day: float = 0.1
    fixed_rate: float | None = None  # a known baseline: no learning at all


@dataclass(slots=True)
class Counts:
    """Failure and trial counts with exponential forgetting (fractional after decay)."""

    failures: float = 0.0
    trials: float = 0.0

    def decay(self, factor: float) -> None:
        self.failures *= factor
        self.trials *= factor

    def add(self, failures: float, trials: float) -> None:
        self.failures += failures
        self.trials += trials

    @property
    def rate(self) -> float:
        return self.failures / self.trials if self.trials > 0 else 0.0


@dataclass(slots=True)
class Baseline:
    """One pooled baseline: counts, warm-up progress and the current design rate."""

    counts: Counts = field(default_factory=Counts)
    started_t: float | None = None
    design: float | None = None  # None while warming up
    updated_t: float = 0.0  # counts last decayed and added
    designed_t: float = 0.0  # design last recomputed

    @property
    def warm(self) -> bool:
        return self.design is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "failures": self.counts.failures,
            "trials": self.counts.trials,
            "started_t": self.started_t,
            "design": self.design,
            "updated_t": self.updated_t,
            "designed_t": self.designed_t,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Baseline:
        return cls(
            Counts(float(data["failures"]), float(data["trials"])),
            None if data["started_t"] is None else float(data["started_t"]),
            None if data["design"] is None else float(data["design"]),
            float(data["updated_t"]),
            float(data.get("designed_t", data["updated_t"])),
        )


def upper(counts: Counts, policy: BaselinePolicy) -> float:
    return max(MIN_RATE, jeffreys_upper(counts.failures, counts.trials, policy.confidence))


def update(
    baseline: Baseline, failures: float, trials: float, t: float, policy: BaselinePolicy
) -> bool:
    """Fold an hour's clean counts in at time `t` (forgetting first); returns True if the
    design rate changed. After the warm-up the design is recomputed every `REDESIGN_S`, within
    `max_drift_per_day` of where it was."""
    if policy.fixed_rate is not None:
        changed = baseline.design != policy.fixed_rate
        baseline.design = policy.fixed_rate
        return changed
    if baseline.started_t is None:
        if trials <= 0:
            return False
        baseline.started_t = baseline.updated_t = t
    elapsed = max(0.0, t - baseline.updated_t)
    baseline.counts.decay(0.5 ** (elapsed / policy.half_life_s))
    baseline.counts.add(failures, trials)
    baseline.updated_t = t
    previous = baseline.design
    if previous is None:
        age = t - baseline.started_t
        ready = age >= policy.warmup_min_s and baseline.counts.failures >= policy.warmup_failures
        if not (ready or age >= policy.warmup_max_s) or baseline.counts.trials <= 0:
            return False
        baseline.design, baseline.designed_t = upper(baseline.counts, policy), t
        return True
    if t - baseline.designed_t < REDESIGN_S:
        return False
    step = (1 + policy.max_drift_per_day) ** ((t - baseline.designed_t) / DAY_S)
    baseline.design = min(max(upper(baseline.counts, policy), previous / step), previous * step)
    baseline.designed_t = t
    return bool(abs(baseline.design / previous - 1) > 1e-12)


def series_rate(pooled: Baseline, own: Counts, policy: BaselinePolicy) -> float | None:
    """The rate one series is designed on: the pool's, unless its own counts disagree."""
    if pooled.design is None:
        return None
    if policy.fixed_rate is not None:
        return policy.fixed_rate
    expected = own.trials * pooled.counts.rate
    if own.trials > 0 and expected > 0:
        z = (own.failures - expected) / math.sqrt(expected)
        if abs(z) > HETEROGENEOUS_Z:
            return upper(own, policy)
    return max(pooled.design, own.rate)
