"""Assertions shared by the hostile-reply tests: one probe run, judged everywhere it lands."""

from __future__ import annotations

import json

from monitor.config import Target
from monitor.runner import Runner, SuiteOptions
from monitor.types import Outcome, Result
from tests.hostile.cases import DEADLINE_S, Case
from tests.hostile.conftest import API_KEY, SUITE, hostile_target

CONTROL = {chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))} - {"\n"}
LEAK_MARKERS = ("pwned", "upstream", "nginx", API_KEY)


def assert_clean_log(text: str) -> None:
    """JSON lines with no raw control character, no reply or error-body text and no key."""
    assert not CONTROL & set(text), sorted(CONTROL & set(text))
    for line in text.splitlines():
        json.loads(line)
    for marker in LEAK_MARKERS:
        assert marker not in text


async def run_case(
    runner: Runner,
    case: Case,
    api: str,
    base_url: str,
    *,
    target: Target | None = None,
    options: SuiteOptions | None = None,
) -> Result:
    """Run the hostile suite once on `base_url` and check the result everywhere it landed."""
    target = target or hostile_target(api, base_url)
    (result,) = await runner.run_suite(target, SUITE, options or SuiteOptions())
    expected = case.outcome_for(api)
    assert result.outcome is expected, result.error
    reg = runner.metrics.registry
    labels = {"platform": "hostile", "pool": "default", "model": "m", "suite": "hostile"}
    assert reg.get_sample_value("canary_probe_runs_total", {**labels, "outcome": expected}) == 1
    assert reg.get_sample_value("canary_internal_errors_total") == 0
    assert reg.get_sample_value("canary_store_errors_total", {"operation": "write"}) in (None, 0)
    stored = await runner.store.get(result.id)
    assert stored is not None and stored["outcome"] == expected.value
    if expected in (Outcome.PASSED, Outcome.FAILED):
        assert stored["reply"] is not None and result.reply is not None
        assert stored["reply"]["text"] == result.reply.text
    else:
        assert stored["error"] == result.error
        assert case.evidence_for(api) in (result.error or ""), result.error
        assert API_KEY not in (result.error or "")
        # the error is one printable line: it is shown in `canary once` and the API
        assert not CONTROL & set(result.error or ""), repr(result.error)
    if expected is Outcome.TIMEOUT:
        # the total deadline, not a per-read one: the drip would go on for minutes
        assert result.latency_s < DEADLINE_S + 2.0
    return result
