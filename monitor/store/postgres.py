"""The shared store: PostgreSQL through psycopg 3 and a connection pool, for N replicas.

Same semantics as the SQLite store (`monitor/store/sqlite.py`): `write` returns only once the
result is committed, writing an id again replaces it, failures are kept longer than passes,
drift state is a JSON document per key. Differences that follow from the engine:

- Transcripts, checks and drift state are `jsonb`. PostgreSQL's text and jsonb cannot hold
  U+0000, which a hostile server can put in a reply; it is stored as U+FFFD, the one place a
  stored transcript differs from the one judged.
- Every connection runs with `synchronous_commit = on`, so an acknowledged write is on the
  server's disk (and its synchronous standbys, if any), whatever the server's default says.
- The pool opens lazily on first use, so building a store (config load, `canary validate`)
  connects to nothing. The schema is migrated under an advisory lock (`pg_schema`).
- A write that fails for the connection's sake (the server restarted, so every idle pooled
  connection is dead; the server is down for a while) is retried on another connection until
  `write_deadline_s` has passed; the upsert by id makes a retry of a commit whose answer was
  lost harmless. Each retry calls `on_write_retry` (a metric). Data errors are not retried.
- In cluster mode a write carries the run's `Fence` (`base.current_fence`): it is stored only
  while that lease (shard, owner, epoch) is current, checked in the same statement, else
  `FencedOut` is raised and nothing is written.

The DSN usually carries a password: messages name the store by `redacted(dsn)` only.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from monitor.logs import register_secret
from monitor.store import filters
from monitor.store.base import FencedOut, ResultQuery, StoreError, current_fence
from monitor.store.codec import SUMMARY_FIELDS, dumps, result_to_record
from monitor.store.pg_schema import apply_migrations
from monitor.types import Outcome, Result

_DAY_S = 86_400.0
_JSON_COLUMNS = ("request", "reply", "checks")
_COLUMNS = (*SUMMARY_FIELDS, *_JSON_COLUMNS)
_UPSERT = (
    f"INSERT INTO results ({', '.join(_COLUMNS)}) VALUES ({', '.join('%s' for _ in _COLUMNS)})"
    " ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "id")
)
# The same upsert, written only while the run's lease is current (the fencing check): a
# replica paused past its lease, or whose shard moved while the run was in flight, writes
# nothing. RETURNING tells the two apart.
_FENCED_UPSERT = (
    f"INSERT INTO results ({', '.join(_COLUMNS)})"
    f" SELECT {', '.join('%s' for _ in _COLUMNS)} WHERE EXISTS (SELECT 1 FROM shard_leases"
    " WHERE shard = %s AND owner = %s AND epoch = %s)"
    " ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "id")
    + " RETURNING id"
)
_SUMMARY_SELECT = f"SELECT {', '.join(SUMMARY_FIELDS)} FROM results"
# A JSON `\u0000` escape not itself escaped (an even run of backslashes before it).
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
OPEN_TIMEOUT_S = 10.0
# How long a write waits for a free connection; generous, because a loop busy for seconds (a
# reload of 10,000 series) makes waiters time out though no connection was ever short.
CONNECTION_WAIT_S = 30.0
# One attempt of a write waits this long for a connection before it is retried: after an
# outage the pool may sit in its reconnect back-off; a new attempt makes it connect again.
ATTEMPT_WAIT_S = 2.0
# psycopg_pool backs off exponentially (1, 2, 4, 8 s ...) while the server is down, so a
# reconnection could come up to twice the outage after the server is back. Giving up its own
# attempts this soon lets the next request (a write retry, a heartbeat) connect at once.
RECONNECT_TIMEOUT_S = 2.0
# Between write attempts: short, then longer, never past the deadline.
RETRY_DELAYS_S = (0.05, 0.1, 0.25, 0.5, 1.0)
# The coordination pool's wait for a connection: a heartbeat must fail fast and try again.
COORDINATION_WAIT_S = 2.0


def redacted(dsn: str) -> str:
    """`postgresql://user@host:port/dbname`: the DSN without its password (or other secrets)."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "postgresql://<unparsable dsn>"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


def dsn_password(dsn: str) -> str | None:
    """The password in `dsn` (parsed, else as written between `user:` and `@`)."""
    try:
        password = conninfo_to_dict(dsn).get("password")
    except psycopg.Error:
        match = re.match(r"^[a-z]+://[^:@/]*:(.*)@", dsn)
        password = match.group(1) if match else None
    return None if password is None else str(password)


def to_jsonb(value: Any) -> Jsonb:
    """Our JSON text as jsonb, with U+0000 (which jsonb refuses) as U+FFFD."""
    text = _NUL_ESCAPE.sub(r"\1\\ufffd", dumps(value))
    return Jsonb(text, dumps=lambda already: already)


def _text(value: str | None) -> str | None:
    return None if value is None else value.replace("\x00", "\ufffd")


class PostgresStore:
    """Results, transcripts and drift state in the PostgreSQL database at `dsn`.

    `pool_size` bounds the connections this process opens (the daemon writes one result per
    probe; a few connections keep up with hundreds of probes a second).
    """

    def __init__(
        self,
        dsn: str,
        *,
        retention_passed_days: float,
        retention_failed_days: float,
        pool_size: int = 4,
        open_timeout_s: float = OPEN_TIMEOUT_S,
        write_deadline_s: float = 30.0,
    ) -> None:
        if retention_passed_days <= 0 or retention_failed_days <= 0:
            raise ValueError("retention days must be > 0")
        self._dsn = dsn
        self.name = redacted(dsn)
        register_secret(dsn_password(dsn))  # no log line, ours or psycopg's, shows it
        self.retention_passed_days = retention_passed_days
        self.retention_failed_days = retention_failed_days
        self.pool_size = pool_size
        self.open_timeout_s = open_timeout_s
        self.write_deadline_s = write_deadline_s
        self.on_write_retry: Callable[[], None] | None = None
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None
        self._coordination: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None
        self._opening = asyncio.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"PostgresStore({self.name!r})"

    # -- the Store protocol ---------------------------------------------------------------

    async def write(self, result: Result) -> None:
        """Insert `result` (replacing the same id) and return once it is committed; retried
        on a fresh connection until `write_deadline_s`. Raises `FencedOut` if the run's fence
        (if any) is no longer the shard's current lease."""
        record = result_to_record(result)
        row: list[Any] = [record[c] for c in SUMMARY_FIELDS]
        row[SUMMARY_FIELDS.index("failed_detectors")] = list(record["failed_detectors"])
        row[SUMMARY_FIELDS.index("error")] = _text(record["error"])
        row += [
            to_jsonb(record["request"]),
            None if record["reply"] is None else to_jsonb(record["reply"]),
            to_jsonb(record["checks"]),
        ]
        fence = current_fence.get()
        if fence is None:
            await self._write_retrying(_UPSERT, row)
        elif not await self._write_retrying(
            _FENCED_UPSERT, [*row, fence.shard, fence.owner, fence.epoch]
        ):
            raise FencedOut(
                f"{self.name}: result of {fence.shard!r} refused: the lease (epoch"
                f" {fence.epoch}) is no longer held by {fence.owner!r}"
            )

    async def _write_retrying(self, sql: str, row: list[Any]) -> bool:
        """Run one write statement, retrying connection failures until the deadline; returns
        whether a row was written (RETURNING) or, without RETURNING, True."""
        deadline = time.monotonic() + self.write_deadline_s
        for attempt in itertools.count():
            remaining = deadline - time.monotonic()
            try:
                async with self.connection(wait_s=max(0.1, min(ATTEMPT_WAIT_S, remaining))) as c:
                    cur = await c.execute(sql, row)
                    return cur.description is None or await cur.fetchone() is not None
            except StoreError as exc:
                if not _retriable(exc.__cause__) or time.monotonic() >= deadline:
                    raise
            if self.on_write_retry is not None:
                self.on_write_retry()
            delay = RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)]
            await asyncio.sleep(max(0.0, min(delay, deadline - time.monotonic())))
        raise AssertionError("unreachable")  # itertools.count() never ends

    async def get(self, result_id: str) -> dict[str, Any] | None:
        async with self.connection() as conn:
            cur = await conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM results WHERE id = %s", (result_id,)
            )
            row = await cur.fetchone()
        if row is None:
            return None
        record = _summary(row)
        for name in _JSON_COLUMNS:
            record[name] = row[name]
        return record

    async def query(self, query: ResultQuery) -> list[dict[str, Any]]:
        member = "%s = ANY (failed_detectors)"
        where, params = filters.where(query, mark="%s", detector_failed=member)
        sql = f"{_SUMMARY_SELECT}{where} ORDER BY started_at DESC, id DESC LIMIT %s"
        params.append(max(0, query.limit))
        async with self.connection() as conn:
            cur = await conn.execute(sql, params)
            return [_summary(row) for row in await cur.fetchall()]

    async def count(self) -> int:
        async with self.connection() as conn:
            cur = await conn.execute("SELECT count(*) AS n FROM results")
            row = await cur.fetchone()
        return int(row["n"]) if row else 0

    async def prune(self, now: float) -> int:
        """Delete passes older than `retention_passed_days` and everything else older than
        `retention_failed_days` before `now` (unix seconds); autovacuum reclaims the space."""
        passed_cutoff = now - self.retention_passed_days * _DAY_S
        other_cutoff = now - self.retention_failed_days * _DAY_S
        async with self.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM results WHERE (outcome = %s AND started_at < %s)"
                " OR (outcome <> %s AND started_at < %s)",
                (Outcome.PASSED.value, passed_cutoff, Outcome.PASSED.value, other_cutoff),
            )
            return max(0, cur.rowcount)

    async def export_outcomes(
        self, since: float | None = None, until: float | None = None
    ) -> list[dict[str, Any]]:
        """Stored results as `canary replay` input, oldest first; see `SQLiteStore`."""
        sql, params = filters.outcomes_sql(since, until, mark="%s")
        async with self.connection() as conn:
            cur = await conn.execute(sql, params)
            rows = await cur.fetchall()
        return [line for row in rows for line in filters.outcome_lines(row, row["checks"])]

    async def load_state(self, key: str) -> dict[str, Any] | None:
        async with self.connection() as conn:
            cur = await conn.execute("SELECT state FROM drift_state WHERE key = %s", (key,))
            row = await cur.fetchone()
        return None if row is None else dict(row["state"])

    async def save_state(self, key: str, state: dict[str, Any]) -> None:
        """Replace the state under `key`; committed before returning, like `write`."""
        async with self.connection() as conn:
            await conn.execute(
                "INSERT INTO drift_state (key, state, updated_at) VALUES (%s, %s, now())"
                " ON CONFLICT (key) DO UPDATE SET"
                " state = excluded.state, updated_at = excluded.updated_at",
                (key, to_jsonb(state)),
            )

    async def close(self) -> None:
        """Close the pool; idempotent. Any later call raises `StoreError`."""
        self._closed = True
        async with self._opening:
            pools = [p for p in (self._pool, self._coordination) if p is not None]
            self._pool = self._coordination = None
        for pool in pools:
            await pool.close()

    # -- plumbing -------------------------------------------------------------------------

    @asynccontextmanager
    async def connection(
        self, *, coordination: bool = False, wait_s: float | None = None
    ) -> AsyncIterator[psycopg.AsyncConnection[dict[str, Any]]]:
        """A pooled autocommit connection with dict rows; psycopg errors become `StoreError`
        naming the store (never its password). `coordination`: from a separate pool of two
        (cluster heartbeats, leases, shard state), so a burst of result writes never delays a
        lease renewal past its expiry, and whose waits are short (`COORDINATION_WAIT_S`).
        `wait_s`: how long to wait for a free connection (default `CONNECTION_WAIT_S`)."""
        pool = await self._open()
        if coordination:
            pool = await self._open_coordination()
            wait_s = COORDINATION_WAIT_S if wait_s is None else wait_s
        try:
            async with pool.connection(timeout=wait_s) as conn:
                yield conn
        except (psycopg.Error, PoolTimeout) as exc:
            raise StoreError(f"{self.name}: {self._describe(exc)}") from exc

    async def _open(self) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        if self._closed:
            raise StoreError(f"{self.name}: store is closed")
        if self._pool is not None:
            return self._pool
        async with self._opening:
            if self._closed:
                raise StoreError(f"{self.name}: store is closed")
            if self._pool is None:
                self._pool = await self._new_pool()
            return self._pool

    async def _open_coordination(self) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        if self._coordination is not None:
            return self._coordination
        async with self._opening:
            if self._closed:
                raise StoreError(f"{self.name}: store is closed")
            if self._coordination is None:
                self._coordination = await self._new_pool(size=2, migrate=False)
            return self._coordination

    async def _new_pool(
        self, *, size: int | None = None, migrate: bool = True
    ) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            self._dsn,
            min_size=1,
            max_size=size or self.pool_size,
            kwargs={"autocommit": True, "row_factory": dict_row, "application_name": "canary"},
            configure=_configure,
            open=False,
            name="canary-store",
            timeout=CONNECTION_WAIT_S,
            reconnect_timeout=RECONNECT_TIMEOUT_S,
        )
        started = time.monotonic()
        try:
            await pool.open(wait=True, timeout=self.open_timeout_s)
            if migrate:
                async with pool.connection() as conn:
                    await apply_migrations(conn)
        except StoreError as exc:
            await pool.close()
            raise StoreError(f"{self.name}: {exc}") from exc
        except (psycopg.Error, PoolTimeout) as exc:
            await pool.close()
            waited = time.monotonic() - started
            raise StoreError(
                f"{self.name}: cannot open (after {waited:.0f} s): {self._describe(exc)}"
            ) from exc
        except BaseException:
            await pool.close()
            raise
        return pool

    def _describe(self, exc: BaseException) -> str:
        text = str(exc).strip() or type(exc).__name__
        try:
            password = conninfo_to_dict(self._dsn).get("password")
        except psycopg.Error:
            password = None
        if password:
            text = text.replace(str(password), "********")
        return text.splitlines()[0] if isinstance(exc, PoolTimeout) else text


# SQLSTATEs of a server going away: admin shutdown (a restart), crash shutdown, starting up.
_GONE = frozenset({"57P01", "57P02", "57P03"})


def _retriable(exc: BaseException | None) -> bool:
    """A failure of the connection, not of the statement: no connection came (PoolTimeout),
    the connection was lost or refused (no SQLSTATE, or class 08), or the server is shutting
    down or starting up. A full disk or a bad row is not retried: it would fail again."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in _GONE


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    # An acknowledged write must survive a crash whatever the server or role default is.
    await conn.execute("SET synchronous_commit = on")


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    summary = {name: row[name] for name in SUMMARY_FIELDS}
    summary["failed_detectors"] = list(summary["failed_detectors"] or [])
    return summary


__all__: Sequence[str] = ("PostgresStore", "redacted")
