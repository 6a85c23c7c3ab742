"""What only the PostgreSQL store has: migrations under a lock, connection settings, secrets
kept out of messages, U+0000 in transcripts, and parity with SQLite on replay exports. The
shared contract (round trips, filters, retention, state) runs on both in test_sqlite.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from monitor.store import StoreError, open_store
from monitor.store.codec import result_from_record
from monitor.store.pg_schema import SCHEMA_VERSION
from monitor.store.postgres import PostgresStore, redacted
from monitor.types import Check, FinishReason, Outcome, Reply
from tests.pg import PgServer, free_port
from tests.store.test_sqlite import NOW, failing, make_result


@pytest.fixture
async def store(pg_dsn: str) -> AsyncIterator[PostgresStore]:
    s = PostgresStore(pg_dsn, retention_passed_days=7, retention_failed_days=90)
    yield s
    await s.close()


async def test_open_store_picks_postgres_for_both_schemes(pg_dsn: str) -> None:
    """`postgresql://` and `postgres://` both select the PostgreSQL backend."""
    for url in (pg_dsn, pg_dsn.replace("postgresql://", "postgres://", 1)):
        store = open_store(url)
        try:
            assert isinstance(store, PostgresStore)
            assert await store.count() == 0
        finally:
            await store.close()


async def test_schema_and_connection_settings(store: PostgresStore) -> None:
    """The schema is at the current version and every pooled connection commits
    synchronously on a server with fsync on."""
    await store.count()
    async with store.connection() as conn:
        cur = await conn.execute("SELECT max(version) AS v, count(*) AS n FROM schema_version")
        row = await cur.fetchone()
        assert row == {"v": SCHEMA_VERSION, "n": SCHEMA_VERSION}
        for setting in ("synchronous_commit", "fsync"):
            cur = await conn.execute(f"SHOW {setting}")
            assert await cur.fetchone() == {setting: "on"}
        cur = await conn.execute(
            "SELECT data_type FROM information_schema.columns"
            " WHERE table_name = 'results' AND column_name = 'reply'"
        )
        assert await cur.fetchone() == {"data_type": "jsonb"}


async def test_replicas_starting_at_once_migrate_once(pg_dsn: str) -> None:
    """Eight stores opening the same empty database at once: one migrates, none fails, and
    every version is recorded exactly once (the advisory lock serialises them)."""
    stores = [
        PostgresStore(pg_dsn, retention_passed_days=7, retention_failed_days=90) for _ in range(8)
    ]
    try:
        assert await asyncio.gather(*(s.count() for s in stores)) == [0] * 8
        async with stores[0].connection() as conn:
            cur = await conn.execute("SELECT version FROM schema_version ORDER BY version")
            assert [r["version"] for r in await cur.fetchall()] == list(
                range(1, SCHEMA_VERSION + 1)
            )
    finally:
        for s in stores:
            await s.close()


async def test_newer_schema_is_refused(pg_dsn: str, pg_server: PgServer) -> None:
    """A database migrated by a newer canary-monitor is refused with a StoreError naming the
    database but not the password."""
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_version (version integer NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (%s)", (SCHEMA_VERSION + 1,))
    store = PostgresStore(pg_dsn, retention_passed_days=7, retention_failed_days=90)
    try:
        with pytest.raises(StoreError, match="newer than this canary-monitor knows") as info:
            await store.count()
        assert redacted(pg_dsn) in str(info.value)
        assert pg_server.password not in str(info.value)
    finally:
        await store.close()


async def test_unreachable_server_is_a_clear_error_without_the_password(
    pg_server: PgServer,
) -> None:
    """No server on the port: StoreError "cannot open", naming host and port, no password."""
    port = free_port()
    dsn = f"postgresql://canary:{quote(pg_server.password, safe='')}@127.0.0.1:{port}/canary"
    store = PostgresStore(dsn, retention_passed_days=7, retention_failed_days=90, open_timeout_s=1)
    try:
        with pytest.raises(StoreError, match="cannot open") as info:
            await store.count()
        message = str(info.value)
        assert message.startswith(f"postgresql://canary@127.0.0.1:{port}/canary: cannot open")
        assert pg_server.password not in message
        assert quote(pg_server.password, safe="") not in message
    finally:
        await store.close()


async def test_wrong_password_is_a_clear_error(pg_server: PgServer) -> None:
    """Authentication failure names the user, never the password tried."""
    dsn = pg_server.dsn.replace(pg_server.password.split("/")[0], "wrong-secret-42", 1)
    store = PostgresStore(dsn, retention_passed_days=7, retention_failed_days=90, open_timeout_s=2)
    try:
        with pytest.raises(StoreError, match="cannot open") as info:
            await store.count()
        assert "wrong-secret-42" not in str(info.value)
    finally:
        await store.close()


def test_redacted_drops_the_password() -> None:
    assert redacted("postgresql://u:s3cret@db.example:5433/canary?sslmode=require") == (
        "postgresql://u@db.example:5433/canary"
    )
    assert "s3cret" not in redacted("host=db user=u password=s3cret dbname=c")


async def test_use_after_close_raises(store: PostgresStore) -> None:
    await store.count()
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.count()


async def test_nul_characters_are_stored_as_replacement(store: PostgresStore) -> None:
    """U+0000 (refused by jsonb and text) becomes U+FFFD; a literal backslash-u0000 in the
    text, and everything else, round-trips exactly."""
    reply = Reply(
        text="a\x00b \\u0000 c",
        finish_reason=FinishReason.STOP,
        raw_body='{"x": "a\\u0000b"}\x00',
    )
    result = make_result(
        reply=reply,
        error="bad\x00byte",
        checks=(Check("length", passed=True, score=1.0, evidence={"snippet": "\x00"}),),
    )
    await store.write(result)

    record = await store.get(result.id)

    assert record is not None
    assert record["reply"]["text"] == "a\ufffdb \\u0000 c"
    assert record["reply"]["raw_body"] == '{"x": "a\\u0000b"}\ufffd'
    assert record["error"] == "bad\ufffdbyte"
    assert record["checks"][0]["evidence"] == {"snippet": "\ufffd"}


async def test_export_outcomes_matches_sqlite(store: PostgresStore, tmp_path: Path) -> None:
    """`canary replay` input is the same from either backend."""
    sqlite = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    rows = [
        make_result(id="a", started_at=NOW, checks=(Check("length", True, 1.0),)),
        failing(("code_syntax", "unexpected_script"), id="b", started_at=NOW + 1),
        make_result(id="c", started_at=NOW + 2, outcome=Outcome.TIMEOUT),
        make_result(id="d", started_at=NOW + 3),
    ]
    try:
        for row in rows:
            await store.write(row)
            await sqlite.write(row)
        for since, until in ((None, None), (NOW + 1, NOW + 3)):
            expected = await sqlite.export_outcomes(since, until)  # type: ignore[attr-defined]
            assert await store.export_outcomes(since, until) == expected
            assert expected
    finally:
        await sqlite.close()


async def test_round_trip_is_exact(store: PostgresStore) -> None:
    """Floats (started_at, latency, scores) come back bit for bit."""
    result = make_result(started_at=NOW + 0.123456789, latency_s=1 / 3)
    await store.write(result)
    record = await store.get(result.id)
    assert record is not None and result_from_record(record) == result
