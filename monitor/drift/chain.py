"""Exact run lengths of integer-lattice CUSUMs (Brook & Evans 1972), and thresholds from them.

The daemon runs every CUSUM on an integer lattice: a failure adds `up`, a success subtracts
`down`, the statistic is floored at 0 and alarms at `top`. Because the weights are integers the
statistic is a finite Markov chain, so the average run length (ARL) from every state is the
solution of (I - Q) L = r, exactly (r = 1 counts probes; r = the probe interval counts seconds,
which is how adaptive probing is calibrated in wall-clock time). No renewal approximation, no
Monte Carlo: the threshold that meets a false-alarm budget is found by searching on `top`.

Two solvers, both O(states):

- `down == 1` and negative drift (in control): backward shooting from the top with one unknown,
  vectorised in blocks of `up` states. Stable there and fast even at 10^5 states.
- otherwise: banded Gaussian elimination without pivoting (I - Q is an M-matrix, so it is
  stable), one vector operation per state and per unit of downward reach.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

MAX_DOWN = 64  # lattice resolution for the success step (research note 4.4)
RATIO_TOL = 0.002  # |up/down - a/b| / (a/b) after rounding
MAX_TOP = 2_000_000  # states; a guard against impossible targets, far above any real design


@dataclass(frozen=True, slots=True)
class Lattice:
    """Integer weights of a Bernoulli LLR CUSUM: +up on a failure, -down on a success.

    `unit` is the size of one lattice step in nats, so a statistic Z is worth Z * unit nats.
    """

    up: int
    down: int
    unit: float


def llr_weights(p0: float, p1: float) -> tuple[float, float]:
    """(a, b): a failure adds a = ln(p1/p0) nats, a success subtracts b = ln((1-p0)/(1-p1))."""
    return math.log(p1 / p0), math.log((1 - p0) / (1 - p1))


def kl_bernoulli(p1: float, p0: float) -> float:
    """KL(Bern(p1) || Bern(p0)) in nats: the information one post-change probe carries."""
    return p1 * math.log(p1 / p0) + (1 - p1) * math.log((1 - p1) / (1 - p0))


def lattice_for(
    p0: float, p1: float, *, max_down: int = MAX_DOWN, ratio_tol: float = RATIO_TOL
) -> Lattice:
    """The smallest `down` <= max_down whose rounded `up` matches a/b to `ratio_tol` (else the
    best). The defaults reproduce the exact LLR chart to 0.2 %; the daemon's members use a
    coarser lattice (see `designs`), which is exactly calibrated for the weights it runs."""
    if not 0 < p0 < p1 < 1:
        raise ValueError(f"need 0 < p0 < p1 < 1, got p0={p0}, p1={p1}")
    a, b = llr_weights(p0, p1)
    ratio = a / b
    best: tuple[float, int, int] | None = None
    for down in range(1, max_down + 1):
        up = max(1, round(ratio * down))
        error = abs(up / down - ratio) / ratio
        if error <= ratio_tol:
            return Lattice(up, down, b / down)
        if best is None or error < best[0]:
            best = (error, up, down)
    assert best is not None
    return Lattice(best[1], best[2], b / best[2])


def run_lengths(
    p: float, lattice: Lattice, top: int, reward: FloatArray | None = None
) -> FloatArray:
    """Expected reward until the statistic reaches `top`, from each state 0..top-1.

    Each probe fails with probability `p`; `reward[i]` is earned on a step taken from state i
    (1 by default: the ARL in probes).
    """
    if top < 1:
        raise ValueError("top must be >= 1")
    r = np.ones(top) if reward is None else np.asarray(reward, dtype=np.float64)
    if lattice.down == 1 and p * lattice.up < 0.9 * (1 - p):
        return _shoot(p, lattice.up, top, r)
    return jump_run_lengths(np.array([lattice.up, -lattice.down]), np.array([p, 1 - p]), top, r)


def _shoot(p: float, up: int, top: int, r: FloatArray) -> FloatArray:
    """`down == 1`: L(i-1) = (L(i) - r_i - p L(i+up)) / q from L(top-1) = x, then solve for x."""
    q = 1.0 - p
    const = np.zeros(top + up)  # L = const + slope * x; states >= top are 0
    slope = np.zeros(top + up)
    slope[top - 1] = 1.0
    block = max(1, min(up, int(30.0 / -math.log(q))))  # keep q**-block far from overflow
    known = top - 1
    while known > 0:
        k = min(block, known)
        src = np.arange(known, known - k, -1)
        powers = q ** np.arange(k)
        inverse = q ** -np.arange(1, k + 1)
        g_const = r[src] + p * const[src + up]
        g_slope = p * slope[src + up]
        const[known - k : known] = (inverse * (const[known] - np.cumsum(powers * g_const)))[::-1]
        slope[known - k : known] = (inverse * (slope[known] - np.cumsum(powers * g_slope)))[::-1]
        known -= k
    # State 0 reflects: L(0) = r_0 + p L(up) + q L(0), i.e. p (L(0) - L(up)) = r_0.
    x = (r[0] - p * (const[0] - const[up])) / (p * (slope[0] - slope[up]))
    solution: FloatArray = (const + slope * x)[:top]
    return solution


def jump_run_lengths(
    jumps: npt.NDArray[np.int64],
    probs: FloatArray,
    top: int,
    reward: FloatArray | None = None,
) -> FloatArray:
    """The general chain: from state i the statistic moves to max(0, i + jumps[k]) w.p. probs[k];
    reaching `top` or more absorbs. Banded elimination, exact up to rounding."""
    r = np.ones(top) if reward is None else np.array(reward, dtype=np.float64)
    below = max(0, -int(jumps.min()))
    above = max(0, int(jumps.max()))
    width = below + above + 1
    band = np.zeros((top, width))  # band[i, below + (j - i)] = (I - Q)[i, j]
    band[:, below] = 1.0
    rows = np.arange(top)
    for jump, prob in zip(jumps.tolist(), probs.tolist(), strict=True):
        if prob <= 0.0:
            continue
        if jump >= 0:
            keep = rows + jump < top
            band[rows[keep], below + jump] -= prob
        else:
            target = np.maximum(rows + jump, 0)
            np.subtract.at(band, (rows, below + target - rows), prob)
    for i in range(top):
        for offset in range(max(-below, -i), 0):
            value = band[i, below + offset]
            if value == 0.0:
                continue
            j = i + offset
            factor = value / band[j, below]
            band[i, below + offset : below + offset + above + 1] -= (
                factor * band[j, below : below + above + 1]
            )
            r[i] -= factor * r[j]
    x = np.zeros(top + above)
    for i in range(top - 1, -1, -1):
        x[i] = (r[i] - band[i, below + 1 :] @ x[i + 1 : i + above + 1]) / band[i, below]
    solution: FloatArray = x[:top]
    return solution


def smallest_top(arl: Callable[[int], float], target: float, guess: int, slope: float) -> int:
    """The smallest `top` >= 1 with arl(top) >= target; `arl` must be nondecreasing in top.

    ln ARL is close to linear in `top` with `slope` per state (the adjustment coefficient times
    the lattice unit), so one secant step from `guess` lands within a few states; a short
    bracket and bisection then make the answer exact. About six solves.
    """
    top = max(1, guess)
    value = arl(top)
    if value > 0 and slope > 0:
        top = max(1, top + round((math.log(target) - math.log(value)) / slope))
        value = arl(top)
    step = max(1, round(0.05 / slope)) if slope > 0 else 1
    if value >= target:
        hi, lo = top, top - step
        while lo >= 1 and arl(lo) >= target:
            hi, lo, step = lo, lo - 2 * step, 2 * step
        lo = max(lo, 0)
    else:
        lo, hi = top, top + step
        while arl(hi) < target:
            if hi > MAX_TOP:
                raise ValueError(f"no threshold reaches ARL0 {target:.3g} below {MAX_TOP} states")
            lo, hi, step = hi, hi + 2 * step, 2 * step
    while hi - lo > 1:  # invariant: arl(hi) >= target > arl(lo); lo = 0 counts as below
        mid = (lo + hi) // 2
        if arl(mid) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def adjustment(p: float, lattice: Lattice) -> float:
    """theta > 0 with p e^(theta a) + (1 - p) e^(-theta b) = 1 (0 if the drift is not negative):
    ln ARL grows by about theta nats per nat of threshold."""
    a, b = lattice.up * lattice.unit, lattice.down * lattice.unit
    if p * a - (1 - p) * b >= 0:
        return 0.0
    lo, hi = 0.0, 1.0
    while p * math.exp(hi * a) + (1 - p) * math.exp(-hi * b) < 1:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        if p * math.exp(mid * a) + (1 - p) * math.exp(-mid * b) < 1:
            lo = mid
        else:
            hi = mid
    return hi


@dataclass(frozen=True, slots=True)
class Calibration:
    """A CUSUM design with its exact threshold: alarm when the lattice statistic reaches `top`."""

    p0: float  # the rate the false-alarm target holds at
    p1: float
    lattice: Lattice
    top: int
    arl0: float  # exact in-control run length at p0, in the target's units

    @property
    def threshold(self) -> float:
        """h in nats."""
        return self.top * self.lattice.unit


def calibrate(
    p0: float,
    p1: float,
    arl0: float,
    *,
    at: float | None = None,
    reward: Callable[[int], FloatArray] | None = None,
    lattice: Lattice | None = None,
) -> Calibration:
    """Threshold of the (p0 -> p1) CUSUM whose in-control run length is at least `arl0`.

    `at` is the failure rate the guarantee holds at (default p0; a higher rate gives a design
    that also tolerates that much baseline error). `reward(top)` gives the per-state cost, e.g.
    the probe interval in seconds under adaptive probing; `arl0` is then in those units.
    `lattice` overrides the default (0.2 %) lattice.
    """
    lattice = lattice or lattice_for(p0, p1)
    rate = p0 if at is None else at

    def arl(top: int) -> float:
        return float(run_lengths(rate, lattice, top, None if reward is None else reward(top))[0])

    a, b = llr_weights(p0, p1)
    info = max(kl_bernoulli(p1, p0), 1e-12)
    guess_nats = max(math.log(max(arl0 * info, 2.0)), a, b)
    slope = adjustment(rate, lattice) * lattice.unit
    top = smallest_top(arl, arl0, math.ceil(guess_nats / lattice.unit), slope)
    return Calibration(p0, p1, lattice, top, arl(top))


def arl_at(p: float, calibration: Calibration, state: int = 0) -> float:
    """Exact run length in probes from `state` when each probe fails with probability p."""
    return float(run_lengths(p, calibration.lattice, calibration.top)[state])


def lorden_probes(p0: float, p1: float, arl0: float) -> float:
    """Lorden's first-order delay ln(ARL0) / KL(p1 || p0): a bound the optimum beats."""
    return math.log(arl0) / kl_bernoulli(p1, p0)
