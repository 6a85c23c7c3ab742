"""The PostgreSQL schema as a versioned list of migrations, applied under an advisory lock.

`MIGRATIONS[i]` takes a database from version `i` to `i + 1`; to change the schema, append a
migration and never edit a shipped one. N replicas starting at once all call `apply_migrations`:
`pg_advisory_xact_lock` serialises them, so one migrates and the others find the work done. A
database whose version is newer than this code knows is refused (a rollback after an upgrade).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import tuple_row

from monitor.store.base import StoreError

# Any fixed 64-bit key; it names "canary-monitor schema migration" in pg_locks.
MIGRATION_LOCK = 0x63616E617279_01

_V1_RESULTS: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS results (
        id text PRIMARY KEY,
        run_id text NOT NULL,
        started_at double precision NOT NULL,  -- unix seconds, exactly as Result carries it
        platform text NOT NULL,
        pool text NOT NULL,
        model text NOT NULL,
        suite text NOT NULL,
        suite_version integer NOT NULL,
        probe text NOT NULL,
        api text NOT NULL,
        outcome text NOT NULL,
        latency_s double precision NOT NULL,
        failed_detectors text[] NOT NULL DEFAULT '{}',
        error text,
        request jsonb NOT NULL,
        reply jsonb,
        checks jsonb NOT NULL
    )""",
    # The API and dashboards drill down by series, then by time.
    "CREATE INDEX IF NOT EXISTS results_series"
    " ON results (platform, pool, model, suite, started_at)",
    # Newest-first listings and retention deletes scan by time alone.
    "CREATE INDEX IF NOT EXISTS results_started_at ON results (started_at)",
    """CREATE TABLE IF NOT EXISTS drift_state (
        key text PRIMARY KEY,
        state jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
    )""",
)

_V2_CLUSTER: tuple[str, ...] = (
    # Membership: one row per replica, renewed by its heartbeat; live = expires_at > now().
    """CREATE TABLE IF NOT EXISTS cluster_members (
        replica text PRIMARY KEY,
        instance text NOT NULL,  -- one process: two processes with one replica id conflict
        expires_at timestamptz NOT NULL,
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        joined_at timestamptz NOT NULL DEFAULT now()
    )""",
    # One lease per shard (model): only its unexpired owner may probe it or save its state.
    """CREATE TABLE IF NOT EXISTS shard_leases (
        shard text PRIMARY KEY,
        owner text NOT NULL,
        expires_at timestamptz NOT NULL,
        acquired_at timestamptz NOT NULL DEFAULT now(),
        epoch bigint NOT NULL DEFAULT 1
    )""",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1_RESULTS, _V2_CLUSTER)
SCHEMA_VERSION = len(MIGRATIONS)


async def apply_migrations(conn: psycopg.AsyncConnection[Any]) -> int:
    """Bring the schema up to `SCHEMA_VERSION` in one transaction; returns the version found.

    Needs an autocommit connection (the transaction here is explicit)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur = conn.cursor(row_factory=tuple_row)
        await cur.execute("SELECT coalesce(max(version), 0) FROM schema_version")
        row = await cur.fetchone()
        found = int(row[0]) if row else 0
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"schema version {found} is newer than this canary-monitor knows"
                f" ({SCHEMA_VERSION}); upgrade, or point the store at another database"
            )
        for version in range(found, SCHEMA_VERSION):
            for statement in MIGRATIONS[version]:
                await conn.execute(statement)
            await conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version + 1,))
    return found
