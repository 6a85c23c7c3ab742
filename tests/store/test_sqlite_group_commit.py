"""Group commit in the SQLite store: concurrent writes share transactions, every write is
still committed before it returns, and one failing row does not fail its batch-mates."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from monitor.store import StoreError
from monitor.store import sqlite as sqlite_module
from monitor.store.sqlite import SQLiteStore
from tests.store.test_sqlite import make_result


def store_at(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "c.db", retention_passed_days=7.0, retention_failed_days=90.0)


async def test_concurrent_writes_share_transactions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 writes at once take far fewer than 200 commits, and each is readable when its
    `write` returns (acknowledged means committed)."""
    store = store_at(tmp_path)
    batches: list[int] = []
    real = sqlite_module._insert_rows

    def counting(rows: list[list[Any]]) -> Any:
        batches.append(len(rows))
        return real(rows)

    monkeypatch.setattr(sqlite_module, "_insert_rows", counting)
    results = [make_result() for _ in range(200)]

    async def write_then_read(result: Any) -> bool:
        await store.write(result)
        with sqlite3.connect(tmp_path / "c.db") as other:  # another connection sees it
            return bool(
                other.execute("SELECT 1 FROM results WHERE id = ?", (result.id,)).fetchone()
            )

    seen = await asyncio.gather(*(write_then_read(r) for r in results))
    await store.close()
    assert all(seen)
    assert sum(batches) == 200 and len(batches) < 20, batches


async def test_a_lone_write_is_not_delayed_into_a_batch(tmp_path: Path) -> None:
    """With nothing else in flight a write is its own transaction."""
    store = store_at(tmp_path)
    await store.write(make_result())
    assert store._pending == [] and store._flusher is not None and store._flusher.done()
    assert await store.count() == 1
    await store.close()


async def test_a_bad_row_fails_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row the database refuses fails its own write; its batch-mates are committed."""
    store = store_at(tmp_path)
    await store.count()  # open and migrate first
    real = sqlite_module._insert_rows

    def picky(rows: list[list[Any]]) -> Any:
        insert = real(rows)

        def run(conn: sqlite3.Connection) -> None:
            if any(row[0] == "bad" for row in rows):
                raise sqlite3.IntegrityError("refused")
            insert(conn)

        return run

    monkeypatch.setattr(sqlite_module, "_insert_rows", picky)
    good = [make_result() for _ in range(5)]
    outcomes = await asyncio.gather(
        *(store.write(r) for r in [*good[:2], make_result(id="bad"), *good[2:]]),
        return_exceptions=True,
    )
    assert [isinstance(o, StoreError) for o in outcomes] == [
        False,
        False,
        True,
        False,
        False,
        False,
    ]
    assert await store.count() == 5
    await store.close()


async def test_close_commits_what_is_pending(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    writes = [asyncio.ensure_future(store.write(make_result())) for _ in range(50)]
    await asyncio.sleep(0)  # let them queue
    await store.close()
    await asyncio.gather(*writes)
    with sqlite3.connect(tmp_path / "c.db") as db:
        assert db.execute("SELECT count(*) FROM results").fetchone()[0] == 50
