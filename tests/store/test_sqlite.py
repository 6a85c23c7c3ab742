"""The SQLite store: round trips, filters, retention, drift state, durability and bad paths."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from monitor.store import ResultQuery, StoreError, open_store
from monitor.store.codec import result_from_record
from monitor.store.schema import SCHEMA_VERSION
from monitor.store.sqlite import SQLiteStore
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


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(
        tmp_path / "db" / "canary.db", retention_passed_days=7, retention_failed_days=90
    )
    yield s
    await s.close()


async def test_round_trip_keeps_reply_checks_and_request(store: SQLiteStore) -> None:
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


async def test_get_unknown_id_is_none(store: SQLiteStore) -> None:
    """An unknown id is None, not an error."""
    assert await store.get("nope") is None


async def test_query_summaries_have_no_transcript(store: SQLiteStore) -> None:
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
async def test_query_filters(store: SQLiteStore, query: ResultQuery, expected: list[str]) -> None:
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


async def test_write_same_id_replaces(store: SQLiteStore) -> None:
    """Writing an id again replaces it, so a retried write does not duplicate."""
    await store.write(make_result(id="x"))
    await store.write(make_result(id="x", outcome=Outcome.TIMEOUT))

    assert await store.count() == 1
    assert (await store.get("x") or {})["outcome"] == "timeout"


async def test_prune_keeps_failures_longer(store: SQLiteStore) -> None:
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


async def test_state_save_load_overwrite(store: SQLiteStore) -> None:
    """Drift state is saved per key, overwritten in place, and None when unknown."""
    assert await store.load_state("series-1") is None

    await store.save_state("series-1", {"cusum": 1.5, "n": 10})
    await store.save_state("series-2", {"cusum": 0.0, "n": 0})
    await store.save_state("series-1", {"cusum": 2.5, "n": 11})

    assert await store.load_state("series-1") == {"cusum": 2.5, "n": 11}
    assert await store.load_state("series-2") == {"cusum": 0.0, "n": 0}


async def test_reopen_after_close_sees_everything(tmp_path: Path) -> None:
    """A new store on the same file sees results and state written before close."""
    path = tmp_path / "canary.db"
    first = open_store(f"sqlite:///{path}")
    results = [make_result(started_at=NOW + i) for i in range(5)]
    for r in results:
        await first.write(r)
    await first.save_state("k", {"v": 1})
    await first.close()

    second = SQLiteStore(path, retention_passed_days=1, retention_failed_days=2)
    try:
        assert await second.count() == 5
        assert [r["id"] for r in await second.query(ResultQuery())] == [
            r.id for r in reversed(results)
        ]
        assert await second.load_state("k") == {"v": 1}
    finally:
        await second.close()


async def test_connection_settings(store: SQLiteStore) -> None:
    """The file is in WAL mode with incremental auto-vacuum and the current schema version."""
    await store.count()
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # INCREMENTAL
        version = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    conn.close()
    assert version == SCHEMA_VERSION


async def test_use_after_close_raises(store: SQLiteStore) -> None:
    """A closed store says so instead of reopening behind the caller's back."""
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.count()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("garbage", "not a SQLite database"),
        ("directory", "cannot open"),
        ("parent-is-file", "cannot create directory"),
        ("newer-schema", "newer than this canary-monitor knows"),
    ],
)
async def test_bad_paths_raise_store_error(tmp_path: Path, setup: str, message: str) -> None:
    """Corrupt, unopenable and future-schema files give a StoreError naming the path."""
    path = tmp_path / "canary.db"
    if setup == "garbage":
        path.write_bytes(b"this is not sqlite at all, just some bytes" * 100)
    elif setup == "directory":
        path.mkdir()
    elif setup == "parent-is-file":
        (tmp_path / "file").write_text("x")
        path = tmp_path / "file" / "canary.db"
    else:
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION + 1,))
        conn.close()
    store = SQLiteStore(path, retention_passed_days=7, retention_failed_days=90)
    try:
        with pytest.raises(StoreError, match=message) as info:
            await store.count()
        assert str(path) in str(info.value)
    finally:
        await store.close()


_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from monitor.store.sqlite import SQLiteStore
    from monitor.types import Outcome, Result

    async def main() -> None:
        store = SQLiteStore(sys.argv[1], retention_passed_days=7, retention_failed_days=90)
        for i in range(int(sys.argv[2])):
            result = Result(id=f"r{i}", run_id="run", started_at=float(i), platform="p",
                            pool="default", model="m", suite="s", suite_version=1, probe="x",
                            api="openai_chat", outcome=Outcome.PASSED, latency_s=0.1)
            await store.write(result)
            print(result.id, flush=True)  # acknowledged: the commit has returned
        sys.stdin.read()  # wait to be killed; never close the store

    asyncio.run(main())
    """
)


def write_then_kill(path: Path, count: int, kill_after: int) -> list[str]:
    """Run the writer, read `kill_after` acknowledged ids, SIGKILL it; returns those ids."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    with subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    ) as proc:
        assert proc.stdout is not None
        acknowledged = []
        for _ in range(kill_after):
            line = proc.stdout.readline()
            assert line, f"writer exited early with {proc.poll()}"
            acknowledged.append(line.strip())
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    return acknowledged


@pytest.mark.parametrize("kill_after", [50, 20])
async def test_acknowledged_writes_survive_sigkill(tmp_path: Path, kill_after: int) -> None:
    """Every id a writer acknowledged is on disk after a SIGKILL, whether it was idle (all 50
    written) or still writing (killed after 20 acknowledgements)."""
    path = tmp_path / "canary.db"
    acknowledged = await asyncio.to_thread(write_then_kill, path, 50, kill_after)

    store = SQLiteStore(path, retention_passed_days=7, retention_failed_days=90)
    try:
        for result_id in acknowledged:
            assert await store.get(result_id) is not None, result_id
        assert await store.count() >= kill_after
    finally:
        await store.close()
