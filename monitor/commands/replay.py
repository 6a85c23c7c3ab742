"""`canary replay`: the daemon's drift engine over recorded outcomes instead of live probes.

Input, one JSON object a line (any order; sorted by `t` before replay):

    {"t": 1234.5, "platform": "p", "pool": "q", "model": "m", "suite": "s", "detector": "d",
     "passed": true}                       # or "score": 0.93, or "outcome": "timeout"

`outcome` other than "passed" / "failed" (timeout, http_error, ...) is missing data for the
detector and a failure of the series' `probe_error`; lines of one probe share (series, t), and
a series with two or more detectors also gets `any` (some check of the probe failed), exactly
as the runner feeds the daemon. `probe_error` and `any` are always derived this way: lines
naming them count only through their outcome. An optional "version" names the model and suite
version. `SQLiteStore.export_outcomes` writes exactly this format.

Output, one alarm or recovery a line, in time order:

    {"t": ..., "platform", "pool", "model", "suite", "detector", "event": "alarm" | "recovered",
     "statistic": <statistic / threshold>, "test": "cusum" | "divergence", "member": "x8"}

The budget is split over every series in the stream (including derived `probe_error` and
`any`), each observed at its average rate over the stream. Adaptive probing does not apply: the
stream's timestamps are what they are.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from monitor.config import DriftConfig
from monitor.config.yamlsource import load_document, validate
from monitor.drift import ANY_CHECK, PROBE_ERROR, Change, Columns, DriftEngine, SeriesId, SeriesPlan
from monitor.drift.engine import HOUR_S

LABELS = ("platform", "pool", "model", "suite", "detector")
F8 = npt.NDArray[np.float64]
I8 = npt.NDArray[np.int8]
I64 = npt.NDArray[np.int64]


class _DriftOnly(BaseModel):
    """A daemon config read for its `drift:` section only (targets and secrets not needed)."""

    model_config = ConfigDict(extra="ignore")
    drift: DriftConfig = Field(default_factory=DriftConfig)


def load_drift_config(path: Path) -> DriftConfig:
    """The `drift:` section of a config file; raises ConfigError naming file, line and field."""
    return validate(_DriftOnly, load_document(path)).drift


@dataclass(slots=True)
class Stream:
    """Recorded outcomes as columns: series index per line, time, failed (1/0/-1), score, and
    whether the probe errored. `series` lists (platform, pool, model, suite, detector)."""

    series: list[SeriesId] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    pseudo: list[bool] = field(default_factory=list)  # added by `expand`, fed by `derive`
    index: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    t: F8 = field(default_factory=lambda: np.zeros(0))
    failed: I8 = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    score: F8 = field(default_factory=lambda: np.zeros(0))
    errored: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))


class LineError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")


def parse(lines: Iterable[str]) -> Stream:
    """JSONL outcomes into columns; a bad line raises `LineError` naming it."""
    ids: dict[tuple[tuple[str, ...], str], int] = {}
    stream = Stream()
    index: list[int] = []
    t: list[float] = []
    failed: list[int] = []
    score: list[float] = []
    errored: list[bool] = []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
            labels = tuple(str(row[k]) for k in LABELS)
            when = float(row["t"])
        except (ValueError, KeyError, TypeError) as exc:
            raise LineError(number, f"need t and {', '.join(LABELS)} ({exc})") from None
        outcome = row.get("outcome")
        passed = row.get("passed")
        if passed is None and outcome in ("passed", "failed"):
            passed = outcome == "passed"
        value = row.get("score")
        bad = outcome is not None and outcome not in ("passed", "failed")
        if not bad and passed is None and value is None:
            raise LineError(number, "need passed, score or outcome")
        if value is not None and not (isinstance(value, int | float) and 0 <= value <= 1):
            raise LineError(number, "score must be a number in [0, 1]")
        key = (labels, str(row.get("version", "")))
        pseudo = labels[4] in (PROBE_ERROR, ANY_CHECK)  # derived from the probe, never read
        if key not in ids:
            ids[key] = len(stream.series)
            stream.series.append(labels)  # type: ignore[arg-type]
            stream.versions.append(key[1])
            stream.pseudo.append(pseudo)
        index.append(ids[key])
        t.append(when)
        failed.append(-1 if bad or pseudo or passed is None else int(not passed))
        score.append(math.nan if bad or pseudo or value is None else float(value))
        errored.append(bad)
    stream.index = np.array(index, dtype=np.int64)
    stream.t = np.array(t, dtype=np.float64)
    stream.failed = np.array(failed, dtype=np.int8)
    stream.score = np.array(score, dtype=np.float64)
    stream.errored = np.array(errored, dtype=bool)
    return derive(expand(stream))


def expand(stream: Stream) -> Stream:
    """Add the runner's pseudo-detector series, as the daemon plans them: `probe_error` for every
    (platform, pool, model, suite, version), and `any` where that has two or more detectors."""
    groups: dict[tuple[str, ...], set[str]] = {}
    for labels, version in zip(stream.series, stream.versions, strict=True):
        groups.setdefault((*labels[:4], version), set()).add(labels[4])
    stream.pseudo += [False] * (len(stream.series) - len(stream.pseudo))
    for key, names in groups.items():
        detectors = names - {PROBE_ERROR, ANY_CHECK}
        wanted = [PROBE_ERROR] + ([ANY_CHECK] if len(detectors) >= 2 else [])
        for name in wanted:
            if name not in names:
                stream.series.append((key[0], key[1], key[2], key[3], name))
                stream.versions.append(key[4])
                stream.pseudo.append(True)
    return stream


def derive(stream: Stream) -> Stream:
    """Observations of the pseudo-detectors from the lines of each probe (the lines of one
    platform, pool, model, suite and version at one t): `probe_error` failed if the probe
    errored, `any` failed if some check failed (missing if it errored)."""
    if stream.t.shape[0] == 0 or not any(stream.pseudo):
        return stream
    groups: dict[tuple[str, ...], int] = {}
    group = np.zeros(len(stream.series), dtype=np.int64)
    for i, (labels, version) in enumerate(zip(stream.series, stream.versions, strict=True)):
        group[i] = groups.setdefault((*labels[:4], version), len(groups))
    targets = {PROBE_ERROR: np.full(len(groups), -1), ANY_CHECK: np.full(len(groups), -1)}
    for i, labels in enumerate(stream.series):
        if stream.pseudo[i]:
            targets[labels[4]][group[i]] = i
    real = ~np.array(stream.pseudo, dtype=bool)[stream.index] | stream.errored
    g, t = group[stream.index[real]], stream.t[real]
    order = np.lexsort((t, g))
    g, t = g[order], t[order]
    starts = np.flatnonzero(np.r_[True, (g[1:] != g[:-1]) | (t[1:] != t[:-1])])
    errored = np.maximum.reduceat(stream.errored[real][order].astype(np.int8), starts)
    failed = np.maximum.reduceat((stream.failed[real][order] == 1).astype(np.int8), starts)
    probe_group, probe_t = g[starts], t[starts]
    parts: list[tuple[I64, F8, I8]] = []
    for name, values in (
        (PROBE_ERROR, errored),
        (ANY_CHECK, np.where(errored == 1, -1, failed).astype(np.int8)),
    ):
        target = targets[name][probe_group]
        mine = target >= 0
        parts.append((target[mine], probe_t[mine], values[mine]))
    n = sum(part[0].shape[0] for part in parts)
    stream.index = np.concatenate([stream.index, *(part[0] for part in parts)])
    stream.t = np.concatenate([stream.t, *(part[1] for part in parts)])
    stream.failed = np.concatenate([stream.failed, *(part[2] for part in parts)])
    stream.score = np.concatenate([stream.score, np.full(n, math.nan)])
    stream.errored = np.concatenate([stream.errored, np.zeros(n, dtype=bool)])
    return stream


def plans(stream: Stream) -> list[SeriesPlan]:
    """One plan per series, observed at its average rate over the whole stream (pseudo-series
    at the rate of their probes)."""
    out = []
    span = float(stream.t.max() - stream.t.min()) if stream.t.shape[0] > 1 else 0.0
    counts = np.bincount(stream.index, minlength=len(stream.series))
    for i, series in enumerate(stream.series):
        rate = counts[i] / span if span > 0 else 1.0
        out.append(SeriesPlan(series, float(max(rate, 1e-9)), version=stream.versions[i]))
    return out


def hours(stream: Stream) -> Iterator[tuple[int, dict[SeriesId, Columns]]]:
    """The stream in time order, an hour at a time, grouped by series."""
    order = np.lexsort((stream.index, stream.t))
    t, index = stream.t[order], stream.index[order]
    hour = np.floor(t / HOUR_S).astype(np.int64)
    bounds = np.flatnonzero(np.r_[True, hour[1:] != hour[:-1], True])
    for a, b in pairwise(bounds):
        rows = order[a:b]
        by = np.argsort(index[a:b], kind="stable")
        rows, ids = rows[by], index[a:b][by]
        cuts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1], True])
        columns = {
            stream.series[int(ids[c])]: Columns(
                stream.t[rows[c:d]], stream.failed[rows[c:d]], stream.score[rows[c:d]]
            )
            for c, d in pairwise(cuts)
        }
        yield int(hour[a]), columns


def engine_for(config: DriftConfig, series_plans: list[SeriesPlan]) -> DriftEngine:
    """The daemon's engine with the config's budget and baselines; no adaptive probing."""
    fixed = config.model_copy(
        update={"adaptive": config.adaptive.model_copy(update={"enabled": False})}
    )
    engine = DriftEngine(config=fixed)
    engine.configure(series_plans)
    return engine


def replay(config: DriftConfig, stream: Stream) -> Iterator[Change]:
    """Alarms and recoveries of the drift engine over the stream, in time order."""
    engine = engine_for(config, plans(stream))
    for hour, columns in hours(stream):
        yield from engine.feed(hour, columns)


def change_json(change: Change) -> dict[str, Any]:
    out: dict[str, Any] = {"t": change.t}
    out.update(zip(LABELS, change.series, strict=True))
    out.update(
        event=change.event,
        statistic=round(change.statistic, 4),
        test=change.test,
        member=change.member,
    )
    return out


def run_replay(config_path: Path, source: IO[str], sink: IO[str]) -> int:
    """`canary replay`: returns the number of alarms written."""
    config = load_drift_config(config_path)
    alarms = 0
    for change in replay(config, parse(source)):
        sink.write(json.dumps(change_json(change)) + "\n")
        alarms += change.event == "alarm"
    return alarms
