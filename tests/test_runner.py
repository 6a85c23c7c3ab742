"""One probe end to end through the runner: outcomes, records, metrics, drift and the log line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from monitor.config import Target
from monitor.config.probes import ProbeSuite
from monitor.drift import DriftEngine, SeriesPlan
from monitor.metrics import Metrics
from monitor.runner import Runner
from monitor.store.sqlite import SQLiteStore
from monitor.types import Outcome, Result

SUITE = ProbeSuite.model_validate(
    {
        "suite": "core",
        "version": 2,
        "probes": [
            {
                "name": "capital",
                "reason": "top-token integrity",
                "prompt": "Capital of France?",
                "expect": {"answer": {"exact": "Paris"}, "finish_reason": ["stop"]},
            }
        ],
    }
)
TARGET = Target(
    platform="vllm-prod",
    pool="default",
    model="llama",
    api="openai_chat",
    base_url="http://sim.test/",
).model_copy(update={"api_key": SecretStr("sk-secret-123")})
LABELS = {"platform": "vllm-prod", "pool": "default", "model": "llama", "suite": "core"}


def chat(content: str, finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "llama",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }


Handler = Callable[[httpx.Request], httpx.Response]


class FailingStore(SQLiteStore):
    async def write(self, result: Result) -> None:
        raise OSError("disk full")


@pytest.fixture
async def make_runner(tmp_path: Path) -> Any:
    """Builds runners on a real SQLite store and a MockTransport client; closes them after."""
    created: list[tuple[SQLiteStore, httpx.AsyncClient]] = []

    def make(handler: Handler, store_cls: type[SQLiteStore] = SQLiteStore) -> Runner:
        store = store_cls(str(tmp_path / "c.db"), retention_passed_days=1, retention_failed_days=2)
        drift = DriftEngine(0.002, 0.05, 1.0)
        drift.configure(
            [
                SeriesPlan((*LABELS.values(), d), 1.0)
                for d in ("known_answer", "finish_reason", "any", "probe_error")
            ]
        )
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url=TARGET.base_url)
        runner = Runner(
            metrics=Metrics(CollectorRegistry()),
            store=store,
            drift=drift,
            clients=lambda _t: client,
        )
        created.append((store, client))
        return runner

    yield make
    for store, client in created:
        await store.close()
        await client.aclose()


@pytest.mark.parametrize(
    ("handler", "outcome", "failed"),
    [
        (lambda r: httpx.Response(200, json=chat("Paris")), Outcome.PASSED, ()),
        (lambda r: httpx.Response(200, json=chat("Lyon")), Outcome.FAILED, ("known_answer",)),
        (
            lambda r: httpx.Response(200, json=chat("Pa", "length")),
            Outcome.FAILED,
            ("known_answer", "finish_reason"),
        ),
        (
            lambda r: httpx.Response(
                503, json={"error": {"message": "down", "type": "server_error"}}
            ),
            Outcome.HTTP_ERROR,
            (),
        ),
        (
            lambda r: httpx.Response(429, headers={"retry-after": "3"}, json={"error": {}}),
            Outcome.RATE_LIMITED,
            (),
        ),
        (lambda r: httpx.Response(200, text="{not json"), Outcome.PROTOCOL_ERROR, ()),
    ],
    ids=["passed", "wrong-answer", "truncated", "http-error", "rate-limited", "malformed"],
)
async def test_outcomes_are_recorded_everywhere(
    make_runner: Any, handler: Handler, outcome: Outcome, failed: tuple[str, ...]
) -> None:
    """Each reply class yields its outcome, and the result lands in the store and the counters."""
    runner = make_runner(handler)
    (result,) = await runner.run_suite(TARGET, SUITE)
    assert (result.outcome, result.failed_detectors) == (outcome, failed)
    stored = await runner.store.get(result.id)
    assert stored is not None and stored["outcome"] == outcome.value
    reg = runner.metrics.registry
    assert (
        reg.get_sample_value("canary_probe_runs_total", {**LABELS, "outcome": outcome.value}) == 1
    )
    for detector in failed:
        assert (
            reg.get_sample_value("canary_check_failures_total", {**LABELS, "detector": detector})
            == 1
        )
    errored = outcome not in (Outcome.PASSED, Outcome.FAILED)
    assert runner.drift.states[(*LABELS.values(), "probe_error")].statistic > 0 if errored else True


async def test_request_carries_probe_and_fresh_affinity(make_runner: Any) -> None:
    """The wire request holds the probe prompt, greedy sampling and a new affinity key per probe."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=chat("Paris"))

    runner = make_runner(handler)
    await runner.run_suite(TARGET, SUITE)
    await runner.run_suite(TARGET, SUITE)
    body = json.loads(seen[0].content)
    assert body["messages"][-1] == {"role": "user", "content": "Capital of France?"}
    assert body["temperature"] == 0
    keys = {r.headers["x-canary-affinity"] for r in seen}
    assert len(keys) == 2


async def test_store_failure_is_counted_not_raised(make_runner: Any) -> None:
    """A store that cannot write costs a counter and a log line, never the probe or the daemon."""
    runner = make_runner(lambda r: httpx.Response(200, json=chat("Paris")), FailingStore)
    with structlog.testing.capture_logs() as logs:
        (result,) = await runner.run_suite(TARGET, SUITE)
    assert result.outcome is Outcome.PASSED
    assert (
        runner.metrics.registry.get_sample_value(
            "canary_store_errors_total", {"operation": "write"}
        )
        == 1
    )
    assert any(e["event"] == "store.write_failed" and e["log_level"] == "error" for e in logs)


async def test_unexpected_exception_becomes_a_counted_result(make_runner: Any) -> None:
    """A bug below the runner is contained: stored as protocol_error and counted as internal."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("boom")

    runner = make_runner(handler)
    (result,) = await runner.run_suite(TARGET, SUITE)
    assert result.outcome is Outcome.PROTOCOL_ERROR
    assert result.error == "internal error: RuntimeError"
    assert runner.metrics.registry.get_sample_value("canary_internal_errors_total") == 1


async def test_one_canonical_log_line_per_probe(make_runner: Any) -> None:
    """`probe.finished` carries the series labels, outcome and failed detectors, and no secret."""
    runner = make_runner(lambda r: httpx.Response(200, json=chat("Lyon")))
    with structlog.testing.capture_logs() as logs:
        await runner.run_suite(TARGET, SUITE)
    finished = [e for e in logs if e["event"] == "probe.finished"]
    assert len(finished) == 1
    # capture_logs does not run merge_contextvars, so the bound labels are checked via the runner's contract
    assert finished[0]["outcome"] == "failed" and finished[0]["failed"] == ["known_answer"]
    assert "sk-secret-123" not in json.dumps(logs, default=str)


async def test_error_text_is_redacted(make_runner: Any) -> None:
    """A vendor error that echoes the API key is stored with the key redacted."""
    runner = make_runner(
        lambda r: httpx.Response(
            401, json={"error": {"message": "bad key sk-secret-123", "type": "auth"}}
        )
    )
    (result,) = await runner.run_suite(TARGET, SUITE)
    assert result.error is not None and "sk-secret-123" not in result.error
    stored = await runner.store.get(result.id)
    assert "sk-secret-123" not in json.dumps(stored)


async def test_failures_raise_a_drift_alarm(make_runner: Any) -> None:
    """A run of wrong answers latches the known_answer and any-check alarms on this series only."""
    runner = make_runner(lambda r: httpx.Response(200, json=chat("Lyon")))
    events: list[Any] = []
    runner.on_drift = events.append
    for _ in range(12):
        await runner.run_suite(TARGET, SUITE)
    alarmed = {e.series[4] for e in events if e.event == "alarm"}
    assert {"known_answer", "any"} <= alarmed and "probe_error" not in alarmed
    reg = runner.metrics.registry
    assert reg.get_sample_value("canary_drift_alarm", {**LABELS, "detector": "known_answer"}) == 1
    assert (
        reg.get_sample_value("canary_drift_alarms_total", {**LABELS, "detector": "known_answer"})
        == 1
    )
