"""Designs for every series and every sibling group, from baselines and the budget.

Each series' bank is rebuilt from its inputs (design rate, score baseline, whether it has
siblings, its ARL0 target, its pace, its ceiling) only when one of them changed, and never while
an alarm is open: an alarm keeps the design it was raised with until it recovers. The shares:
the ceiling 5 % (all of it during the warm-up), divergence 15 % when there are siblings, the
rest to the rate bank and, when scores carry information, half of it to the score bank. Rate
members share theirs with a joint factor (`designs.member_arls`): they jump on the same rare
failures, so their alarms overlap. Score members do not (the 2 sd member reacts to single low
scores, the 0.25 sd member to a slow drift), so they split theirs Bonferroni-style; with a joint
factor of 2 the benchmark measured 1.3 false alarms per budgeted one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor.config import DriftConfig
from monitor.drift.baseline import BaselinePolicy, series_rate
from monitor.drift.designs import (
    RATE_GRID,
    Slot,
    binary_designs,
    binary_slot,
    grid_up,
    member_arls,
    score_slots,
)
from monitor.drift.divergence import group_designs
from monitor.drift.scores import DROPS_SD, ScoreBaseline
from monitor.drift.series import PoolKey, SeriesId, SeriesState

if TYPE_CHECKING:
    from monitor.drift.engine import DriftEngine

CEILING_SHARE = 0.05
DIVERGENCE_SHARE = 0.15
DIVERGENCE_TOLERANCE = 1.25  # siblings are never exactly alike
SCORE_INFORMATIVE = 0.05  # score mass strictly inside (0, 1) that makes a score bank worth it
HEADROOM = 1.02
HYSTERESIS = 1.05


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


def settle(current: float | None, rate: float | None) -> float | None:
    """The design rate: on a 1 % grid, 2 % above the estimate, and kept while the estimate
    stays within 5 % below it, so that a drifting baseline costs a recalibration only now and
    then (and never leaves the design below the estimate)."""
    if rate is None:
        return None
    if current is not None and current / HYSTERESIS <= rate <= current:
        return current
    return grid_up(rate * HEADROOM, RATE_GRID)


def informative(scores: ScoreBaseline, binary: bool) -> bool:
    """A score bank is worth its share of the budget unless scores only echo pass/fail."""
    if not binary:
        return True
    probs = scores.probabilities()
    return float(probs[1:-1].sum()) >= SCORE_INFORMATIVE


def design_series(engine: DriftEngine, series: SeriesId, state: SeriesState) -> None:
    """(Re)build one series' bank if its inputs changed and it is not alarmed."""
    cfg, plan = engine.config, state.plan
    pace = engine.pace(plan)
    if pace.rate <= 0:
        return
    pooled = engine.baseline(plan.key)
    state.rate = settle(state.rate, series_rate(pooled, state.own, engine.policy))
    scores = engine.score_baselines.get(plan.key)
    state.scored = bool(scores and scores.warm and informative(scores, state.binary_seen))
    siblings = sum(1 for s in engine.groups.get(plan.key, ()) if engine.states[s].rate) >= 2
    arl_s, recovery_s = engine.series_arl_s, cfg.recovery_s
    state.arl_target_s = arl_s
    c = grid_up(engine.ceiling(series), RATE_GRID)
    fingerprint = scores is not None and (scores.mean, scores.sd, scores.updated_t)
    inputs = (state.rate, state.scored and fingerprint, siblings, arl_s, pace, c)
    if inputs == state.inputs or state.latch.alarmed:
        return
    top = min(4 * c, (1 + c) / 2)
    if state.rate is None and not state.scored:  # warming up: the absolute ceiling only
        ceiling = binary_slot(
            "ceiling", c, top, at=c, arl0_s=arl_s, pace=pace, recovery_s=recovery_s
        )
        slots = [ceiling]
    else:
        rest = 1.0 - CEILING_SHARE - (DIVERGENCE_SHARE if siblings else 0.0)
        share = rest / (int(state.rate is not None) + int(state.scored))
        ceiling_arl = arl_s / CEILING_SHARE
        slots = [
            binary_slot(
                "ceiling", c, top, at=c, arl0_s=ceiling_arl, pace=pace, recovery_s=recovery_s
            )
        ]
        if state.rate is not None:
            members = binary_designs(state.rate, cfg.tolerance, cfg.design_failure_rate)
            arls = member_arls([name for name, _, _ in members], arl_s / share)
            slots += [
                binary_slot(
                    name, null, p1, at=null, arl0_s=arls[name], pace=pace, recovery_s=recovery_s
                )
                for name, null, p1 in members
            ]
        if state.scored and scores is not None and scores.mean is not None:
            slots += score_slots(
                scores.probabilities(),
                scores.mean,
                scores.sd,
                drops_sd=DROPS_SD,
                arl0_s=arl_s / share * len(DROPS_SD),  # Bonferroni: see the docstring
                pace=pace,
                recovery_s=recovery_s,
            )
    state.inputs = inputs
    new: tuple[Slot, ...] = tuple(slots)
    if new != state.slots:
        state.set_slots(new)


def design_group(engine: DriftEngine, key: PoolKey, members: list[SeriesId]) -> None:
    """(Re)build the divergence banks of one sibling group (alarmed members keep theirs)."""
    states = engine.states
    live = [s for s in members if states[s].rate and engine.observed(states[s])]
    weights = {i: engine.observed(states[s]) * (states[s].rate or 0.0) for i, s in enumerate(live)}
    alarmed = tuple(states[s].div_latch.alarmed for s in members)
    inputs = (tuple(live), tuple(weights.values()), engine.series_arl_s, alarmed)
    if engine.group_inputs.get(key) == inputs:
        return
    engine.group_inputs[key] = inputs
    designs = group_designs(
        weights,
        sum(weights.values()),
        engine.series_arl_s / DIVERGENCE_SHARE,
        max(engine.config.tolerance, DIVERGENCE_TOLERANCE),
        engine.config.recovery_s,
    )
    for series in members:
        state = states[series]
        new = tuple(designs.get(live.index(series), [])) if series in live else ()
        if new != state.div_slots and not state.div_latch.alarmed:
            state.set_div_slots(new)
