"""Runner options from issue 6: padded routing probes, bursts compared to lone replies, backend identity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from monitor.config import Target
from monitor.config.probes import CHARS_PER_TOKEN, ProbeSuite
from monitor.drift import DriftEngine
from monitor.metrics import Metrics
from monitor.runner import Runner, SuiteOptions
from monitor.store.sqlite import SQLiteStore

TARGET = Target(
    platform="p", pool="short", model="m", api="openai_chat", base_url="http://sim.test/"
)


def chat(content: str, fingerprint: str = "fp_a") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "system_fingerprint": fingerprint,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }


def suite(**extra: Any) -> ProbeSuite:
    probe = {
        "name": "q",
        "reason": "r",
        "prompt": "Capital of France?",
        "expect": {"answer": {"exact": "Paris"}},
    }
    return ProbeSuite.model_validate({"suite": "s", "version": 1, "probes": [{**probe, **extra}]})


async def make_runner(
    tmp_path: Path, handler: Any, target: Target = TARGET
) -> tuple[Runner, SQLiteStore]:
    store = SQLiteStore(str(tmp_path / "c.db"), retention_passed_days=1, retention_failed_days=2)
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url=target.base_url)
    runner = Runner(
        metrics=Metrics(CollectorRegistry()),
        store=store,
        drift=DriftEngine.from_config(None)
        if hasattr(DriftEngine, "from_config")
        else DriftEngine(0.002, 0.05, 1.0),
        clients=lambda _t: client,
    )  # type: ignore[call-arg]
    return runner, store


async def test_padding_lands_on_each_side_of_the_cutover(tmp_path: Path) -> None:
    """Padded probes are just below or just above the cut-over, and the question stays last."""
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        content = json.loads(request.content)["messages"][-1]["content"]
        sizes.append(len(content) // CHARS_PER_TOKEN)
        assert content.endswith("Question: Capital of France?")
        return httpx.Response(200, json=chat("Paris"))

    runner, store = await make_runner(tmp_path, handler)
    for side in ("below", "above"):
        await runner.run_suite(
            TARGET,
            suite(pad={"side": side, "margin_tokens": 50}),
            SuiteOptions(cutover_tokens=2000),
        )
    await store.close()
    below, above = sizes
    assert 1900 <= below < 2000 < above <= 2100


async def test_burst_copies_are_compared_with_the_lone_reply(tmp_path: Path) -> None:
    """Each burst copy carries a load_consistency check; a copy that differs fails it."""
    replies = iter(["Paris", "Paris", "Lyon", "Paris"])
    runner, store = await make_runner(
        tmp_path, lambda r: httpx.Response(200, json=chat(next(replies)))
    )
    results = await runner.run_suite(TARGET, suite(), SuiteOptions(burst=3))
    await store.close()
    assert len(results) == 4
    assert all(c.detector != "load_consistency" for c in results[0].checks)
    verdicts = [
        next(c.passed for c in r.checks if c.detector == "load_consistency") for r in results[1:]
    ]
    assert sorted(verdicts) == [False, True, True]
    failed = next(r for r in results[1:] if "load_consistency" in r.failed_detectors)
    assert failed.outcome.value == "failed"


async def test_backend_identity_change_is_counted(tmp_path: Path) -> None:
    """A reply from a different fingerprint changes the identity gauge and counts one change."""
    prints = iter(["fp_short", "fp_short", "fp_long"])
    runner, store = await make_runner(
        tmp_path, lambda r: httpx.Response(200, json=chat("Paris", next(prints)))
    )
    runner.metrics.configure([], {}, [])
    for _ in range(3):
        await runner.run_suite(TARGET, suite())
    await store.close()
    labels = {"platform": "p", "pool": "short", "model": "m"}
    assert runner.metrics.registry.get_sample_value("canary_backend_changes_total", labels) == 1
    import zlib

    assert runner.metrics.registry.get_sample_value(
        "canary_backend_identity", labels
    ) == zlib.crc32(b"fp_long")


async def test_identity_header_is_used_and_kept(tmp_path: Path) -> None:
    """With `identity_header`, the header names the backend and is stored with the transcript."""
    target = Target(
        platform="p",
        pool="short",
        model="m",
        api="openai_chat",
        base_url="http://sim.test/",
        identity_header="X-Served-By",
    )
    assert "X-Served-By" in target.keep_headers

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json=chat("Paris", fingerprint="ignored"), headers={"x-served-by": "node-7"}
        )

    runner, store = await make_runner(tmp_path, handler, target)
    (result,) = await runner.run_suite(target, suite())
    await store.close()
    assert result.reply is not None and result.reply.headers["x-served-by"] == "node-7"
    labels = {"platform": "p", "pool": "short", "model": "m"}
    import zlib

    assert runner.metrics.registry.get_sample_value(
        "canary_backend_identity", labels
    ) == zlib.crc32(b"node-7")
