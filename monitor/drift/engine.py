"""The drift engine: every series' detectors, fed one result at a time or an hour at a time.

The fleet's false-page budget (`false_pages_per_week`) is split evenly over the N configured
series: expected false pages add up exactly across series whatever their dependence, so each
series gets an in-control ARL0 of N weeks / budget, in seconds. Within a series the budget is
split again over its tests (absolute ceiling 5 %, divergence 15 % when it has siblings, the
rest to the rate and score banks). Baselines are re-estimated once an hour (on the hour of the
observations' clock) from the hour's clean data; designs follow.

`observe` is the daemon's path (one observation); `feed` is replay's and the benchmark's (one
hour of numpy columns per series). Both run the same integer state machines and produce the same
states and changes; the only shared clock is the hour boundary, at which both roll.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.config import DriftConfig
from monitor.drift import cusum, persist
from monitor.drift.baseline import Baseline, BaselinePolicy, Counts, series_rate, update
from monitor.drift.designs import (
    RATE_GRID,
    Pace,
    Slot,
    binary_designs,
    binary_slot,
    grid_up,
    joint_factor,
    member_arls,
    score_slots,
)
from monitor.drift.divergence import group_designs
from monitor.drift.scores import BINS, DROPS_SD, ScoreBaseline, bin_of, update_scores
from monitor.drift.series import (
    PoolKey,
    SeriesId,
    SeriesPlan,
    SeriesState,
    Tally,
    increment_matrix,
    increments,
)

ANY_CHECK = "any"
PROBE_ERROR = "probe_error"
WEEK_S = 7 * 24 * 3600.0
HOUR_S = 3600.0
CEILING_SHARE = 0.05
DIVERGENCE_SHARE = 0.15
SCORE_INFORMATIVE = 0.05
HEADROOM = 1.02
HYSTERESIS = 1.05  # score mass strictly inside (0, 1) that makes a score bank worth it


@dataclass(frozen=True, slots=True)
class Change:
    """An alarm or a recovery of one series' `test` ("cusum" or "divergence") at time `t`."""

    t: float
    series: SeriesId
    event: str  # "alarm" | "recovered"
    statistic: float  # statistic over threshold at the event
    test: str
    member: str  # the bank member (design) that alarmed


@dataclass(frozen=True, slots=True)
class Summary:
    """What the slow drift gauges show for one series."""

    baseline: float  # the failure rate the bank is designed on (0 while warming up)
    warming_up: bool
    suspect: bool  # the learned baseline exceeds the suite's golden rate
    arl0_target_s: float


@dataclass(frozen=True, slots=True)
class Columns:
    """One series' observations in one hour: times, failed (1, 0 or -1: none), score (NaN: none)."""

    t: npt.NDArray[np.float64]
    failed: npt.NDArray[np.int8]
    score: npt.NDArray[np.float64]


def policy_of(config: DriftConfig) -> BaselinePolicy:
    return BaselinePolicy(
        warmup_min_s=config.warmup_min_s,
        warmup_max_s=config.warmup_max_s,
        warmup_failures=config.warmup_failures,
        confidence=config.confidence,
        half_life_s=config.half_life_s,
        max_drift_per_day=config.max_drift_per_day,
        fixed_rate=config.baseline_failure_rate,
    )


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
        self.policy = policy_of(self.config)
        self.states: dict[SeriesId, SeriesState] = {}
        self.baselines: dict[PoolKey, Baseline] = {}
        self.score_baselines: dict[PoolKey, ScoreBaseline] = {}
        self.groups: dict[PoolKey, list[SeriesId]] = {}
        self.hour: int | None = None
        self.series_arl_s = 0.0
        self._group_inputs: dict[PoolKey, tuple[object, ...]] = {}

    # -- configuration ----------------------------------------------------------------------
    def configure(self, plans: Iterable[SeriesPlan], config: DriftConfig | None = None) -> None:
        """Size every series' share of the budget; drop state of series no longer configured.

        A new `config` (a reload) applies at once; learned baselines survive it unless the
        known baseline (`baseline_failure_rate`) changed.
        """
        if config is not None and config != self.config:
            if config.baseline_failure_rate != self.config.baseline_failure_rate:
                self.baselines.clear()
            self.config, self.policy = config, policy_of(config)
            for state in self.states.values():
                state.inputs = ()
            self._group_inputs.clear()
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
        self.series_arl_s = len(wanted) * WEEK_S / self.config.false_pages_per_week
        self.groups = defaultdict(list)
        for series, state in self.states.items():
            self.groups[state.plan.key].append(series)
            self._baseline(state.plan.key)
        self.redesign()

    def _baseline(self, key: PoolKey) -> Baseline:
        baseline = self.baselines.get(key)
        if baseline is None:
            baseline = self.baselines[key] = Baseline()
            if self.policy.fixed_rate is not None:
                baseline.design = self.policy.fixed_rate
        return baseline

    def ceiling(self, series: SeriesId) -> float:
        """The absolute ceiling of a series: the suite's golden rate, else the configured one."""
        golden = self.config.golden_failure_rates.get(series[3])
        return (
            golden
            if golden is not None and series[4] != PROBE_ERROR
            else (self.config.ceiling_failure_rate)
        )

    def pace(self, plan: SeriesPlan) -> Pace:
        adaptive = self.config.adaptive
        if not adaptive.enabled or plan.fast_observations_per_s <= plan.observations_per_s:
            return Pace(plan.observations_per_s)
        return Pace(plan.observations_per_s, plan.fast_observations_per_s, adaptive.fraction)

    def redesign(self) -> None:
        """Rebuild every series' members from its baseline and budget (latched ones wait)."""
        for series, state in self.states.items():
            self._design(series, state)
        for key, members in self.groups.items():
            self._design_group(key, members)

    def _design(self, series: SeriesId, state: SeriesState) -> None:
        cfg, plan = self.config, state.plan
        pace = self.pace(plan)
        if pace.rate <= 0:
            return
        pooled = self._baseline(plan.key)
        state.rate = settle(state.rate, series_rate(pooled, state.own, self.policy))
        scores = self.score_baselines.get(plan.key)
        state.scored = bool(scores and scores.warm and _informative(scores, state.binary_seen))
        siblings = sum(1 for s in self.groups.get(plan.key, ()) if self.states[s].rate)
        arl_s, recovery_s = self.series_arl_s, cfg.recovery_s
        state.arl_target_s = arl_s
        c = grid_up(self.ceiling(series), RATE_GRID)
        inputs = (
            state.rate,
            state.scored and scores is not None and (scores.mean, scores.sd, scores.updated_t),
            siblings >= 2,
            arl_s,
            pace,
            c,
        )
        if inputs == state.inputs or state.latch.alarmed:
            return  # nothing changed, or an open alarm keeps the design it was raised with
        top_rate = min(4 * c, (1 + c) / 2)
        if state.rate is None and not state.scored:  # warming up: the absolute ceiling only
            slots = [
                binary_slot(
                    "ceiling", c, top_rate, at=c, arl0_s=arl_s, pace=pace, recovery_s=recovery_s
                )
            ]
        else:
            rest = 1.0 - CEILING_SHARE - (DIVERGENCE_SHARE if siblings >= 2 else 0.0)
            banks = int(state.rate is not None) + int(state.scored)
            share = rest / banks
            slots = [
                binary_slot(
                    "ceiling",
                    c,
                    top_rate,
                    at=c,
                    arl0_s=arl_s / CEILING_SHARE,
                    pace=pace,
                    recovery_s=recovery_s,
                )
            ]
            if state.rate is not None:
                null = cfg.tolerance * state.rate
                members = binary_designs(state.rate, cfg.tolerance, cfg.design_failure_rate)
                arls = member_arls([name for name, _ in members], arl_s / share)
                slots += [
                    binary_slot(
                        name, null, p1, at=null, arl0_s=arls[name], pace=pace, recovery_s=recovery_s
                    )
                    for name, p1 in members
                ]
            if state.scored and scores is not None and scores.mean is not None:
                slots += score_slots(
                    scores.probabilities(),
                    scores.mean,
                    scores.sd,
                    drops_sd=DROPS_SD,
                    arl0_s=arl_s / share * joint_factor(len(DROPS_SD)),
                    pace=pace,
                    recovery_s=recovery_s,
                )
        state.inputs = inputs
        new = tuple(slots)
        if new != state.slots:
            state.set_slots(new)

    def _design_group(self, key: PoolKey, members: list[SeriesId]) -> None:
        cfg = self.config
        live = [s for s in members if self.states[s].rate and self._observed(self.states[s])]
        weights = {
            i: self._observed(self.states[s]) * (self.states[s].rate or 0.0)
            for i, s in enumerate(live)
        }
        alarmed = tuple(self.states[s].div_latch.alarmed for s in members)
        inputs = (tuple(live), tuple(weights.values()), self.series_arl_s, alarmed)
        if self._group_inputs.get(key) == inputs:
            return
        self._group_inputs[key] = inputs
        designs = group_designs(
            weights,
            sum(weights.values()),
            self.series_arl_s / DIVERGENCE_SHARE,
            max(cfg.tolerance, 1.25),
            cfg.recovery_s,
        )
        for series in members:
            state = self.states[series]
            new = tuple(designs.get(live.index(series), [])) if series in live else ()
            if new != state.div_slots and not state.div_latch.alarmed:
                state.set_div_slots(new)

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
            update(self._baseline(key), failures[key], trials[key], t, self.policy)
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
            changes.append(self._change(now, series, state, event, test="cusum", slots=state.slots))
        if failed:
            for other in self.groups.get(state.plan.key, ()):
                peer = self.states[other]
                if peer.div_slots:
                    w = [s.up if other == series else -s.down for s in peer.div_slots]
                    event = cusum.step(peer.div_latch, peer.div_shape, w)
                    if event is not None:
                        changes.append(
                            self._change(
                                now, other, peer, event, test="divergence", slots=peer.div_slots
                            )
                        )
                    peer.tally.alarmed |= peer.alarmed
        tally.alarmed |= state.alarmed
        return changes

    def _change(
        self,
        t: float,
        series: SeriesId,
        state: SeriesState,
        event: tuple[str, int, float],
        *,
        test: str,
        slots: tuple[Slot, ...],
    ) -> Change:
        kind, slot, ratio = event
        if kind == "alarm":
            state.alarms += 1
        return Change(t, series, kind, ratio, test, slots[slot].name if slot < len(slots) else "")

    def feed(self, hour: int, columns: Mapping[SeriesId, Columns]) -> list[Change]:
        """One hour of observations (hour = floor(t / 3600)), vectorised per series."""
        self.advance(hour * HOUR_S)
        changes: list[Change] = []
        failures: dict[PoolKey, list[tuple[npt.NDArray[np.float64], int]]] = defaultdict(list)
        for series, cols in columns.items():
            state = self.states.get(series)
            if state is None:
                continue
            failed = np.asarray(cols.failed, dtype=np.int8)
            scored = ~np.isnan(cols.score)
            has_scores = bool(scored.any())
            bins = (
                np.where(
                    scored,
                    np.clip((np.where(scored, cols.score, 0) * BINS).astype(np.int64), 0, BINS - 1),
                    -1,
                )
                if has_scores
                else None
            )
            binary = failed >= 0
            state.observations += int((binary | scored).sum())
            tally = state.tally
            if binary.any():
                state.binary_seen = True
                tally.trials += int(binary.sum())
                tally.failures += int((failed == 1).sum())
            if bins is not None:
                state.score_seen = True
                counts = np.bincount(bins[scored], minlength=BINS)
                previous = tally.scores or [0.0] * BINS
                tally.scores = [a + float(b) for a, b in zip(previous, counts, strict=True)]
            result = cusum.run(
                state.latch, state.shape, increment_matrix(state.slots, failed, bins)
            )
            for index, kind, slot, ratio in result.events:
                at = float(cols.t[index])
                event = (kind, slot, ratio)
                changes.append(
                    self._change(at, series, state, event, test="cusum", slots=state.slots)
                )
            tally.alarmed |= state.latch.alarmed or result.alarmed
            key = state.plan.key
            failures[key].append((cols.t[failed == 1], self.groups[key].index(series)))
        for key, parts in failures.items():
            changes += self._feed_divergence(key, parts)
        changes.sort(key=lambda c: c.t)
        return changes

    def _feed_divergence(
        self, key: PoolKey, parts: list[tuple[npt.NDArray[np.float64], int]]
    ) -> list[Change]:
        members = self.groups[key]
        if not any(self.states[s].div_slots for s in members):
            return []
        times = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0)
        labels = np.concatenate([np.full(p[0].shape[0], p[1]) for p in parts]) if parts else times
        order = np.argsort(times, kind="stable")
        times, labels = times[order], labels[order]
        changes = []
        for index, series in enumerate(members):
            state = self.states[series]
            if not state.div_slots or times.shape[0] == 0:
                continue
            mine = (labels == index)[None, :]
            ups = np.array([[s.up] for s in state.div_slots], dtype=np.int64)
            downs = np.array([[s.down] for s in state.div_slots], dtype=np.int64)
            w = np.where(mine, ups, -downs)
            result = cusum.run(state.div_latch, state.div_shape, w)
            for i, kind, slot, ratio in result.events:
                changes.append(
                    self._change(
                        float(times[i]),
                        series,
                        state,
                        (kind, slot, ratio),
                        test="divergence",
                        slots=state.div_slots,
                    )
                )
            state.tally.alarmed |= state.div_latch.alarmed or result.alarmed
        return changes

    def _observed(self, state: SeriesState) -> float:
        """Verdicts per second the series delivered last hour (its plan's rate before that):
        the divergence null is each sibling's share of the probes actually judged, so a
        sibling that goes silent, times out or runs fast under adaptive probing moves it."""
        if not state.binary_seen:
            return 0.0
        if state.last_trials is None:
            return self.pace(state.plan).rate
        return state.last_trials / HOUR_S

    # -- persistence ------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state (see `persist`)."""
        return persist.snapshot(self)

    def restore(self, data: dict[str, Any]) -> None:
        """Resume from `snapshot()` after `configure`; series not configured now are ignored."""
        persist.restore(self, data)

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


def settle(current: float | None, rate: float | None) -> float | None:
    """The design rate: on a 1 % grid, 2 % above the estimate, and kept while the estimate
    stays within 5 % below it, so that a drifting baseline costs a recalibration only now and
    then (and never leaves the design below the estimate)."""
    if rate is None:
        return None
    if current is not None and current / HYSTERESIS <= rate <= current:
        return current
    return grid_up(rate * HEADROOM, RATE_GRID)


def _informative(scores: ScoreBaseline, binary: bool) -> bool:
    """A score bank is worth its share of the budget unless scores only echo pass/fail."""
    if not binary:
        return True
    probs = scores.probabilities()
    return float(probs[1:-1].sum()) >= SCORE_INFORMATIVE
