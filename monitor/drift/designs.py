"""Bank designs for one series, from its baseline and its share of the false-page budget.

Members are log-spaced in the post-change rate (research note 4.1): p1 = 2, 8 and 50 times the
design baseline, plus p1 = 0.5, because the size of a real shift is unknown. Each member's
threshold is exact for its share: the series' ARL0 target divided among members with a joint
factor (min(K, 2): members alarm on the same excursions, so K members at 2x the bank's target
and the upper-bound design keep the bank inside it; the benchmark measures the fleet at about
0.4 of its budget). The smallest member is calibrated at `tolerance` times the design baseline,
so a baseline that much off, or a diurnal swing that large, still keeps the budget.

Calibrations are cached on a 1 % grid of rates (rounded up, so the grid is conservative) and a
5 % grid of ARL0 targets (rounded up): a fleet of hundreds of series with drifting baselines
needs only a few hundred distinct solves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from monitor.drift.chain import FloatArray, calibrate, lattice_for
from monitor.drift.scores import calibrate_scores

RATIOS = (2.0, 8.0, 50.0)
ABSOLUTE = 0.5
MAX_FACTOR = 2.0
SMALLEST_WEIGHT = 2.0
RATE_GRID = 0.01
ARL_GRID = 0.05
MAX_DOWN = 4  # success steps of at most 4 lattice units keep every solve fast
RATIO_TOL = 0.015  # weights within 1.5 % of the LLR: a negligibly different design p1


@dataclass(frozen=True, slots=True)
class Slot:
    """One bank member: the integer increment of every observation, and its thresholds."""

    name: str
    score: bool  # reads scores (table by bin) rather than pass/fail (up/down)
    up: int
    down: int
    table: tuple[int, ...]
    unit: float  # nats per lattice step
    top: int  # alarm at top
    rtop: int  # recover when the reverse statistic reaches rtop
    p0: float  # design null (a failure rate, or a mean score)
    p1: float  # design alternative


@dataclass(frozen=True, slots=True)
class Pace:
    """How a series is probed: `rate` observations per second, faster (`fast_rate`) while its
    statistic is at or above `fraction` of the threshold (adaptive probing; 0 = never)."""

    rate: float
    fast_rate: float = 0.0
    fraction: float = 0.0

    @property
    def adaptive(self) -> bool:
        return self.fast_rate > self.rate and self.fraction > 0


def grid_up(value: float, step: float) -> float:
    """The smallest point of the geometric grid (1 + step)^k that is >= value."""
    k = math.ceil(math.log(value) / math.log1p(step) - 1e-9)
    return float(math.exp(k * math.log1p(step)))


def recovery_top(unit: float, recovery_probes: float) -> int:
    """Lorden: a one-sided CUSUM at h = ln(T) runs at least T under its null, so the reverse
    test falsely declares recovery during an ongoing shift at most once per T probes."""
    return max(1, math.ceil(math.log(max(recovery_probes, math.e)) / unit))


def binary_designs(
    p_base: float, tolerance: float, extra: float | None
) -> list[tuple[str, float, float]]:
    """(name, null, p1) of the bank members for a design baseline p_base.

    The smallest member (x2) takes `tolerance * p_base` as its null: it is the member a
    baseline error or a diurnal swing moves (its false-alarm rate grows like p^12, the x8
    member's like p^4), so it alone is calibrated to keep the budget up to that factor.
    """
    members = []
    for r in RATIOS:
        null = (tolerance if r == RATIOS[0] else 1.0) * p_base
        if 1.2 * null < r * p_base < 0.9 * ABSOLUTE:
            members.append((f"x{r:g}", null, r * p_base))
    if p_base * 1.2 < ABSOLUTE:
        members.append(("abs", p_base, ABSOLUTE))
    if (
        extra is not None
        and p_base * 1.2 < extra < 1
        and all(abs(p / extra - 1) > 0.1 for _, _, p in members)
    ):
        members.append(("design", p_base, extra))
    return members


def binary_slot(
    name: str, p0: float, p1: float, *, at: float, arl0_s: float, pace: Pace, recovery_s: float
) -> Slot:
    """A calibrated Bernoulli member whose in-control time to alarm at rate `at` is >= arl0_s.

    Rates should already sit on the `grid_up` grid (the caller rounds the baseline once, so
    that every member of every series on that baseline shares a cache entry).
    """
    p1 = min(p1, 0.99)
    if p1 <= p0:
        p1 = min(0.99, 1.2 * p0)
    if pace.adaptive:
        key = (pace.rate, pace.fast_rate, pace.fraction)
        target = grid_up(arl0_s, ARL_GRID)
    else:
        key, target = None, grid_up(arl0_s * pace.rate, ARL_GRID)
    up, down, unit, top = _calibrated(p0, p1, at, target, key)
    rtop = recovery_top(unit, recovery_s * pace.rate)
    return Slot(name, False, up, down, (), unit, top, rtop, p0, p1)


@lru_cache(maxsize=8192)
def _calibrated(
    p0: float, p1: float, at: float, target: float, adaptive: tuple[float, float, float] | None
) -> tuple[int, int, float, int]:
    reward: Callable[[int], FloatArray] | None = None
    if adaptive is not None:
        slow, fast, fraction = 1.0 / adaptive[0], 1.0 / adaptive[1], adaptive[2]

        def reward(top: int) -> FloatArray:
            seconds = np.full(top, slow)
            seconds[math.ceil(fraction * top) :] = fast
            return seconds

    lattice = lattice_for(p0, p1, max_down=MAX_DOWN, ratio_tol=RATIO_TOL)
    cal = calibrate(p0, p1, target, at=at, reward=reward, lattice=lattice)
    return lattice.up, lattice.down, lattice.unit, cal.top


def score_slots(
    probs: FloatArray,
    mean: float,
    sd: float,
    *,
    drops_sd: tuple[float, ...],
    arl0_s: float,
    pace: Pace,
    recovery_s: float,
) -> list[Slot]:
    """Calibrated score members (mean drops of `drops_sd` standard deviations)."""
    key = tuple(float(v) for v in probs)
    target = grid_up(arl0_s, ARL_GRID)
    return list(
        _score_slots(
            key, mean, sd, drops_sd=drops_sd, arl0_s=target, pace=pace, recovery_s=recovery_s
        )
    )


@lru_cache(maxsize=1024)
def _score_slots(
    probs: tuple[float, ...],
    mean: float,
    sd: float,
    *,
    drops_sd: tuple[float, ...],
    arl0_s: float,
    pace: Pace,
    recovery_s: float,
) -> tuple[Slot, ...]:
    slots = []
    for k in drops_sd:
        design = calibrate_scores(np.array(probs), mean, sd, k * sd, arl0_s * pace.rate)
        slots.append(
            Slot(
                f"s{k:g}",
                True,
                0,
                0,
                design.table,
                design.unit,
                design.top,
                recovery_top(design.unit, recovery_s * pace.rate),
                mean,
                mean - k * sd,
            )
        )
    return tuple(slots)


def joint_factor(members: int) -> float:
    """Each of K members gets ARL0 * min(K, 2): see the module docstring."""
    return min(float(members), MAX_FACTOR)


def member_arls(names: list[str], arl0_s: float) -> dict[str, float]:
    """Each member's ARL0 for a bank whose ARL0 is `arl0_s`.

    The bank's false-alarm rate is shared by weight: the smallest design (x2) gets twice the
    share of the others. Its threshold is the lowest of the bank, and a delay grows like
    h + const, so a given factor on ARL0 costs it the most: spending budget there buys the
    most delay (d ln delay / d ln ARL0 is about 1/h).
    """
    weights = {name: SMALLEST_WEIGHT if name == "x2" else 1.0 for name in names}
    if not weights:
        return {}
    mean = sum(weights.values()) / len(weights)
    factor = joint_factor(len(weights))
    return {name: arl0_s * factor * mean / w for name, w in weights.items()}
