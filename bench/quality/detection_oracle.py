"""The yardsticks: an oracle CUSUM that knows p0 and p1, and the naive "k failures in 5 minutes".

Both are calibrated to the false-alarm rate the daemon actually achieved (gamma, in probes) and
run on the same probes the daemon saw, from the end of the warm-up, restarting after each false
alarm, so that their delay after the change is a steady-state delay like the daemon's.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from monitor.drift.chain import calibrate, jump_run_lengths, smallest_top
from monitor.drift.scores import BINS, RESOLUTION
from monitor.drift.stats import beta_cdf

I8 = npt.NDArray[np.int8]
I64 = npt.NDArray[np.int64]
WINDOW = 30  # 5 minutes of probes at one per 10 s


@lru_cache(maxsize=4096)
def oracle_design(p0: float, p1: float, gamma: float) -> tuple[int, int, int]:
    """(up, down, top) of the exact (p0 -> p1) CUSUM with in-control ARL `gamma` probes."""
    cal = calibrate(p0, p1, gamma)
    return cal.lattice.up, cal.lattice.down, cal.top


def first_alarm(w: I64, top: int, start: int) -> int | None:
    """Index of the first alarm at or after `start` of a CUSUM with increments `w` from zero
    state, restarting (from zero) after alarms before `start`."""
    pos = 0
    while pos < w.shape[0]:
        total = np.cumsum(w[pos:])
        z = total - np.minimum.accumulate(np.minimum(total, 0))
        hit = np.flatnonzero(z >= top)
        if hit.shape[0] == 0:
            return None
        at = pos + int(hit[0])
        if at >= start:
            return at
        pos = at + 1
    return None


def oracle_delay(failed: I8, p0: float, p1: float, gamma: float, start: int) -> int | None:
    up, down, top = oracle_design(p0, p1, gamma)
    w = np.where(failed == 1, up, np.where(failed == 0, -down, 0)).astype(np.int64)
    return first_alarm(w, top, start)


def naive_k(p0: float, gamma: float, window: int = WINDOW) -> int:
    """Smallest k whose "k of the last `window`" rule has an in-control ARL >= gamma, by the
    up-crossing approximation 1 / [p0 (1 - p0) P(Bin(window - 1, p0) = k - 1)]."""
    for k in range(1, window + 1):
        pmf = math.comb(window - 1, k - 1) * p0 ** (k - 1) * (1 - p0) ** (window - k)
        if 1.0 / (p0 * (1 - p0) * pmf) >= gamma:
            return k
    return window + 1


def naive_delay(failed: I8, k: int, start: int, window: int = WINDOW) -> int | None:
    ones = np.concatenate([[0], np.cumsum(failed == 1)])
    counts = ones[window:] - ones[:-window]  # failures in the window ending at index i
    hit = np.flatnonzero(counts[max(0, start - window + 1) :] >= k)
    if hit.shape[0] == 0:
        return None
    return int(hit[0]) + max(0, start - window + 1) + window - 1


def beta_bins(a: float, b: float) -> npt.NDArray[np.float64]:
    edges = [beta_cdf(i / BINS, a, b) for i in range(BINS + 1)]
    return np.diff(np.array(edges))


@lru_cache(maxsize=1024)
def score_oracle(
    shape: tuple[float, float], drop: float, gamma: float
) -> tuple[tuple[int, ...], int]:
    """The exact Beta LLR (baseline Beta(a, b) against the same concentration with the mean
    lowered by `drop`) on the daemon's 50 score bins, calibrated under the baseline."""
    a, b = shape
    mean = a / (a + b) - drop
    a1, b1 = mean * (a + b), (1 - mean) * (a + b)
    p0, p1 = beta_bins(a, b), beta_bins(a1, b1)
    keep = p0 > 1e-12
    llr = np.where(keep, np.log(np.maximum(p1, 1e-300) / np.maximum(p0, 1e-300)), 0.0)
    unit = float(np.abs(llr[keep]).max()) / RESOLUTION
    table = np.rint(llr / unit).astype(np.int64)

    def arl(top: int) -> float:
        return float(jump_run_lengths(table[keep], p0[keep], top)[0])

    top = smallest_top(arl, gamma, max(1, math.ceil(math.log(gamma) / unit / 2)), 0.0)
    return tuple(int(v) for v in table), top


def score_delay(
    bins: I64, shape: tuple[float, float], drop: float, gamma: float, start: int
) -> int | None:
    table, top = score_oracle(shape, drop, gamma)
    return first_alarm(np.array(table, dtype=np.int64)[bins], top, start)
