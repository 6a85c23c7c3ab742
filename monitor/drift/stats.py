"""Small exact distribution functions, so the daemon needs numpy but not scipy.

Baselines are designed on an upper confidence bound of the failure rate (Jeffreys, i.e. a Beta
quantile), and the benchmark reports false alarms with exact Poisson (Garwood) intervals, which
are chi-square (Gamma) quantiles. Both come from the regularised incomplete beta and gamma
functions (continued fractions, Numerical Recipes 6.2 and 6.4) and bisection.
"""

from __future__ import annotations

import math
from statistics import NormalDist

_EPS = 1e-14
_TINY = 1e-300


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def beta_cdf(x: float, a: float, b: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def beta_quantile(q: float, a: float, b: float) -> float:
    """x with I_x(a, b) = q.

    For a, b >= 10 the Abramowitz & Stegun 26.5.22 approximation is used as is (relative error
    below 0.2 %, which is far inside the statistical uncertainty of a baseline, and it errs
    upwards); smaller shapes refine it by Newton's method, with bisection (on a log scale near
    0, as rates are often tiny) as the fallback.
    """
    if a > 1 and b > 1:
        y = NormalDist().inv_cdf(1 - q)  # A&S use the upper-tail quantile
        lam = (y * y - 3) / 6
        h = 2 / (1 / (2 * a - 1) + 1 / (2 * b - 1))
        w = y * math.sqrt(h + lam) / h - (1 / (2 * b - 1) - 1 / (2 * a - 1)) * (
            lam + 5 / 6 - 2 / (3 * h)
        )
        x = a / (a + b * math.exp(2 * w))
        if a >= 10 and b >= 10:
            return x
        log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
        for _ in range(20):
            if not 0 < x < 1:
                break
            pdf = math.exp(log_norm + (a - 1) * math.log(x) + (b - 1) * math.log1p(-x))
            step = (beta_cdf(x, a, b) - q) / pdf
            x -= step
            if abs(step) <= 1e-13 * x and 0 < x < 1:
                return x
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = math.sqrt(lo * hi) if lo > 0 and hi < 0.5 else (lo + hi) / 2
        if mid <= lo or mid >= hi:
            mid = (lo + hi) / 2
        if beta_cdf(mid, a, b) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return hi


def jeffreys_upper(failures: float, trials: float, confidence: float) -> float:
    """Upper Jeffreys bound on a binomial rate: the `confidence` quantile of
    Beta(failures + 1/2, trials - failures + 1/2). Counts may be fractional (forgetting)."""
    if trials <= 0:
        return 1.0
    failures = min(max(failures, 0.0), trials)
    return beta_quantile(confidence, failures + 0.5, trials - failures + 0.5)


def gamma_cdf(x: float, a: float) -> float:
    """Regularised lower incomplete gamma P(a, x)."""
    if x <= 0.0:
        return 0.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:  # series
        term = total = 1.0 / a
        n = a
        for _ in range(10_000):
            n += 1.0
            term *= x / n
            total += term
            if abs(term) < abs(total) * _EPS:
                break
        return total * math.exp(log_front)
    b = x + 1.0 - a  # continued fraction for Q
    c, d = 1.0 / _TINY, 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = b + an / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return 1.0 - math.exp(log_front) * h


def gamma_quantile(q: float, a: float) -> float:
    lo, hi = 0.0, max(1.0, 2.0 * a)
    while gamma_cdf(hi, a) < q:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if gamma_cdf(mid, a) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return hi


def poisson_interval(count: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval for a Poisson mean after observing `count` events."""
    alpha = 1.0 - confidence
    lower = 0.0 if count == 0 else gamma_quantile(alpha / 2, count)
    return lower, gamma_quantile(1 - alpha / 2, count + 1)
