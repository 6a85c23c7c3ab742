"""Which probe catches which incident: detection rate per probe run against the simulated fleet.

For each incident class, the fault the simulated fleet injects for it is switched on at rate 1
on one pool, every probe of the suites is run `--runs` times, and the share of runs in which a
check failed is reported per probe, with the detectors that fired. A clean run of the same
probes gives the false-failure rate. This is the table in docs/probes.md.

    python bench/quality/probe_detection.py [--runs 20] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from canary_sim import AnswerBook, Fault, SimBackend, run_fleet
from monitor.config import Target
from monitor.config.probes import ProbeSuite, load_suite
from monitor.runner import execute_probe
from monitor.types import Outcome

ROOT = Path(__file__).resolve().parents[2]
PROBES = ROOT / "probes"

# incident class -> (fault, suites whose probes guard it)
SCENARIOS: dict[str, tuple[Fault | None, tuple[str, ...]]] = {
    "clean (false failures)": (None, ("core", "corruption", "top-token", "routing", "sycophancy")),
    "output corruption: wrong script": (Fault("wrong_script", rate=1.0), ("corruption", "core")),
    "output corruption: code syntax": (Fault("code_corruption", rate=1.0), ("corruption", "core")),
    "top-k miscompile: dropped top token": (
        Fault("top_token_drop", rate=1.0),
        ("top-token", "core"),
    ),
    "misrouting to a degraded pool": (Fault("misroute", rate=1.0), ("routing", "core")),
    "sycophancy": (Fault("sycophancy", rate=1.0), ("sycophancy",)),
}


async def measure(runs: int, api: str) -> list[dict[str, Any]]:
    suites = {p.stem: load_suite(p) for p in sorted(PROBES.glob("*.yaml"))}
    backend = SimBackend("bench", "pool", api)
    rows: list[dict[str, Any]] = []
    async with run_fleet([backend], AnswerBook.from_probe_dir(PROBES), seed=3) as fleet:
        target = Target(
            platform="bench",
            pool="pool",
            model="sim",
            api=api,
            base_url=fleet.base_url("bench", "pool"),
        )
        async with httpx.AsyncClient(base_url=target.base_url, timeout=30) as client:
            for incident, (fault, names) in SCENARIOS.items():
                fleet.clear_faults()
                if fault is not None:
                    fleet.set_fault("bench", "pool", fault)
                for name in names:
                    rows.extend(await _suite_rows(client, target, suites[name], incident, runs))
    return rows


async def _suite_rows(
    client: httpx.AsyncClient, target: Target, suite: ProbeSuite, incident: str, runs: int
) -> list[dict[str, Any]]:
    rows = []
    for probe in suite.probes:
        flagged, fired = 0, Counter[str]()
        for _ in range(runs):
            result = await execute_probe(client, target, suite, probe, uuid.uuid4().hex)
            if result.outcome is not Outcome.PASSED:
                flagged += 1
                fired.update(result.failed_detectors or (result.outcome.value,))
        rows.append(
            {
                "incident": incident,
                "suite": suite.suite,
                "probe": probe.name,
                "detection_rate": flagged / runs,
                "detectors": dict(fired.most_common()),
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]], api: str) -> str:
    lines = [
        "| incident (simulated fault, rate 1) | suite/probe | flagged runs "
        f"| checks that fired ({api}) |",
        "| --- | --- | --- | --- |",
    ]
    for row in rows:
        fired = ", ".join(f"{k} {v}" for k, v in row["detectors"].items()) or "-"
        probe = f"{row['suite']}/{row['probe']}"
        lines.append(f"| {row['incident']} | {probe} | {row['detection_rate']:.0%} | {fired} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--api", default="openai_chat", choices=["openai_chat", "anthropic_messages"]
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = asyncio.run(measure(args.runs, args.api))
    print(json.dumps(rows, indent=1) if args.json else markdown(rows, args.api))
    return 0


if __name__ == "__main__":
    sys.exit(main())
