"""Log output: under `--log-format json` every stderr line is JSON, libraries' lines included
(psycopg_pool, APScheduler), and no line, ours or a library's, shows the store's password
(issue 25 item 7, issue 17 D5)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator

import pytest
import structlog

from monitor.logs import configure_logging
from monitor.store.postgres import PostgresStore
from tests.conftest import WriteConfig
from tests.pg import free_port

PASSWORD = "pw-s3cr%t-9"  # an unencoded %: psycopg echoes such tokens in its errors


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def test_library_records_are_json_and_masked(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A psycopg_pool warning echoing the password (as it does for an unparsable DSN) and a
    URL with a password come out as JSON lines with the secret masked; info from a library
    stays quiet at --log-level info."""
    configure_logging("info", json=True)
    PostgresStore(
        f"postgresql://canary:{PASSWORD}@db/canary",
        retention_passed_days=1,
        retention_failed_days=1,
    )
    pool = logging.getLogger("psycopg.pool")
    pool.warning("error connecting in %r: %s", "canary-store", f'invalid token: "{PASSWORD}"')
    pool.info("adding new connection to the pool")
    logging.getLogger("apscheduler.executors").warning("dsn postgresql://u:other-pw@h/db")
    structlog.get_logger("canary.test").warning("ours", dsn="host=h password=plain-pw")
    lines = capsys.readouterr().err.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["event"] for r in records][1:] == [
        "dsn postgresql://u:********@h/db",
        "ours",
    ]
    assert records[0]["logger"] == "psycopg.pool" and records[0]["level"] == "warning"
    assert records[2]["dsn"] == "host=h password=********"
    for secret in (PASSWORD, "other-pw", "plain-pw"):
        assert not any(secret in line for line in lines)


async def test_daemon_stderr_is_json_only(write_config: WriteConfig) -> None:
    """`canary --log-format json run` with its PostgreSQL server down: psycopg_pool's
    reconnection warnings are JSON lines like the daemon's own, none shows the password."""
    config = write_config(port=free_port())
    dsn = f"postgresql://canary:{PASSWORD.replace('%', '%25')}@127.0.0.1:{free_port()}/canary"
    config.write_text(
        "\n".join(
            "store: {url: '${CANARY_TEST_STORE_URL}'}" if line.startswith("store:") else line
            for line in config.read_text().splitlines()
        )
        + "\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor.commands.cli",
        "--log-format",
        "json",
        "run",
        "--config",
        str(config),
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "CANARY_TEST_STORE_URL": dsn},
    )
    assert proc.stderr is not None
    lines: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while not any(b"error connecting" in line for line in lines):
                line = await proc.stderr.readline()
                assert line, b"".join(lines)
                lines.append(line)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, rest = await asyncio.wait_for(proc.communicate(), 30)
    text = (b"".join(lines) + rest).decode()
    assert "psycopg" in text
    for line in text.splitlines():
        record = json.loads(line)  # every line, the library's too
        assert "event" in record
    assert PASSWORD not in text and PASSWORD.replace("%", "%25") not in text
