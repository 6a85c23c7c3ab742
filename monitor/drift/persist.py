"""The engine's state as JSON, and back: what survives a restart.

Saved: every baseline (pooled counts, warm-up start, design rate; score histograms), and per
series its own counts, statistics and latches. Designs are not saved: they are rebuilt from
the baselines and the current config, and statistics are carried onto them in nats, so a
changed budget or config applies at once while an open alarm stays open. A lost state restarts
every statistic at 0 and every baseline in warm-up, which errs towards silence, never noise.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from monitor.drift.baseline import Baseline, Counts
from monitor.drift.scores import ScoreBaseline
from monitor.drift.series import SeriesState, latch_from_json, latch_json
from monitor.drift.state import DriftData

FORMAT = 2


def _join(parts: tuple[str, ...]) -> str:
    return "|".join(parts)


def snapshot(engine: DriftData) -> dict[str, Any]:
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


def restore_counts(engine: DriftData, data: dict[str, Any], *, baselines: bool) -> bool:
    """Resume baselines (when learned: `baselines`) and per-series counts from `snapshot()`;
    False for another format (nothing restored). The banks are then redesigned on them and
    `restore_latches` puts their statistics back."""
    if data.get("format") != FORMAT:
        return False
    hour = data.get("hour")
    engine.hour = None if hour is None else int(hour)
    for text, value in data.get("baselines", {}).items():
        parts = text.split("|")
        if len(parts) == 4 and baselines:
            engine.baselines[(parts[0], parts[1], parts[2], parts[3])] = Baseline.from_json(value)
    for text, value in data.get("scores", {}).items():
        parts = text.split("|")
        if len(parts) == 4:
            pool = (parts[0], parts[1], parts[2], parts[3])
            engine.score_baselines[pool] = ScoreBaseline.from_json(value)
    for state, value in _saved(engine, data):
        state.own = Counts(float(value["own"][0]), float(value["own"][1]))
        state.binary_seen = bool(value["binary_seen"])
        state.score_seen = bool(value["score_seen"])
        state.observations = int(value["observations"])
        state.alarms = int(value["alarms"])
        last = value.get("last_trials")
        state.last_trials = None if last is None else int(last)
    return True


def restore_latches(engine: DriftData, data: dict[str, Any]) -> None:
    """The banks' statistics and alarm latches from `snapshot()`, after the redesign."""
    for state, value in _saved(engine, data):
        state.latch = latch_from_json(value["latch"], state.slots)
        state.div_latch = latch_from_json(value["divergence"], state.div_slots)


def _saved(
    engine: DriftData, data: dict[str, Any]
) -> Iterator[tuple[SeriesState, dict[str, Any]]]:
    """Each configured series with its saved entry, when one of the same version exists."""
    saved: dict[str, dict[str, Any]] = data.get("series", {})
    for key, state in engine.states.items():
        value = saved.get(_join(key))
        if value is not None and value.get("version") == state.plan.version:
            yield state, value
