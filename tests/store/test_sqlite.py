"""The store contract on SQLite and PostgreSQL: round trips, filters, retention, drift state, durability and bad paths."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from monitor.store import ResultQuery, Store, open_store
from monitor.store.codec import result_from_record
from monitor.types import Check, FinishReason, Outcome, Reply, Result, TokenLogprob

REPO = Path(__file__).resolve().parents[2]
DAY_S = 86_400.0
NOW = 1_760_000_000.0


def make_result(**overrides: Any) -> Result:
    """A passing result with a full reply; fields overridden by keyword."""
    base = Result(
        id=uuid.uuid4().hex,
        run_id="run-1",
        started_at=NOW,
        platform="anthropic-api",
        pool="default",
        model="claude-x",
        suite="smoke",
        suite_version=3,
        probe="capital-of-france",
        api="anthropic_messages",
        outcome=Outcome.PASSED,
        latency_s=0.25,
    )
    return replace(base, **overrides)


def failing(detectors: tuple[str, ...], **overrides: Any) -> Result:
    checks = tuple(Check(d, passed=False, score=0.0) for d in detectors)
    return make_result(outcome=Outcome.FAILED, checks=checks, **overrides)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every test here runs against both backends: the same contract, the same semantics."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_dsn"))
    return f"sqlite:///{tmp_path / 'db' / 'canary.db'}"


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = open_store(store_url, retention_passed_days=7, retention_failed_days=90)
    yield s
    await s.close()


async def test_round_trip_keeps_reply_checks_and_request(store: Store) -> None:
    """A written result reads back as the same Result, transcript and evidence included."""
    reply = Reply(
        text="Paris. 巴黎",
        finish_reason=FinishReason.STOP,
        raw_finish_reason="end_turn",
        model="claude-x-2025",
        response_id="msg_1",
        system_fingerprint="fp_9",
        input_tokens=12,
        output_tokens=3,
        logprobs=(TokenLogprob("Paris", -0.01, (("Paris", -0.01), ("Lyon", -4.5))),),
        status_code=200,
        latency_s=0.24,
        headers={"x-request-id": "abc"},
        raw_body='{"content": [{"text": "Paris."}]}',
    )
    result = make_result(
        outcome=Outcome.FAILED,
        request={"messages": [{"role": "user", "content": "Capital of France?"}], "seed": 7},
        reply=reply,
        checks=(
            Check("known_answer", passed=True, score=1.0, evidence={"expected": "Paris"}),
            Check("unexpected_script", passed=False, score=0.0, evidence={"scripts": ["Han"]}),
        ),
        error=None,
    )
    await store.write(result)

    record = await store.get(result.id)

    assert record is not None
    assert result_from_record(record) == result
    assert record["reply"]["tokens"] == {"input": 12, "output": 3}
    assert record["checks"][1]["evidence"] == {"scripts": ["Han"]}
    assert record["failed_detectors"] == ["unexpected_script"]


async def test_get_unknown_id_is_none(store: Store) -> None:
    """An unknown id is None, not an error."""
    assert await store.get("nope") is None


async def test_query_summaries_have_no_transcript(store: Store) -> None:
    """List views carry the summary fields only."""
    await store.write(make_result(reply=Reply(text="hi", finish_reason=None, raw_body="{}")))

    [summary] = await store.query(ResultQuery())

    assert "reply" not in summary and "request" not in summary and "checks" not in summary
    assert summary["outcome"] == "passed" and summary["failed_detectors"] == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (ResultQuery(), ["d", "c", "b", "a"]),
        (ResultQuery(platform="bedrock"), ["c"]),
        (ResultQuery(pool="long-context"), ["b"]),
        (ResultQuery(model="claude-y"), ["d"]),
        (ResultQuery(suite="sycophancy"), ["d"]),
        (ResultQuery(probe="p2"), ["c"]),
        (ResultQuery(outcome="failed"), ["d", "b"]),
        (ResultQuery(detector="code_syntax"), ["d", "b"]),
        (ResultQuery(detector="unexpected_script"), ["b"]),
        (ResultQuery(detector="unexpected"), []),  # whole names only
        (ResultQuery(detector="unexpected_scrip_"), []),  # `_` is no wildcard
        (ResultQuery(since=NOW + 1), ["d", "c", "b"]),
        (ResultQuery(until=NOW + 2), ["b", "a"]),
        (ResultQuery(since=NOW + 1, until=NOW + 3), ["c", "b"]),
        (ResultQuery(outcome="failed", pool="long-context"), ["b"]),
        (ResultQuery(limit=2), ["d", "c"]),
        (ResultQuery(limit=0), []),
    ],
)
async def test_query_filters(store: Store, query: ResultQuery, expected: list[str]) -> None:
    """Each ResultQuery field narrows the listing; results come newest first."""
    rows = [
        make_result(id="a", started_at=NOW),
        failing(
            ("unexpected_script", "code_syntax"), id="b", started_at=NOW + 1, pool="long-context"
        ),
        make_result(id="c", started_at=NOW + 2, platform="bedrock", probe="p2"),
        failing(("code_syntax",), id="d", started_at=NOW + 3, model="claude-y", suite="sycophancy"),
    ]
    for row in rows:
        await store.write(row)

    assert [r["id"] for r in await store.query(query)] == expected


async def test_write_same_id_replaces(store: Store) -> None:
    """Writing an id again replaces it, so a retried write does not duplicate."""
    await store.write(make_result(id="x"))
    await store.write(make_result(id="x", outcome=Outcome.TIMEOUT))

    assert await store.count() == 1
    assert (await store.get("x") or {})["outcome"] == "timeout"


async def test_prune_keeps_failures_longer(store: Store) -> None:
    """Passes go after 7 days, every other outcome only after 90."""
    await store.write(make_result(id="old-pass", started_at=NOW - 8 * DAY_S))
    await store.write(make_result(id="new-pass", started_at=NOW - 6 * DAY_S))
    await store.write(failing(("length",), id="old-fail", started_at=NOW - 8 * DAY_S))
    await store.write(
        make_result(id="old-timeout", outcome=Outcome.TIMEOUT, started_at=NOW - 30 * DAY_S)
    )
    await store.write(failing(("length",), id="ancient-fail", started_at=NOW - 91 * DAY_S))

    deleted = await store.prune(NOW)

    assert deleted == 2
    remaining = {r["id"] for r in await store.query(ResultQuery(limit=10))}
    assert remaining == {"new-pass", "old-fail", "old-timeout"}
    assert await store.prune(NOW) == 0


async def test_state_save_load_overwrite(store: Store) -> None:
    """Drift state is saved per key, overwritten in place, and None when unknown."""
    assert await store.load_state("series-1") is None

    await store.save_state("series-1", {"cusum": 1.5, "n": 10})
    await store.save_state("series-2", {"cusum": 0.0, "n": 0})
    await store.save_state("series-1", {"cusum": 2.5, "n": 11})

    assert await store.load_state("series-1") == {"cusum": 2.5, "n": 11}
    assert await store.load_state("series-2") == {"cusum": 0.0, "n": 0}


async def test_reopen_after_close_sees_everything(store_url: str) -> None:
    """A new store on the same file (database) sees results and state written before close."""
    first = open_store(store_url)
    results = [make_result(started_at=NOW + i) for i in range(5)]
    for r in results:
        await first.write(r)
    await first.save_state("k", {"v": 1})
    await first.close()

    second = open_store(store_url, retention_passed_days=1, retention_failed_days=2)
    try:
        assert await second.count() == 5
        assert [r["id"] for r in await second.query(ResultQuery())] == [
            r.id for r in reversed(results)
        ]
        assert await second.load_state("k") == {"v": 1}
    finally:
        await second.close()
