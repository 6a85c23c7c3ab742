"""The SQLite store on disk: connection settings, bad files, and acknowledged writes that
survive SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from monitor.store import StoreError
from monitor.store.schema import SCHEMA_VERSION
from monitor.store.sqlite import SQLiteStore

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "canary.db", retention_passed_days=7, retention_failed_days=90)
    yield s
    await s.close()


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
