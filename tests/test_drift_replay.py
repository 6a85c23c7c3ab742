"""`canary replay`: recorded outcomes through the daemon's engine, alarms out as JSONL."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from monitor.commands.replay import LineError, load_drift_config, parse, plans, replay, run_replay
from monitor.config import DriftConfig
from monitor.drift import ANY_CHECK, PROBE_ERROR
from monitor.errors import ConfigError

LABELS = {"pool": "default", "model": "m", "suite": "core"}


def stream(days: float = 4.0, shift_at_s: float = 3 * 86_400.0, seed: int = 1) -> list[str]:
    """Three platforms, two detectors, one probe per 10 s; known_answer on platform b fails 20 %
    of the time after `shift_at_s`; 0.2 % of probes time out."""
    rng = random.Random(seed)
    lines = []
    for k in range(int(days * 8640)):
        t = 1_700_000_000.0 + 10 * k
        for platform in ("a", "b", "c"):
            base = {"t": t, "platform": platform, **LABELS}
            if rng.random() < 0.002:
                lines += [{**base, "detector": d, "outcome": "timeout"} for d in ("ka", "fr")]
                continue
            p = 0.2 if platform == "b" and 10 * k > shift_at_s else 0.01
            lines.append({**base, "detector": "ka", "passed": rng.random() >= p})
            lines.append({**base, "detector": "fr", "passed": True, "score": 1.0})
    return [json.dumps(line) for line in lines]


def test_parse_derives_probe_error_and_any() -> None:
    """Timeouts are missing data for the detectors and failures of probe_error; a suite with two
    detectors gets `any`."""
    parsed = parse(stream(days=0.1))
    names = {s[4] for s in parsed.series}
    assert names == {"ka", "fr", PROBE_ERROR, ANY_CHECK}
    pe = next(i for i, s in enumerate(parsed.series) if s[4] == PROBE_ERROR and s[0] == "a")
    rows = parsed.index == pe
    probes = len(
        {
            (t)
            for t, i in zip(parsed.t, parsed.index, strict=True)
            if parsed.series[i][0] == "a" and parsed.series[i][4] == "ka"
        }
    )
    assert rows.sum() == probes  # one probe_error observation per probe
    assert set(parsed.failed[rows].tolist()) <= {0, 1}
    rate = {p.series: p.observations_per_s for p in plans(parsed)}
    assert rate[("a", "default", "m", "core", PROBE_ERROR)] == pytest.approx(0.1, rel=0.01)


def test_replay_pages_the_shifted_series_only() -> None:
    """A 20x failure rate after warm-up alarms known_answer (and any) on platform b, within
    minutes of the change, and nothing else alarms."""
    config = DriftConfig(false_pages_per_week=0.5)
    changes = list(replay(config, parse(stream())))
    alarms = [c for c in changes if c.event == "alarm"]
    assert {(c.series[0], c.series[4]) for c in alarms} <= {("b", "ka"), ("b", ANY_CHECK)}
    first = min(c.t for c in alarms)
    assert 0 < first - (1_700_000_000.0 + 3 * 86_400.0) < 30 * 60


def test_replay_command_writes_jsonl(tmp_path: Path) -> None:
    """The CLI reads the config's drift section (targets and secrets not needed) and writes one
    JSON alarm or recovery a line with the series labels."""
    config = tmp_path / "canary.yaml"
    config.write_text(
        "drift:\n  false_pages_per_week: 0.5\n"
        "targets:\n  - {platform: p, model: m, api: openai_chat, base_url: 'http://x/',"
        " credentials: {api_key_env: CANARY_SURELY_UNSET_KEY}}\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "monitor.commands.cli", "replay", "--config", str(config)],
        input="\n".join(stream()) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert rows and rows[0]["event"] == "alarm"
    assert set(rows[0]) >= {
        "t",
        "platform",
        "pool",
        "model",
        "suite",
        "detector",
        "event",
        "statistic",
    }
    assert rows[0]["platform"] == "b" and rows[0]["statistic"] >= 1


def test_bad_line_is_named() -> None:
    """A line without a verdict is refused with its line number."""
    bad = ['{"t": 1, "platform": "p", "pool": "q", "model": "m", "suite": "s", "detector": "d"}']
    with pytest.raises(LineError, match="line 1: need passed, score or outcome"):
        parse(bad)
    with pytest.raises(LineError, match="line 2"):
        parse(
            [
                '{"t": 1, "platform": "p", "pool": "q", "model": "m", "suite": "s", '
                '"detector": "d", "passed": true}',
                "not json",
            ]
        )


def test_drift_config_errors_name_the_field(tmp_path: Path) -> None:
    """A bad drift section fails like `canary validate` would, with file, line and field."""
    config = tmp_path / "c.yaml"
    config.write_text("drift:\n  tolerance: 0.5\n")
    with pytest.raises(ConfigError, match=r"c.yaml:2: drift.tolerance: must be >= 1"):
        load_drift_config(config)


def test_scores_are_replayed() -> None:
    """A score-only series learns its score distribution and pages on a mean drop."""
    rng = np.random.default_rng(3)
    lines = []
    for k in range(4 * 8640):
        t = 10.0 * k
        drop = 0.08 if t > 3 * 86_400 else 0.0
        for platform in ("a", "b"):
            score = float(np.clip(rng.beta(18, 2) - (drop if platform == "a" else 0), 0, 1))
            lines.append(
                json.dumps(
                    {"t": t, "platform": platform, **LABELS, "detector": "s", "score": score}
                )
            )
    alarms = [
        c for c in replay(DriftConfig(false_pages_per_week=0.5), parse(lines)) if c.event == "alarm"
    ]
    assert alarms and {c.series[0] for c in alarms} == {"a"}
    assert all(c.t > 3 * 86_400 for c in alarms)


def test_run_replay_streams_to_a_sink(tmp_path: Path) -> None:
    """`run_replay` writes exactly the engine's changes and counts the alarms."""
    config = tmp_path / "c.yaml"
    config.write_text("drift: {false_pages_per_week: 0.5}\n")
    sink = io.StringIO()
    alarms = run_replay(config, io.StringIO("\n".join(stream())), sink)
    rows = [json.loads(line) for line in sink.getvalue().splitlines()]
    assert alarms == sum(r["event"] == "alarm" for r in rows) >= 1
    assert [r["t"] for r in rows] == sorted(r["t"] for r in rows)


async def test_store_exports_the_replay_stream(tmp_path: Path) -> None:
    """Stored results come back as replay input: a line per check, and a probe_error line with
    the outcome of a probe that errored; replay parses them as the runner fed them."""
    from monitor.store.sqlite import SQLiteStore
    from monitor.types import Check, Outcome, Result

    store = SQLiteStore(tmp_path / "c.db", retention_passed_days=1, retention_failed_days=2)
    base = dict(
        run_id="r",
        platform="p",
        pool="q",
        model="m",
        suite="core",
        suite_version=3,
        probe="x",
        api="openai_chat",
        latency_s=0.1,
    )
    await store.write(
        Result(
            id="1",
            started_at=10.0,
            outcome=Outcome.PASSED,
            **base,  # type: ignore[arg-type]
            checks=(Check("ka", True, 1.0), Check("len", True, 0.9)),
        )
    )
    await store.write(
        Result(
            id="2",
            started_at=20.0,
            outcome=Outcome.FAILED,
            **base,  # type: ignore[arg-type]
            checks=(Check("ka", False, 0.0), Check("len", True, 1.0)),
        )
    )
    await store.write(Result(id="3", started_at=30.0, outcome=Outcome.TIMEOUT, **base))  # type: ignore[arg-type]
    lines = await store.export_outcomes()
    await store.close()
    assert [(row["t"], row["detector"]) for row in lines] == [
        (10.0, "ka"),
        (10.0, "len"),
        (20.0, "ka"),
        (20.0, "len"),
        (30.0, "probe_error"),
    ]
    assert lines[2]["passed"] is False and lines[4]["outcome"] == "timeout"
    parsed = parse(json.dumps(row) for row in lines)
    observed = {}
    for i, s in enumerate(parsed.series):
        rows = parsed.index == i
        observed[s[4]] = sorted(
            zip(parsed.t[rows].tolist(), parsed.failed[rows].tolist(), strict=True)
        )
    assert observed[PROBE_ERROR] == [(10.0, 0), (20.0, 0), (30.0, -1), (30.0, 1)]
    assert observed[ANY_CHECK] == [(10.0, 0), (20.0, 1), (30.0, -1)]
    assert observed["ka"] == [(10.0, 0), (20.0, 1)]
