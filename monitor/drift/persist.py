"""The engine's state as JSON, and back: what survives a restart.

Saved: every baseline (pooled counts, warm-up start, design rate; score histograms), and per
series its own counts, statistics and latches. Designs are not saved: they are rebuilt from
the baselines and the current config, and statistics are carried onto them in nats, so a
changed budget or config applies at once while an open alarm stays open. A lost state restarts
every statistic at 0 and every baseline in warm-up, which errs towards silence, never noise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from monitor.drift.baseline import Baseline, Counts
from monitor.drift.scores import ScoreBaseline
from monitor.drift.series import latch_from_json, latch_json

if TYPE_CHECKING:
    from monitor.drift.engine import DriftEngine

FORMAT = 2


def _join(parts: tuple[str, ...]) -> str:
    return "|".join(parts)


def snapshot(engine: DriftEngine) -> dict[str, Any]:
    series = {}
    for key, state in engine.states.items():
        series[_join(key)] = {
            "latch": latch_json(state.latch, state.slots),
            "divergence": latch_json(state.div_latch, state.div_slots),
            "own": [state.own.failures, state.own.trials],
            "binary_seen": state.binary_seen,
            "score_seen": state.score_seen,
            "observations": state.observations,
            "alarms": state.alarms,
            "last_trials": state.last_trials,
            "version": state.plan.version,
        }
    return {
        "format": FORMAT,
        "hour": engine.hour,
        "baselines": {_join(k): b.to_json() for k, b in engine.baselines.items()},
        "scores": {_join(k): b.to_json() for k, b in engine.score_baselines.items()},
        "series": series,
    }


def restore(engine: DriftEngine, data: dict[str, Any]) -> None:
    """Resume from `snapshot()`; unknown series and older formats are ignored."""
    if data.get("format") != FORMAT:
        return
    hour = data.get("hour")
    engine.hour = None if hour is None else int(hour)
    for text, value in data.get("baselines", {}).items():
        parts = text.split("|")
        if len(parts) == 4 and engine.policy.fixed_rate is None:
            engine.baselines[(parts[0], parts[1], parts[2], parts[3])] = Baseline.from_json(value)
    for text, value in data.get("scores", {}).items():
        parts = text.split("|")
        if len(parts) == 4:
            pool = (parts[0], parts[1], parts[2], parts[3])
            engine.score_baselines[pool] = ScoreBaseline.from_json(value)
    saved: dict[str, dict[str, Any]] = data.get("series", {})
    for key, state in engine.states.items():
        value = saved.get(_join(key))
        if value is None or value.get("version") != state.plan.version:
            continue
        state.own = Counts(float(value["own"][0]), float(value["own"][1]))
        state.binary_seen = bool(value["binary_seen"])
        state.score_seen = bool(value["score_seen"])
        state.observations = int(value["observations"])
        state.alarms = int(value["alarms"])
        last = value.get("last_trials")
        state.last_trials = None if last is None else int(last)
    engine.redesign()
    for key, state in engine.states.items():
        value = saved.get(_join(key))
        if value is None or value.get("version") != state.plan.version:
            continue
        state.latch = latch_from_json(value["latch"], state.slots)
        state.div_latch = latch_from_json(value["divergence"], state.div_slots)
