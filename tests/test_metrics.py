"""The metric contract: a frozen catalogue, pre-initialised series, pruning on reload."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from monitor.config.expectation import Expectation
from monitor.detectors import REGISTRY, compare_replies, run_detectors
from monitor.drift import ANY_CHECK, PROBE_ERROR
from monitor.metrics import Metrics, SeriesKey, TargetInfo
from monitor.types import Check, FinishReason, Outcome, Reply, Result

GOLDEN = Path(__file__).parent / "golden" / "metrics_catalogue.json"
KEY = SeriesKey("bedrock", "us-east-1", "claude", "core")


def catalogue(registry: CollectorRegistry) -> dict[str, dict[str, object]]:
    """Every metric family with its type and sorted label names."""
    out: dict[str, dict[str, object]] = {}
    for family in registry.collect():
        labels: set[str] = set()
        for sample in family.samples:
            labels.update(k for k in sample.labels if k not in ("le", "quantile"))
        out[family.name] = {"type": family.type, "labels": sorted(labels)}
    return dict(sorted(out.items()))


@pytest.fixture
def metrics() -> Metrics:
    m = Metrics(CollectorRegistry())
    m.configure(
        [TargetInfo("bedrock", "us-east-1", "claude", "anthropic_messages")],
        {KEY: 30.0},
        [(KEY, "known_answer"), (KEY, "unexpected_script"), (KEY, "code_syntax")],
        streamed=[KEY],
    )
    m.set_skipped([(KEY, "logprobs")])
    return m


# One reply that fails the detectors with evidence counters: Thai in English, broken Python.
CORRUPT = Reply(
    text="The answer is ภาษา.\n```python\ndef f(:\n    return 1\n```\n",
    finish_reason=FinishReason.STOP,
    time_to_first_token_s=0.2,
    output_tokens_per_s=40.0,
)
CORRUPT_EXPECT = Expectation.model_validate({"scripts": ["Latin"], "code_language": "python"})


def _result(outcome: Outcome, checks: tuple[Check, ...] = (), reply: Reply | None = None) -> Result:
    return Result(
        id="r", run_id="x", started_at=1.0, platform="bedrock", pool="us-east-1", model="claude",
        suite="core", suite_version=1, probe="p", api="anthropic_messages", outcome=outcome,
        latency_s=0.5, checks=checks, reply=reply,
    )  # fmt: skip


@pytest.fixture
def seen() -> Metrics:
    """A registry that has seen one probe of each kind: every registered detector configured,
    a streamed reply judged by the real detectors (a burst copy too), a timeout, a backend
    identity, a skipped probe, drift state, a scheduler start and a shard held."""
    m = Metrics(CollectorRegistry())
    pairs = [(KEY, name) for name in (*REGISTRY, ANY_CHECK, PROBE_ERROR)]
    m.configure([TargetInfo("bedrock", "us-east-1", "claude", "anthropic_messages")],
                {KEY: 30.0}, pairs, streamed=[KEY])  # fmt: skip
    m.set_skipped([(KEY, "logprobs")])
    checks = run_detectors(CORRUPT, CORRUPT_EXPECT)
    checks += compare_replies(CORRUPT, Reply(text="x", finish_reason=None), CORRUPT_EXPECT)
    m.observe(_result(Outcome.FAILED, checks, CORRUPT), finished_at=100.0)
    m.observe(_result(Outcome.TIMEOUT), finished_at=101.0)
    m.observe_backend("bedrock", "us-east-1", "claude", "fp_1")
    m.set_drift_state((*KEY.labels(), "unexpected_script"), ratio=0.5, alarmed=False,
                      divergence_ratio=0.1, divergence_alarmed=False)  # fmt: skip
    m.scheduler_lag.observe(0.01)
    m.set_shards("canary-0", ["claude"], members=1)
    return m


def test_every_family_has_samples(seen: Metrics) -> None:
    """The catalogue reads label names from samples, so every family must have one."""
    assert [f.name for f in seen.registry.collect() if not f.samples] == []


def test_detectors_judged_the_corrupt_reply(seen: Metrics) -> None:
    """The fixture's reply really fails with evidence: the detector counters moved."""
    reg = seen.registry
    labels = {"platform": "bedrock", "pool": "us-east-1", "model": "claude", "suite": "core"}
    thai = reg.get_sample_value("canary_unexpected_script_chars_total", {**labels, "script": "Thai"})
    assert thai and thai > 0
    python = {**labels, "language": "python"}
    assert reg.get_sample_value("canary_code_syntax_failures_total", python) == 1


def test_catalogue_matches_golden(seen: Metrics) -> None:
    """Names, types and label names equal the golden file; set CANARY_UPDATE_GOLDEN=1 to rewrite it."""
    got = catalogue(seen.registry)
    if os.environ.get("CANARY_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=2) + "\n")
    assert got == json.loads(GOLDEN.read_text())


def test_series_exist_before_first_probe(metrics: Metrics) -> None:
    """Every outcome and detector counter of a configured series is 0 from the first scrape."""
    reg = metrics.registry
    labels = {"platform": "bedrock", "pool": "us-east-1", "model": "claude", "suite": "core"}
    for outcome in Outcome:
        assert (
            reg.get_sample_value("canary_probe_runs_total", {**labels, "outcome": outcome.value})
            == 0
        )
    assert (
        reg.get_sample_value("canary_check_failures_total", {**labels, "detector": "known_answer"})
        == 0
    )
    assert reg.get_sample_value("canary_suite_interval_seconds", labels) == 30.0


def test_observe_counts_outcome_checks_and_scores(metrics: Metrics) -> None:
    """A failed result bumps the run, check, failure and score series of its labels only."""
    result = Result(
        id="r",
        run_id="x",
        started_at=1.0,
        platform="bedrock",
        pool="us-east-1",
        model="claude",
        suite="core",
        suite_version=1,
        probe="p",
        api="anthropic_messages",
        outcome=Outcome.FAILED,
        latency_s=0.5,
        checks=(Check("known_answer", False, 0.0),),
    )
    metrics.observe(result, finished_at=100.0)
    reg = metrics.registry
    labels = {"platform": "bedrock", "pool": "us-east-1", "model": "claude", "suite": "core"}
    assert reg.get_sample_value("canary_probe_runs_total", {**labels, "outcome": "failed"}) == 1
    assert reg.get_sample_value("canary_probe_runs_total", {**labels, "outcome": "passed"}) == 0
    assert reg.get_sample_value("canary_checks_total", {**labels, "detector": "known_answer"}) == 1
    assert (
        reg.get_sample_value("canary_check_failures_total", {**labels, "detector": "known_answer"})
        == 1
    )
    assert (
        reg.get_sample_value("canary_check_score_count", {**labels, "detector": "known_answer"})
        == 1
    )
    assert reg.get_sample_value("canary_last_run_timestamp_seconds", labels) == 100.0
    assert reg.get_sample_value("canary_last_success_timestamp_seconds", labels) == 0


def test_reload_prunes_series_of_removed_targets(metrics: Metrics) -> None:
    """Series of a target that left the config disappear; new ones appear at zero."""
    other = SeriesKey("vertex", "eu", "claude", "core")
    metrics.configure(
        [TargetInfo("vertex", "eu", "claude", "anthropic_messages")],
        {other: 60.0},
        [(other, "length")],
    )
    reg = metrics.registry
    gone = {"platform": "bedrock", "pool": "us-east-1", "model": "claude", "suite": "core"}
    assert reg.get_sample_value("canary_probe_runs_total", {**gone, "outcome": "passed"}) is None
    assert (
        reg.get_sample_value(
            "canary_target_info", {**gone, "api": "anthropic_messages"} | {"suite": ""}
        )
        is None
    )
    new = {"platform": "vertex", "pool": "eu", "model": "claude", "suite": "core"}
    assert reg.get_sample_value("canary_check_failures_total", {**new, "detector": "length"}) == 0
    assert (
        reg.get_sample_value("canary_check_failures_total", {**gone, "detector": "known_answer"})
        is None
    )


def test_evidence_counters_use_bounded_tables(metrics: Metrics) -> None:
    """Script and language counters count from evidence, and only for table values."""
    checks = (
        Check("unexpected_script", False, 0.0, {"counts": {"Thai": 3, "Klingon": 2}}),
        Check("code_syntax", False, 0.0, {"language": "python"}),
    )
    result = Result(
        id="r", run_id="x", started_at=1.0, platform="bedrock", pool="us-east-1", model="claude",
        suite="core", suite_version=1, probe="p", api="anthropic_messages", outcome=Outcome.FAILED,
        latency_s=0.5, checks=checks,
    )
    metrics.observe(result, finished_at=100.0)
    reg = metrics.registry
    labels = {"platform": "bedrock", "pool": "us-east-1", "model": "claude", "suite": "core"}
    assert reg.get_sample_value("canary_unexpected_script_chars_total", {**labels, "script": "Thai"}) == 3
    assert reg.get_sample_value("canary_unexpected_script_chars_total", {**labels, "script": "Han"}) == 0
    assert reg.get_sample_value("canary_unexpected_script_chars_total", {**labels, "script": "Klingon"}) is None
    assert reg.get_sample_value("canary_code_syntax_failures_total", {**labels, "language": "python"}) == 1


def test_label_names_are_bounded(seen: Metrics) -> None:
    """No metric carries a label outside the closed vocabulary of DESIGN.md."""
    allowed = {
        "platform",
        "pool",
        "model",
        "suite",
        "detector",
        "outcome",
        "event",
        "operation",
        "api",
        "version",
        "revision",
        "script",
        "language",
        "capability",  # capabilities.CAPABILITY_NAMES: why a probe is skipped on a target
        "reason",  # metrics.HTTP_DROP_REASONS: why the HTTP server dropped a connection
        "replica",  # cluster.replica_id from config, else the pod name
        "shard",  # a configured model
    }
    for name, entry in catalogue(seen.registry).items():
        assert set(entry["labels"]) <= allowed, name  # type: ignore[arg-type]
