"""Cross-platform divergence: the conditional test that needs no baseline rate.

Label every failure of a (model, suite, detector) with the series it came from. If all series
share one failure rate p(t) up to their known relative rates, whatever p(t) does (load, time of
day, model stochasticity), a failure comes from series j with probability

    pi0_j = w_j / sum(w),   w_j = probe rate of j * relative failure rate of j,

so "this failure was j's" is a Bernoulli(pi0_j) label under H0 (Kulldorff et al. 2011; the
conditional form of Li & Kulldorff 2010). If j's rate becomes R times the others',
pi1 = R pi0 / (1 + (R - 1) pi0). A Bernoulli CUSUM bank on the labels, per series, with the same
exact calibration and ARL0 counted in failure events of the group, pages when one platform or
pool drifts away from its siblings, and cancels common-mode swings. The null tolerates a
`tolerance`-fold rate difference, because platforms are never exactly alike.
"""

from __future__ import annotations

from monitor.drift.designs import Pace, Slot, binary_slot, grid_up, joint_factor

RATIOS = (2.0, 8.0)


def label_rate(pi0: float, ratio: float) -> float:
    """The label probability when the series' rate is `ratio` times its siblings'."""
    return ratio * pi0 / (1 + (ratio - 1) * pi0)


def group_designs(
    weights: dict[int, float],
    event_rate: float,
    arl0_s: float,
    tolerance: float,
    recovery_s: float,
) -> dict[int, list[Slot]]:
    """Divergence members for every series of a group (keyed by index).

    `weights` are probe rate times relative failure rate; `event_rate` is the group's expected
    failures per second, which turns the ARL0 target in seconds into failure events.
    """
    total = sum(weights.values())
    out: dict[int, list[Slot]] = {}
    if len(weights) < 2 or total <= 0 or event_rate <= 0:
        return out
    pace = Pace(event_rate)
    for index, weight in weights.items():
        pi0 = grid_up(weight / total, 0.02)
        null = label_rate(pi0, tolerance)
        members = [(f"d{r:g}", label_rate(pi0, r)) for r in RATIOS if label_rate(pi0, r) > null]
        factor = joint_factor(len(members))
        out[index] = [
            binary_slot(
                name, null, p1, at=null, arl0_s=arl0_s * factor, pace=pace, recovery_s=recovery_s
            )
            for name, p1 in members
            if p1 < 0.99
        ]
    return out
