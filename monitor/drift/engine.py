"""The drift engine: every series' detectors, fed one result at a time or an hour at a time.

The fleet's false-page budget (`false_pages_per_week`) is split evenly over the N configured
series: expected false pages add up exactly across series whatever their dependence, so each
series gets an in-control ARL0 of N weeks / budget, in seconds; `planner` splits it again over
the series' tests. Baselines are re-estimated once an hour (on the hour of the observations'
clock) from the hour's clean data; designs follow.

`observe` is the daemon's path (one observation); `feed` is replay's and the benchmark's (one
hour of numpy columns per series, `batch`). Both run the same integer state machines and
produce the same states and changes; the only shared clock is the hour boundary, at which both
roll.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from monitor.config import DriftConfig
from monitor.drift import batch, cusum, persist, planner
from monitor.drift.baseline import Baseline, Counts, update
from monitor.drift.batch import Columns
from monitor.drift.designs import Pace
from monitor.drift.scores import BINS, ScoreBaseline, bin_of, update_scores
from monitor.drift.series import PoolKey, SeriesId, SeriesPlan, SeriesState, Tally, increments
from monitor.drift.state import Change, DriftData

ANY_CHECK = "any"
PROBE_ERROR = "probe_error"
WEEK_S = 7 * 24 * 3600.0
HOUR_S = 3600.0

__all__ = [
    "ANY_CHECK",
    "HOUR_S",
    "PROBE_ERROR",
    "WEEK_S",
    "Change",
    "Columns",
    "DriftData",
    "DriftEngine",
]


@dataclass(frozen=True, slots=True)
class Summary:
    """What the slow drift gauges show for one series."""

    baseline: float  # the failure rate the bank is designed on (0 while warming up)
    warming_up: bool
    suspect: bool  # the learned baseline exceeds the suite's golden rate
    arl0_target_s: float


class DriftEngine:
    """All series' detectors: a pure state machine; the caller persists `snapshot()`.

    `DriftEngine(p0, p1, budget)` is shorthand for a known baseline p0 (no warm-up), an extra
    design p1 and a fleet budget of `budget` false pages a week.
    """

    def __init__(
        self,
        baseline_failure_rate: float | None = None,
        design_failure_rate: float | None = None,
        false_pages_per_week: float | None = None,
        *,
        config: DriftConfig | None = None,
    ) -> None:
        values = {
            "baseline_failure_rate": baseline_failure_rate,
            "design_failure_rate": design_failure_rate,
            "false_pages_per_week": false_pages_per_week,
        }
        given = {k: v for k, v in values.items() if v is not None}
        base = config or DriftConfig()
        self.config = DriftConfig.model_validate({**base.model_dump(), **given})
        self.policy = planner.policy_of(self.config)
        self.data = DriftData()
        self.group_inputs: dict[PoolKey, tuple[object, ...]] = {}
        self.series_arl_s = 0.0

    # The state, as plain data (`state.DriftData`), under the names callers have always read.
    @property
    def states(self) -> dict[SeriesId, SeriesState]:
        return self.data.states

    @property
    def baselines(self) -> dict[PoolKey, Baseline]:
        return self.data.baselines

    @property
    def score_baselines(self) -> dict[PoolKey, ScoreBaseline]:
        return self.data.score_baselines

    @property
    def groups(self) -> dict[PoolKey, list[SeriesId]]:
        return self.data.groups

    @groups.setter
    def groups(self, value: dict[PoolKey, list[SeriesId]]) -> None:
        self.data.groups = value

    @property
    def hour(self) -> int | None:
        return self.data.hour

    @hour.setter
    def hour(self, value: int | None) -> None:
        self.data.hour = value

    # -- configuration ----------------------------------------------------------------------
    def configure(
        self,
        plans: Iterable[SeriesPlan],
        config: DriftConfig | None = None,
        *,
        fleet_series: int | None = None,
    ) -> None:
        """Size every series' share of the budget; drop state of series no longer configured.

        A new `config` (a reload) applies at once; learned baselines survive it unless the
        known baseline (`baseline_failure_rate`) changed. `fleet_series` splits the budget over
        that many series instead of `plans` (a replica running a shard of the fleet).
        """
        if config is not None and config != self.config:
            if config.baseline_failure_rate != self.config.baseline_failure_rate:
                self.baselines.clear()
            self.config, self.policy = config, planner.policy_of(config)
            for state in self.states.values():
                state.inputs = ()
            self.group_inputs.clear()
        wanted = {plan.series: plan for plan in plans}
        for series in list(self.states):
            if series not in wanted:
                del self.states[series]
        for series, plan in wanted.items():
            current = self.states.get(series)
            if current is None:
                self.states[series] = SeriesState(plan)
            elif current.plan != plan:
                if current.plan.key != plan.key:  # a new version: a new baseline to learn
                    current.own, current.tally, current.rate = Counts(), Tally(), None
                current.plan, current.inputs = plan, ()
        share = len(wanted) if fleet_series is None else max(fleet_series, len(wanted))
        self.series_arl_s = share * WEEK_S / self.config.false_pages_per_week
        self.groups = defaultdict(list)
        for series, state in self.states.items():
            self.groups[state.plan.key].append(series)
            self.baseline(state.plan.key)
        self.redesign()

    def baseline(self, key: PoolKey) -> Baseline:
        """The pooled baseline of a key (created in warm-up, or at the known rate)."""
        baseline = self.baselines.get(key)
        if baseline is None:
            baseline = self.baselines[key] = Baseline()
            if self.policy.fixed_rate is not None:
                baseline.design = self.policy.fixed_rate
        return baseline

    def ceiling(self, series: SeriesId) -> float:
        """The absolute ceiling of a series: the suite's golden rate, else the configured one."""
        golden = self.config.golden_failure_rates.get(series[3])
        if golden is not None and series[4] != PROBE_ERROR:
            return golden
        return self.config.ceiling_failure_rate

    def pace(self, plan: SeriesPlan) -> Pace:
        adaptive = self.config.adaptive
        if not adaptive.enabled or plan.fast_observations_per_s <= plan.observations_per_s:
            return Pace(plan.observations_per_s)
        return Pace(plan.observations_per_s, plan.fast_observations_per_s, adaptive.fraction)

    def observed(self, state: SeriesState) -> float:
        """Verdicts per second the series delivered last hour (its plan's rate before that):
        the divergence null is each sibling's share of the probes actually judged, so a
        sibling that goes silent, times out or runs fast under adaptive probing moves it."""
        if not state.binary_seen:
            return 0.0
        if state.last_trials is None:
            return self.pace(state.plan).rate
        return state.last_trials / HOUR_S

    def redesign(self) -> None:
        """Rebuild every series' members from its baseline and budget (latched ones wait)."""
        for series, state in self.states.items():
            planner.design_series(self, series, state)
        for key, members in self.groups.items():
            planner.design_group(self, key, members)

    # -- the clock --------------------------------------------------------------------------
    def advance(self, t: float) -> None:
        """Move the engine's clock to `t`; crossing an hour boundary updates baselines."""
        hour = math.floor(t / HOUR_S)
        if self.hour is None:
            self.hour = hour
        elif hour > self.hour:
            self.hour = hour
            self._roll(hour * HOUR_S)

    def _roll(self, t: float) -> None:
        failures: dict[PoolKey, float] = defaultdict(float)
        trials: dict[PoolKey, float] = defaultdict(float)
        hist: dict[PoolKey, list[float]] = defaultdict(lambda: [0.0] * BINS)
        decay = 0.5 ** (HOUR_S / self.policy.half_life_s)
        for state in self.states.values():
            key, tally = state.plan.key, state.tally
            state.own.decay(decay)
            if tally.clean:
                state.own.add(tally.failures, tally.trials)
                failures[key] += tally.failures
                trials[key] += tally.trials
                if tally.scores is not None:
                    hist[key] = [a + b for a, b in zip(hist[key], tally.scores, strict=True)]
            state.last_trials = tally.trials
            state.tally = Tally(start=state.ratio, alarmed=state.alarmed)
        for key in self.groups:
            update(self.baseline(key), failures[key], trials[key], t, self.policy)
            if key in hist:
                scores = self.score_baselines.setdefault(key, ScoreBaseline())
                update_scores(scores, hist[key], t, self.policy)
            elif key in self.score_baselines:
                update_scores(self.score_baselines[key], [0.0] * BINS, t, self.policy)
        self.redesign()

    # -- observations -----------------------------------------------------------------------
    def observe(
        self,
        series: SeriesId,
        failed: bool | None = None,
        *,
        score: float | None = None,
        t: float | None = None,
    ) -> list[Change]:
        """One observation of a series: `failed` (None: no verdict, e.g. a timeout) and/or a
        `score` in [0, 1]. Returns the alarms and recoveries it caused (on any series)."""
        state = self.states.get(series)
        if state is None or (failed is None and score is None):
            return []
        now = time.time() if t is None else t
        self.advance(now)
        changes: list[Change] = []
        state.observations += 1
        tally = state.tally
        if failed is not None:
            state.binary_seen = True
            tally.trials += 1
            tally.failures += int(failed)
        if score is not None:
            state.score_seen = True
            if tally.scores is None:
                tally.scores = [0.0] * BINS
            tally.scores[bin_of(score)] += 1
        event = cusum.step(state.latch, state.shape, increments(state.slots, failed, score))
        if event is not None:
            changes.append(self.change(now, series, state, event, test="cusum"))
        if failed:  # one failure is a label for every sibling's divergence test
            for other in self.groups.get(state.plan.key, ()):
                peer = self.states[other]
                if peer.div_slots:
                    w = [s.up if other == series else -s.down for s in peer.div_slots]
                    event = cusum.step(peer.div_latch, peer.div_shape, w)
                    if event is not None:
                        changes.append(self.change(now, other, peer, event, test="divergence"))
                    peer.tally.alarmed |= peer.alarmed
        tally.alarmed |= state.alarmed
        return changes

    def feed(self, hour: int, columns: Mapping[SeriesId, Columns]) -> list[Change]:
        """One hour of observations (hour = floor(t / 3600)) per series, vectorised."""
        self.advance(hour * HOUR_S)
        return batch.feed(self.data, self._record_change, columns)

    def change(
        self,
        t: float,
        series: SeriesId,
        state: SeriesState,
        event: tuple[str, int, float],
        *,
        test: str,
    ) -> Change:
        """Record an event of a series' bank (`test` "cusum") or divergence bank."""
        kind, slot, ratio = event
        if kind == "alarm":
            state.alarms += 1
        slots = state.slots if test == "cusum" else state.div_slots
        return Change(t, series, kind, ratio, test, slots[slot].name if slot < len(slots) else "")

    def _record_change(
        self,
        t: float,
        series: SeriesId,
        state: SeriesState,
        event: tuple[str, int, float],
        test: str,
    ) -> Change:
        return self.change(t, series, state, event, test=test)

    # -- persistence ------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state (see `persist`)."""
        return persist.snapshot(self.data)

    def restore(self, data: dict[str, Any]) -> None:
        """Resume from `snapshot()` after `configure`; series not configured now are ignored."""
        if persist.restore_counts(self.data, data, baselines=self.policy.fixed_rate is None):
            self.redesign()  # the banks are designed on the restored baselines and counts
            persist.restore_latches(self.data, data)

    # -- reading ----------------------------------------------------------------------------
    def ratio(self, series: SeriesId) -> float:
        state = self.states.get(series)
        return state.ratio if state else 0.0

    def alarmed(self, series: SeriesId) -> bool:
        state = self.states.get(series)
        return bool(state and state.alarmed)

    def summaries(self) -> dict[SeriesId, Summary]:
        """Per series: design baseline, warm-up, suspect baseline and ARL0 target."""
        out = {}
        for series, state in self.states.items():
            golden = self.config.golden_failure_rates.get(series[3])
            pooled = self.baselines.get(state.plan.key)
            learned = pooled.design if pooled is not None else None
            out[series] = Summary(
                baseline=state.rate or 0.0,
                warming_up=state.rate is None and not state.scored,
                suspect=bool(golden and learned and learned > golden),
                arl0_target_s=state.arl_target_s,
            )
        return out

    def threshold(self, series: SeriesId) -> float | None:
        """The lowest member threshold of a series, in nats (None if unknown)."""
        state = self.states.get(series)
        if not state or not state.slots:
            return None
        return min(s.top * s.unit for s in state.slots)
