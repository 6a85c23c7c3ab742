"""The plan of a config: every (target, suite) once, and every command reading the same one."""

from __future__ import annotations

import io
import json
from pathlib import Path

from monitor.commands.once import run_once
from monitor.config import load_config
from monitor.plan import SuiteOptions, make_plan
from tests.conftest import ROOT, WriteConfig

TOP_TOKEN = ROOT / "probes" / "top-token.yaml"


def with_suite(path: Path, line: str) -> Path:
    path.write_text(path.read_text() + line)
    return path


def test_plan_lists_every_bound_suite_in_config_order(write_config: WriteConfig) -> None:
    """One planned suite per (binding, selected target), bindings first, each with the
    probes its API serves and the ones it skips, its options and its series labels."""
    path = with_suite(
        write_config(),
        f"  - {{file: '{TOP_TOKEN}', interval_s: 30, burst: 2, context_cutover_tokens: 4096}}\n",
    )
    plan = make_plan(load_config(path))
    assert [p.key for p in plan.suites] == [
        "anthropic-api/default/sim/core",
        "vllm-prod/long-context/sim/core",
        "anthropic-api/default/sim/top-token",
        "vllm-prod/long-context/sim/top-token",
    ]
    anthropic_top = plan.suites[2]
    assert anthropic_top.runnable is None and len(anthropic_top.skipped) == 8  # no logprobs
    openai_top = plan.suites[3]
    assert openai_top.runnable is not None and not openai_top.skipped
    assert openai_top.options == SuiteOptions(cutover_tokens=4096, burst=2, stream=None)
    assert (openai_top.interval_s, openai_top.labels.labels()) == (
        30,
        ("vllm-prod", "long-context", "sim", "top-token"),
    )
    assert [p.key for p in plan.runnable()] == [p.key for p in plan.suites if p.runnable]
    assert plan.models() == {"sim"}
    assert [p.key for p in plan.select("vllm-prod/long-context/sim", "core")] == [
        "vllm-prod/long-context/sim/core"
    ]


def test_plan_is_pure(write_config: WriteConfig) -> None:
    """The same config gives the same plan, whoever asks."""
    loaded = load_config(write_config())
    assert make_plan(loaded) == make_plan(loaded)


async def test_once_honours_burst(write_config: WriteConfig) -> None:
    """`canary once` runs a binding's burst as the daemon does: each probe alone, then N
    copies at once, the copies judged against the lone reply (it ignored `burst` before)."""
    path = write_config()
    path.write_text(path.read_text().replace("stream: false}", "stream: false, burst: 2}"))
    out = io.StringIO()
    code = await run_once(
        path, "vllm-prod/long-context/sim", "core", debug=False, as_json=True, out=out
    )
    results = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    probes = len(load_config(path).bindings[0][1].probes)
    assert len(results) == 3 * probes, (code, len(results))
    compared = [r for r in results if any(c["detector"] == "load_consistency" for c in r["checks"])]
    assert len(compared) == 2 * probes
