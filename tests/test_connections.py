"""The HTTP server's connection cap, header-read timeout and file-descriptor exhaustion, through
real sockets: in process for the mechanisms, and `canary run` under a lowered RLIMIT_NOFILE."""

from __future__ import annotations

import asyncio
import json
import resource
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from monitor.metrics import Metrics
from monitor.store import ResultQuery
from monitor.web.connections import ConnectionLimits
from monitor.web.server import build_app, serve
from tests.conftest import WriteConfig
from tests.test_server import FakeStatus
from tests.test_server_auth import GatedStore, _free_port

DROPPED = "canary_http_connections_dropped_total"


class CountingStore(GatedStore):
    """A gated store that counts the queries waiting at its gate."""

    waiting = 0

    async def query(self, query: ResultQuery) -> list[dict[str, Any]]:
        self.waiting += 1
        return await super().query(query)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CountingStore]:
    s = CountingStore(tmp_path / "canary.db", retention_passed_days=7, retention_failed_days=90)
    s.gate, s.entered = asyncio.Event(), asyncio.Event()
    yield s
    s.gate.set()
    await s.close()


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def test_idle_connections_make_room_and_busy_ones_refuse(store: CountingStore) -> None:
    """At a cap of 4, a new connection closes the longest-idle one and is served; when every
    connection is busy, the newcomer gets a 503 and is closed. One log line per reason."""
    metrics = Metrics(CollectorRegistry())
    app = build_app(
        registry=metrics.registry,
        store=store,
        status=FakeStatus(),
        limits=ConnectionLimits(max_connections=4),
        metrics=metrics,
    )
    runner, port = await serve(app, "127.0.0.1", 0)
    try:
        with capture_logs() as logs:
            idle = [await _connect(port) for _ in range(4)]
            for _ in range(6):
                async with httpx.AsyncClient() as client:
                    response = await client.get(f"http://127.0.0.1:{port}/healthz")
                assert response.status_code == 200
            assert await asyncio.wait_for(idle[0][0].read(), 5) == b""  # the oldest went
            sample = metrics.registry.get_sample_value
            assert sample(DROPPED, {"reason": "idle_evicted"}) == 6
            async with httpx.AsyncClient(
                limits=httpx.Limits(max_connections=8, max_keepalive_connections=0)
            ) as client:
                busy = [
                    asyncio.create_task(client.get(f"http://127.0.0.1:{port}/api/v1/results"))
                    for _ in range(4)
                ]
                while store.waiting < 4:  # until the 4 hold every slot (a wait, not a timing)
                    await asyncio.sleep(0.01)
                refused = await client.get(f"http://127.0.0.1:{port}/healthz")
                assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
                store.gate.set()
                assert [(await b).status_code for b in busy] == [200] * 4
            assert sample(DROPPED, {"reason": "limit"}) == 1
        dropped = [e for e in logs if e["event"] == "server.connections_dropped"]
        assert [e["reason"] for e in dropped] == ["idle_evicted", "limit"]
    finally:
        for _, writer in idle:
            writer.close()
        await runner.cleanup()


async def test_a_connection_that_never_finishes_its_headers_is_closed(
    store: CountingStore,
) -> None:
    """Silence, or a request line and one header then nothing (slowloris), is closed at the
    header-read timeout; a complete request on a fresh connection is served."""
    metrics = Metrics(CollectorRegistry())
    limits = ConnectionLimits(header_read_timeout_s=0.3, keepalive_timeout_s=60)
    app = build_app(
        registry=metrics.registry, store=store, status=FakeStatus(), limits=limits, metrics=metrics
    )
    runner, port = await serve(app, "127.0.0.1", 0)
    try:
        silent = await _connect(port)
        slow = await _connect(port)
        slow[1].write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        for reader, writer in (silent, slow):
            assert await asyncio.wait_for(reader.read(), 10) == b""
            writer.close()
        sample = metrics.registry.get_sample_value
        assert sample(DROPPED, {"reason": "header_timeout"}) == 2
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
    finally:
        await runner.cleanup()


def _nofile_256() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))


async def test_healthz_answers_under_300_idle_connections_at_nofile_256(
    write_config: WriteConfig,
) -> None:
    """`canary run` with RLIMIT_NOFILE 256 and 300 idle connections held open: /healthz
    answers every time, the daemon logs no traceback and one line about dropped connections,
    and counts what it dropped."""
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor.commands.cli",
        "run",
        "--config",
        str(write_config(port=port, interval_s=30)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_nofile_256,
    )
    url = f"http://127.0.0.1:{port}"
    held: list[asyncio.StreamWriter] = []
    try:
        async with asyncio.timeout(30):
            while True:
                try:
                    async with httpx.AsyncClient() as client:
                        if (await client.get(f"{url}/readyz")).status_code == 200:
                            break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        for _ in range(300):
            _, writer = await asyncio.wait_for(_connect(port), 5)
            held.append(writer)
        statuses = []
        for _ in range(5):
            async with httpx.AsyncClient(timeout=5) as client:
                statuses.append((await client.get(f"{url}/healthz")).status_code)
        assert statuses == [200] * 5
        async with httpx.AsyncClient(timeout=5) as client:
            metrics = (await client.get(f"{url}/metrics")).text
        evicted = f'{DROPPED}{{reason="idle_evicted"}}'
        assert float(metrics.split(evicted)[1].split()[0]) >= 300 - 128
    finally:
        for writer in held:
            writer.close()
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    text = err.decode()
    assert "Traceback" not in text and "accept()" not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    dropped = [line for line in lines if line["event"] == "server.connections_dropped"]
    assert [line["reason"] for line in dropped] == ["idle_evicted"]
