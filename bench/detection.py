"""Change-detection benchmark: research note section 5 on a simulated fleet, through replay.

Every scenario's probe streams go through `monitor.replay` (the daemon's own drift engine, hour
by hour, exactly as `canary replay` runs it), with the budget of one false alarm per series per
30 days. On the same streams, an oracle CUSUM that knows p0 and p1, calibrated by the exact
chain to the false-alarm rate the daemon actually achieved (gamma, pooled over the in-control
probes of the step, routing, platform and intermittent runs), and the naive "k failures in the
last 5 minutes" rule at that same rate. Prints per scenario the mean, median and p90 delay, the
detection rate within 3 days, false alarms per series-month with an exact 95 % interval, and
the delay ratio to the oracle; then the pass/fail of the targets.

    python bench/detection.py [--json] [--seed N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.detection_fleet import (
    DAY_S,
    HORIZON_S,
    INTERVAL_S,
    WARMUP_S,
    Fleet,
    Scenario,
)
from bench.detection_oracle import naive_delay, naive_k, oracle_delay, score_delay
from monitor.config import DriftConfig
from monitor.drift import SeriesPlan
from monitor.drift.scores import BINS
from monitor.drift.stats import poisson_interval
from monitor.replay import Stream, derive, engine_for, expand, hours

MONTH_S = 30 * DAY_S
CENSOR = int(HORIZON_S / INTERVAL_S)
SCENARIOS = (
    Scenario("S1 step x2", "step", 2.0),
    Scenario("S1 step x8", "step", 8.0),
    Scenario("S1 step x50", "step", 50.0),
    Scenario("S1 step to 50%", "step", absolute=0.5),
    Scenario("S2 routing q=0.3", "routing", 0.3),
    Scenario("S2 routing q=1", "routing", 1.0),
    Scenario("S3 one platform +0.5%", "platform", 0.005),
    Scenario("S4 intermittent x8, 30% of hours", "intermittent", 8.0),
    Scenario("S5 score drop 0.02", "score", 0.02),
    Scenario("S5 score drop 0.05", "score", 0.05),
    Scenario("R 0.1% -> +0.8 points", "step", absolute=0.009, fixed_p0=0.001),
    Scenario("N1 diurnal +-30%", "diurnal"),
    Scenario("N2 baseline 1.25x off", "baseline"),
    Scenario("N3 1% missing probes", "missing"),
)
GATED = ("S1", "S2")  # the delay-ratio target: geometric mean over step and routing
NUISANCES = ("diurnal", "baseline", "missing")  # in control: every alarm is a false alarm


@dataclass(slots=True)
class Run:
    scenario: Scenario
    seconds: float = 0.0
    false_alarms: int = 0
    exposure_probes: float = 0.0
    pseudo_false_alarms: int = 0
    delays: list[int] = field(default_factory=list)  # daemon, probes (censored at 3 d)
    excluded: int = 0
    streams: list[tuple[int, np.ndarray, int]] = field(default_factory=list)  # series, data, start
    fleet: Fleet | None = None


def bench_config(series: int) -> DriftConfig:
    """One false alarm per series per 30 days, the research note's reference budget."""
    extra = json.loads(os.environ.get("CANARY_BENCH_DRIFT", "{}"))  # tuning experiments
    return DriftConfig(false_pages_per_week=series * 7 / 30, **extra)


def run_scenario(scenario: Scenario, seed: int, models: int) -> Run:
    started = time.perf_counter()
    fleet = Fleet(scenario, seed, models)
    template = expand(Stream(series=list(fleet.series), versions=[""] * len(fleet.series)))
    plans = [SeriesPlan(s, 1 / INTERVAL_S) for s in template.series]
    engine = engine_for(bench_config(len(plans)), plans)
    n = len(fleet.series)
    keep = {int(i): [] for i in np.flatnonzero(fleet.changed)}
    alarms: list[tuple[float, int, str]] = []
    position = {s: i for i, s in enumerate(template.series)}
    for h in range(fleet.hours):
        if h * 3600.0 >= fleet.end.max():
            break
        hour = fleet.hour(h)
        chunk = Stream(
            series=template.series,
            versions=template.versions,
            pseudo=template.pseudo,
            index=hour.index,
            t=hour.t,
            failed=hour.failed,
            score=hour.score,
            errored=hour.errored,
        )
        for hour_index, columns in hours(derive(chunk)):
            for change in engine.feed(hour_index, columns):
                alarms.append((change.t, position[change.series], change.event))
        if h * 3600.0 + 3600 > WARMUP_S:
            for i in keep:
                mine = (hour.index == i) & (hour.t >= WARMUP_S)
                data = (
                    np.where(
                        np.isnan(hour.score[mine]),
                        -1,
                        np.minimum(BINS - 1, (hour.score[mine] * BINS).astype(np.int64)),
                    )
                    if scenario.kind == "score"
                    else hour.failed[mine].astype(np.int64)
                )
                keep[i].append(data)
    run = Run(scenario)
    alarm_arr = sorted(alarms)
    for i in range(len(template.series)):
        base = i if i < n else None
        nuisance = scenario.kind in NUISANCES
        nu = fleet.nu[base] if base is not None and not nuisance else np.inf
        end = min(nu, fleet.end[base if base is not None else i - n])
        mine = [(t, e) for t, j, e in alarm_arr if j == i]
        false = sum(1 for t, e in mine if e == "alarm" and WARMUP_S <= t < end)
        if base is None:
            run.pseudo_false_alarms += false
            continue
        run.false_alarms += false
        run.exposure_probes += max(0.0, end - WARMUP_S) / INTERVAL_S
        if nuisance or not fleet.changed[i]:
            continue
        before = [e for t, e in mine if t < nu]
        if before and before[-1] == "alarm":
            run.excluded += 1
            continue
        after = [t for t, e in mine if e == "alarm" and nu <= t < nu + HORIZON_S]
        delay = int(round((after[0] - nu) / INTERVAL_S)) if after else CENSOR
        run.delays.append(min(delay, CENSOR))
        data = np.concatenate(keep[i]) if keep[i] else np.zeros(0, dtype=np.int64)
        start = int(math.ceil((nu - WARMUP_S - fleet.offset[i]) / INTERVAL_S))
        run.streams.append((i, data, max(0, start)))
    run.seconds = time.perf_counter() - started
    run.fleet = fleet
    return run


def reference_delays(run: Run, gamma: float) -> tuple[list[int], list[int]]:
    """Oracle and naive delays (probes, censored) on the streams the daemon saw."""
    fleet = run.fleet
    assert fleet is not None
    sc = run.scenario
    oracle, naive = [], []
    for i, data, start in run.streams:
        p0 = float(fleet.p0[i])
        if sc.kind == "score":
            shape = (float(fleet.shape[i, 0]), float(fleet.shape[i, 1]))
            at = score_delay(data, shape, sc.value, gamma, start)
            oracle.append(CENSOR if at is None else min(at - start, CENSOR))
            continue
        p1 = {
            "step": sc.absolute if sc.absolute is not None else sc.value * p0,
            "routing": p0 + (1 - p0) * sc.value * 0.008,
            "platform": p0 + sc.value,
            "intermittent": sc.value * p0,
        }[sc.kind]
        at = oracle_delay(data.astype(np.int8), p0, float(p1), gamma, start)
        oracle.append(CENSOR if at is None else min(at - start, CENSOR))
        k = naive_k(p0, gamma)
        at = naive_delay(data.astype(np.int8), k, start)
        naive.append(CENSOR if at is None else min(at - start, CENSOR))
    return oracle, naive


def summary(delays: list[int]) -> dict[str, float]:
    if not delays:
        return {}
    d = np.array(delays, dtype=float) * INTERVAL_S / 60
    return {
        "mean_min": round(float(d.mean()), 1),
        "median_min": round(float(np.median(d)), 1),
        "p90_min": round(float(np.percentile(d, 90)), 1),
        "detected": round(float((np.array(delays) < CENSOR).mean()), 3),
    }


def false_alarm_rate(alarms: int, probes: float) -> dict[str, float]:
    months = probes * INTERVAL_S / MONTH_S
    lo, hi = poisson_interval(alarms)
    return {
        "false_alarms": alarms,
        "series_months": round(months, 1),
        "per_series_month": round(alarms / months, 3) if months else 0.0,
        "ci95": [round(lo / months, 3), round(hi / months, 3)] if months else [0.0, 0.0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--seed", type=int, default=20250917)
    parser.add_argument("--quick", action="store_true", help="20 models instead of 50")
    parser.add_argument("--only", help="comma-separated scenario name prefixes")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    args = parser.parse_args(argv)
    models = 20 if args.quick else 50
    chosen = [
        s
        for s in SCENARIOS
        if not args.only or any(s.name.startswith(p) for p in args.only.split(","))
    ]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        jobs = [pool.submit(run_scenario, sc, args.seed + k, models) for k, sc in enumerate(chosen)]
        runs = [job.result() for job in jobs]
    control = [r for r in runs if r.scenario.name[:2] in ("S1", "S2", "S3", "S4", "R ")]
    fa = sum(r.false_alarms for r in control)
    exposure = sum(r.exposure_probes for r in control)
    gamma = exposure / max(fa, 1)
    report: dict[str, Any] = {
        "budget_per_series_month": 1.0,
        "gamma_probes": round(gamma),
        "false_alarms": false_alarm_rate(fa, exposure),
        "scenarios": [],
    }
    ratios: dict[str, float] = {}
    for run in runs:
        entry: dict[str, Any] = {
            "scenario": run.scenario.name,
            "false_alarms": false_alarm_rate(run.false_alarms, run.exposure_probes),
            "probe_error_false_alarms": run.pseudo_false_alarms,
            "seconds": round(run.seconds, 1),
        }
        if run.delays:
            oracle, naive = reference_delays(run, gamma)
            entry["daemon"] = summary(run.delays)
            entry["oracle"] = summary(oracle)
            if naive:
                entry["naive"] = summary(naive)
                entry["naive_over_daemon"] = round(float(np.mean(naive) / np.mean(run.delays)), 2)
            ratio = float(np.mean(run.delays) / np.mean(oracle))
            entry["ratio_to_oracle"] = round(ratio, 3)
            entry["excluded_alarmed_at_change"] = run.excluded
            ratios[run.scenario.name] = ratio
        report["scenarios"].append(entry)
    gated = [v for k, v in ratios.items() if k[:2] in GATED]
    geo = float(np.exp(np.mean(np.log(gated)))) if gated else float("nan")
    upper = report["false_alarms"]["ci95"][1]
    r08 = next((e for e in report["scenarios"] if e["scenario"].startswith("R ")), None)
    nuisance = [e for e in report["scenarios"] if e["scenario"].startswith("N")]
    report["targets"] = {
        "false_alarm_upper_ci_over_budget": round(upper, 3),
        "false_alarms_within_budget": bool(upper <= 1.5),
        "nuisances_within_budget": bool(all(e["false_alarms"]["ci95"][1] <= 1.5 for e in nuisance)),
        "geomean_ratio_step_routing": round(geo, 3),
        "ratio_target_met": bool(geo <= 1.2),
        "naive_over_daemon_0.8pt": r08.get("naive_over_daemon") if r08 else None,
        "naive_target_met": bool(r08 and r08.get("naive_over_daemon", 0) >= 5),
    }
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


def print_table(report: dict[str, Any]) -> None:
    print(
        f"gamma (measured in-control ARL) = {report['gamma_probes']} probes; "
        f"false alarms {report['false_alarms']}"
    )
    head = f"{'scenario':<34}{'daemon mean/med/p90 min':>26}{'det':>6}{'oracle mean':>12}{'ratio':>7}{'naive':>9}{'FA/sm [95% CI]':>24}"
    print(head)
    for e in report["scenarios"]:
        d, o, nv = e.get("daemon", {}), e.get("oracle", {}), e.get("naive", {})
        fa = e["false_alarms"]
        print(
            f"{e['scenario']:<34}"
            + (f"{d['mean_min']:>10}/{d['median_min']}/{d['p90_min']:<8}" if d else f"{'-':>26}")
            + (f"{d['detected']:>6}" if d else f"{'':>6}")
            + (f"{o.get('mean_min', '-'):>12}" if o else f"{'-':>12}")
            + f"{e.get('ratio_to_oracle', '-'):>7}"
            + f"{nv.get('mean_min', '-'):>9}"
            + f"{fa['per_series_month']:>10} [{fa['ci95'][0]}, {fa['ci95'][1]}]"
        )
    print(json.dumps(report["targets"], indent=2))
    print(f"{report['seconds']} s")


if __name__ == "__main__":
    sys.exit(main())
