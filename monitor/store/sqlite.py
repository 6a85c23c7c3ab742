"""The embedded store: one SQLite file in WAL mode, one writer, set up the way hishel does it.

One connection is opened lazily under a lock on first use, so constructing a store (at config
load, in `canary validate`) touches no disk. Every call runs in a worker thread via
`asyncio.to_thread` and holds a `threading.Lock`, which makes this process the single writer;
other processes (the `sqlite3` CLI during an incident, a backup) may read at the same time
because of WAL. That one writer is why the Helm chart runs one replica with `Recreate`.

Durability: `write` commits before it returns, and in WAL mode with `synchronous=NORMAL` a
committed transaction survives the death of the process (SIGKILL, OOM kill); only an OS crash
or power loss can lose the last few commits, which is an acceptable price for not syncing on
every probe result. Failures are kept longer than passes (blackbox `preservedFailedResults`).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from monitor.store import filters
from monitor.store.base import ResultQuery, StoreError
from monitor.store.codec import SUMMARY_FIELDS, dumps, loads, result_to_record
from monitor.store.schema import apply_migrations, configure, transaction
from monitor.types import Outcome, Result

T = TypeVar("T")

_DAY_S = 86_400.0
_COLUMNS = (*SUMMARY_FIELDS, "request", "reply", "checks")
_INSERT = (
    f"INSERT OR REPLACE INTO results ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)})"
)
_SUMMARY_SELECT = f"SELECT {', '.join(SUMMARY_FIELDS)} FROM results"


class SQLiteStore:
    """Results, transcripts and drift state in one SQLite file at `path`.

    `retention_passed_days` bounds how long passing results are kept, `retention_failed_days`
    everything else (failed, timeout, errors); `prune` applies both.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        retention_passed_days: float,
        retention_failed_days: float,
    ) -> None:
        if retention_passed_days <= 0 or retention_failed_days <= 0:
            raise ValueError("retention days must be > 0")
        self.path = Path(path)
        self.retention_passed_days = retention_passed_days
        self.retention_failed_days = retention_failed_days
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        # Group commit: rows waiting for the next transaction, and the task committing them.
        self._pending: list[tuple[list[Any], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    # -- the Store protocol ---------------------------------------------------------------

    async def write(self, result: Result) -> None:
        """Insert `result` and commit before returning; writing the same id again replaces it,
        so a caller may retry a write whose acknowledgement it lost.

        Writes that arrive while a commit is in flight share the next transaction (group
        commit): one thread hop and one commit per batch instead of per result, and no delay
        when the daemon is idle (bench/README.md finding 5).
        """
        record = result_to_record(result)
        row = [record[c] for c in SUMMARY_FIELDS]
        row[SUMMARY_FIELDS.index("failed_detectors")] = ",".join(record["failed_detectors"])
        row += [
            dumps(record["request"]),
            None if record["reply"] is None else dumps(record["reply"]),
            dumps(record["checks"]),
        ]
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await asyncio.shield(done)  # a cancelled caller does not cancel the others' commit

    async def _flush(self) -> None:
        """Commit pending rows, a batch per transaction, until none are left."""
        while self._pending:
            batch, self._pending = self._pending, []
            if not await self._commit(batch) and len(batch) > 1:
                for item in batch:  # one bad row must not fail the others: retry them alone
                    await self._commit([item])

    async def _commit(self, batch: list[tuple[list[Any], asyncio.Future[None]]]) -> bool:
        """One transaction for `batch`; True if it committed. A lone row's failure is its
        writer's exception; a batch's failure is settled by the retries one by one."""
        try:
            await self._run(_insert_rows([row for row, _ in batch]))
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch, exc)
            return False
        _settle(batch, None)
        return True

    async def get(self, result_id: str) -> dict[str, Any] | None:
        def select(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM results WHERE id = ?", (result_id,)
            ).fetchone()
            if row is None:
                return None
            record = _summary(row)
            record["request"] = loads(row["request"])
            record["reply"] = None if row["reply"] is None else loads(row["reply"])
            record["checks"] = loads(row["checks"])
            return record

        return await self._run(select)

    async def query(self, query: ResultQuery) -> list[dict[str, Any]]:
        # Exact list membership; LIKE would treat the `_` in detector names as a wildcard.
        member = "instr(',' || failed_detectors || ',', ',' || ? || ',') > 0"
        where, params = filters.where(query, mark="?", detector_failed=member)
        sql = f"{_SUMMARY_SELECT}{where} ORDER BY started_at DESC, id DESC LIMIT ?"
        params.append(max(0, query.limit))  # SQLite reads a negative LIMIT as "no limit"

        def select(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            return [_summary(row) for row in conn.execute(sql, params)]

        return await self._run(select)

    async def count(self) -> int:
        def select(conn: sqlite3.Connection) -> int:
            return int(conn.execute("SELECT count(*) FROM results").fetchone()[0])

        return await self._run(select)

    async def prune(self, now: float) -> int:
        """Delete passes older than `retention_passed_days` and everything else older than
        `retention_failed_days` before `now` (unix seconds); give the pages back to the OS."""
        passed_cutoff = now - self.retention_passed_days * _DAY_S
        other_cutoff = now - self.retention_failed_days * _DAY_S

        def delete(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                deleted = conn.execute(
                    "DELETE FROM results WHERE (outcome = ? AND started_at < ?)"
                    " OR (outcome != ? AND started_at < ?)",
                    (Outcome.PASSED.value, passed_cutoff, Outcome.PASSED.value, other_cutoff),
                ).rowcount
            if deleted:
                conn.execute("PRAGMA incremental_vacuum").fetchall()  # free pages -> file shrinks
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()  # and the WAL too
            return int(deleted)

        return await self._run(delete)

    async def export_outcomes(
        self, since: float | None = None, until: float | None = None
    ) -> list[dict[str, Any]]:
        """Stored results as `canary replay` input, oldest first (`monitor.commands.replay`): one
        line per check with `passed` and `score`, and one `probe_error` line carrying the
        outcome of a probe that errored. `since`/`until` are unix seconds (until exclusive)."""
        sql, params = filters.outcomes_sql(since, until, mark="?")

        def select(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            return [
                line
                for row in conn.execute(sql, params)
                for line in filters.outcome_lines(row, loads(row["checks"]))
            ]

        return await self._run(select)

    async def load_state(self, key: str) -> dict[str, Any] | None:
        def select(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute("SELECT state FROM drift_state WHERE key = ?", (key,)).fetchone()
            return None if row is None else dict(loads(row["state"]))

        return await self._run(select)

    async def save_state(self, key: str, state: dict[str, Any]) -> None:
        """Replace the state under `key`; committed before returning, like `write`."""
        encoded = dumps(state)

        def upsert(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "INSERT INTO drift_state (key, state, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET"
                    " state = excluded.state, updated_at = excluded.updated_at",
                    (key, encoded, time.time()),
                )

        await self._run(upsert)

    async def close(self) -> None:
        """Commit pending writes, then close the connection; idempotent. Any later call
        raises `StoreError`."""
        if self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)
        await asyncio.to_thread(self._close)

    # -- plumbing -------------------------------------------------------------------------

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self._call, fn)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            if self._closed:
                raise StoreError(f"{self.path}: store is closed")
            if self._conn is None:
                self._conn = self._open()
            try:
                return fn(self._conn)
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {_describe(exc)}") from exc

    def _close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create directory: {exc.strerror}") from exc
        try:
            # Autocommit (isolation_level=None): transactions are explicit, see schema.transaction.
            # check_same_thread=False: to_thread picks any worker; self._lock serialises them.
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open: {_describe(exc)}") from exc
        try:
            conn.row_factory = sqlite3.Row
            configure(conn)
            apply_migrations(conn)
        except (sqlite3.Error, StoreError) as exc:
            conn.close()
            raise StoreError(f"{self.path}: cannot open: {_describe(exc)}") from exc
        except BaseException:
            conn.close()
            raise
        return conn


def _insert_rows(rows: list[list[Any]]) -> Callable[[sqlite3.Connection], None]:
    def insert(conn: sqlite3.Connection) -> None:
        with transaction(conn):
            conn.executemany(_INSERT, rows)

    return insert


def _settle(batch: list[tuple[list[Any], asyncio.Future[None]]], exc: Exception | None) -> None:
    for _, done in batch:
        if done.done():
            continue
        if exc is None:
            done.set_result(None)
        else:
            done.set_exception(exc)


def _summary(row: sqlite3.Row) -> dict[str, Any]:
    summary = {name: row[name] for name in SUMMARY_FIELDS}
    detectors = summary["failed_detectors"]
    summary["failed_detectors"] = detectors.split(",") if detectors else []
    return summary


def _describe(exc: Exception) -> str:
    if getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB":
        return "not a SQLite database (corrupt, or some other file)"
    return str(exc)
