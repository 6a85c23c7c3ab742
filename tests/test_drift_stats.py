"""Distribution functions without scipy, checked against scipy."""

from __future__ import annotations

import pytest
from scipy import stats

from monitor.drift.stats import beta_quantile, jeffreys_upper, poisson_interval


@pytest.mark.parametrize(
    ("failures", "trials"),
    [(0, 1000), (1, 1000), (3, 1000), (60, 60_480), (242, 241_920), (500, 1000), (0.4, 10.5)],
)
def test_jeffreys_upper_bound(failures: float, trials: float) -> None:
    """The design bound equals scipy's Beta quantile to 0.2 % (exactly, for small counts)."""
    expected = stats.beta.ppf(0.9, failures + 0.5, trials - failures + 0.5)
    assert jeffreys_upper(failures, trials, 0.9) == pytest.approx(expected, rel=0.002)


def test_beta_quantile_errs_upwards_for_large_shapes() -> None:
    """The closed-form approximation used for large shapes is never below the exact bound."""
    for a, b in [(10.5, 5000.5), (40.5, 60_000.5), (100.5, 900.5)]:
        assert beta_quantile(0.9, a, b) >= stats.beta.ppf(0.9, a, b) * (1 - 1e-9)


@pytest.mark.parametrize("count", [0, 1, 5, 100, 1000])
def test_garwood_interval(count: int) -> None:
    """Exact Poisson interval for a count of false alarms, as chi-square quantiles."""
    lo, hi = poisson_interval(count)
    assert lo == pytest.approx(stats.chi2.ppf(0.025, 2 * count) / 2 if count else 0.0, abs=1e-9)
    assert hi == pytest.approx(stats.chi2.ppf(0.975, 2 * count + 2) / 2, rel=1e-9)
