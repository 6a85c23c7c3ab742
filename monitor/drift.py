"""Sequential change detection per series: a Bernoulli CUSUM with a false-page budget.

Each (platform, pool, model, suite, detector) series feeds 0/1 outcomes (the check failed or
not) into Page's CUSUM on the log-likelihood ratio of a design shift p0 -> p1. The fleet's
false-page budget (e.g. one a week) is split evenly over the series, because expected false
alarms add up across series whatever their dependence; each series' threshold then follows from
its in-control average run length (ARL0).

Two pseudo-detectors ride along: `any` (some check of the probe failed) and `probe_error`
(timeouts and errors, which are missing data for the checks, never successes).

Threshold: h = ln(ARL0 * I) with I = KL(p1 || p0), the first-order renewal approximation of
ARL0 ~ e^h / I; it errs towards fewer false alarms.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

ANY_CHECK = "any"
PROBE_ERROR = "probe_error"
WEEK_S = 7 * 24 * 3600.0

SeriesId = tuple[str, str, str, str, str]  # platform, pool, model, suite, detector
Event = Literal["alarm", "recovered"]


def kl_bernoulli(p1: float, p0: float) -> float:
    """KL(Bern(p1) || Bern(p0)) in nats: the information one post-change probe carries."""
    return p1 * math.log(p1 / p0) + (1 - p1) * math.log((1 - p1) / (1 - p0))


def threshold_for(p0: float, p1: float, arl0_probes: float) -> float:
    """CUSUM threshold h for an in-control run length of `arl0_probes` (see module doc)."""
    return max(math.log(max(arl0_probes * kl_bernoulli(p1, p0), math.e)), 1.0)


@dataclass(slots=True)
class CusumState:
    """The persisted state of one series' detector."""

    statistic: float = 0.0  # upward CUSUM S_n, capped at 2h while latched
    recovery: float = 0.0  # reverse CUSUM run while latched (p1 -> p0)
    alarmed: bool = False
    observations: int = 0
    alarms: int = 0


class BernoulliCusum:
    """Page's CUSUM for a rate shift p0 -> p1, with a latched alarm and a reverse recovery test."""

    def __init__(self, p0: float, p1: float, threshold: float) -> None:
        self.up = math.log(p1 / p0)  # added on a failure
        self.down = math.log((1 - p0) / (1 - p1))  # subtracted on a success
        self.threshold = threshold

    def update(self, state: CusumState, failed: bool) -> Event | None:
        state.observations += 1
        step = self.up if failed else -self.down
        state.statistic = min(max(0.0, state.statistic + step), 2 * self.threshold)
        if not state.alarmed:
            if state.statistic >= self.threshold:
                state.alarmed, state.recovery = True, 0.0
                state.alarms += 1
                return "alarm"
            return None
        state.recovery = max(0.0, state.recovery - step)
        if state.recovery >= self.threshold:
            state.alarmed, state.statistic, state.recovery = False, 0.0, 0.0
            return "recovered"
        return None

    def ratio(self, state: CusumState) -> float:
        return state.statistic / self.threshold


@dataclass(frozen=True, slots=True)
class SeriesPlan:
    """How often one series is observed, to size its share of the false-page budget."""

    series: SeriesId
    observations_per_s: float


class DriftEngine:
    """All series' detectors; pure state machine, the caller persists `snapshot()`."""

    def __init__(self, p0: float, p1: float, false_pages_per_week: float) -> None:
        self.p0, self.p1, self.false_pages_per_week = p0, p1, false_pages_per_week
        self.states: dict[SeriesId, CusumState] = {}
        self.detectors: dict[SeriesId, BernoulliCusum] = {}

    def configure(self, plans: Iterable[SeriesPlan]) -> None:
        """Size every series' threshold; drop state of series no longer configured."""
        plans = list(plans)
        if not plans:
            self.detectors.clear()
            return
        fleet_interval_s = WEEK_S / self.false_pages_per_week
        series_interval_s = fleet_interval_s * len(plans)
        self.detectors = {
            plan.series: BernoulliCusum(
                self.p0,
                self.p1,
                threshold_for(self.p0, self.p1, series_interval_s * plan.observations_per_s),
            )
            for plan in plans
        }
        for series in list(self.states):
            if series not in self.detectors:
                del self.states[series]
        for series in self.detectors:
            self.states.setdefault(series, CusumState())

    def observe(self, series: SeriesId, failed: bool) -> Event | None:
        detector = self.detectors.get(series)
        if detector is None:
            return None
        return detector.update(self.states[series], failed)

    def ratio(self, series: SeriesId) -> float:
        detector = self.detectors.get(series)
        return detector.ratio(self.states[series]) if detector else 0.0

    def alarmed(self, series: SeriesId) -> bool:
        state = self.states.get(series)
        return bool(state and state.alarmed)

    def threshold(self, series: SeriesId) -> float | None:
        detector = self.detectors.get(series)
        return detector.threshold if detector else None

    def snapshot(self) -> dict[str, Any]:
        return {"|".join(series): asdict(state) for series, state in self.states.items()}

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Resume from `snapshot()`; series not configured now are ignored."""
        for key, value in snapshot.items():
            parts = key.split("|")
            if len(parts) != 5:
                continue
            series: SeriesId = (parts[0], parts[1], parts[2], parts[3], parts[4])
            if series in self.detectors and isinstance(value, dict):
                try:
                    self.states[series] = CusumState(**value)
                except TypeError:
                    continue
