"""SQLite connection settings and the schema, versioned with a migration hook.

The schema is created with `CREATE TABLE IF NOT EXISTS` and its version is recorded in
`schema_version`. `MIGRATIONS[i]` takes a database from version `i` to `i + 1`; to change the
schema, append a migration and never edit a shipped one. A database whose version is newer than
this code knows is refused rather than silently misread (a rollback after an upgrade).
JSON columns are declared TEXT: a column declared JSON gets NUMERIC affinity in SQLite.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from monitor.store.base import StoreError

Migration = tuple[str, ...] | Callable[[sqlite3.Connection], None]

_V1: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS results (
        id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        started_at REAL NOT NULL,
        platform TEXT NOT NULL,
        pool TEXT NOT NULL,
        model TEXT NOT NULL,
        suite TEXT NOT NULL,
        suite_version INTEGER NOT NULL,
        probe TEXT NOT NULL,
        api TEXT NOT NULL,
        outcome TEXT NOT NULL,
        latency_s REAL NOT NULL,
        failed_detectors TEXT NOT NULL DEFAULT '',
        error TEXT,
        request TEXT NOT NULL,
        reply TEXT,
        checks TEXT NOT NULL
    )""",
    # The API and dashboards drill down by series, then by time.
    "CREATE INDEX IF NOT EXISTS results_series"
    " ON results (platform, pool, model, suite, started_at)",
    # Newest-first listings and retention deletes scan by time alone.
    "CREATE INDEX IF NOT EXISTS results_started_at ON results (started_at)",
    """CREATE TABLE IF NOT EXISTS drift_state (
        key TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        updated_at REAL NOT NULL
    )""",
)

MIGRATIONS: tuple[Migration, ...] = (_V1,)
SCHEMA_VERSION = len(MIGRATIONS)


def configure(conn: sqlite3.Connection) -> None:
    """Apply the per-connection settings; raises `StoreError` if WAL is unavailable."""
    # Wait up to 5 s for a lock held by another process (CLI, backup) instead of failing.
    conn.execute("PRAGMA busy_timeout = 5000")
    # Free pages can be returned to the OS by prune(); effective only on a new, empty file.
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    # Readers (the API, an operator's sqlite3 shell) never block the writer, nor it them.
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreError(f"journal_mode=WAL refused (got {mode}); is this a network filesystem?")
    # With WAL, a commit survives a process crash (SIGKILL); no fsync per probe result.
    conn.execute("PRAGMA synchronous = NORMAL")
    # SQLite leaves references unenforced by default; enforce any a migration adds.
    conn.execute("PRAGMA foreign_keys = ON")


def apply_migrations(conn: sqlite3.Connection) -> int:
    """Bring the schema up to `SCHEMA_VERSION`; returns the version found before."""
    with transaction(conn):  # read under the write lock: another process may be migrating
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        found = int(row[0])
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"schema version {found} is newer than this canary-monitor knows"
                f" ({SCHEMA_VERSION}); upgrade, or point the store at another file"
            )
        for version in range(found, SCHEMA_VERSION):
            migration = MIGRATIONS[version]
            if callable(migration):
                migration(conn)
            else:
                for statement in migration:
                    conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version + 1,))
    return found


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """`BEGIN IMMEDIATE` ... `COMMIT`, or `ROLLBACK` on any error (a failed COMMIT included).

    IMMEDIATE takes the write lock up front, so another writer waits `busy_timeout` instead
    of failing half-way through the transaction. Needs an autocommit connection.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
