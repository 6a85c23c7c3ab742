"""`canary run` on PostgreSQL: results the API acknowledged survive SIGKILL of the daemon, and
the DSN's password (given as ${ENV}) appears in no log line."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import httpx
import psycopg

from tests.conftest import WriteConfig
from tests.pg import PgServer, free_port


async def test_sigkill_loses_no_acknowledged_result_on_postgres(
    write_config: WriteConfig, pg_dsn: str, pg_server: PgServer
) -> None:
    """Three SIGKILLs of a daemon writing to PostgreSQL: every result id the API listed is
    in the database afterwards, and a restart keeps probing."""
    port = free_port()
    config = write_config(port=port)
    text = config.read_text().splitlines()
    config.write_text(
        "\n".join(
            "store: {url: '${CANARY_TEST_STORE_URL}'}" if line.startswith("store:") else line
            for line in text
        )
        + "\n"
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CANARY_TEST_STORE_URL": pg_dsn}
    acknowledged: set[str] = set()
    logs = b""
    for _cycle in range(3):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "monitor.commands.cli",
            "--log-level",
            "debug",
            "run",
            "--config",
            str(config),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        seen_before = len(acknowledged)
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
            asyncio.timeout(60),
        ):
            while len(acknowledged) < seen_before + 10:
                try:
                    response = await client.get("/api/v1/results", params={"limit": 1000})
                    rows = response.json()["data"]
                except httpx.TransportError:
                    rows = []
                acknowledged.update(r["id"] for r in rows)
                await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        out, _ = await proc.communicate()
        logs += out
    with psycopg.connect(pg_dsn) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM results")}
    assert len(acknowledged) >= 30
    assert acknowledged <= stored
    assert logs  # the daemon did log (so the check below could fail)
    assert pg_server.password.encode() not in logs
    assert pg_server.password.split("/")[0].encode() not in logs
