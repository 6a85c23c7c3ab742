"""The HTTP server on a real loopback socket, with a fake daemon status and a real store."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from monitor.store.sqlite import SQLiteStore
from monitor.types import Check, Outcome, Reply, Result
from monitor.web.server import build_app, serve

NOW = 1_760_000_000.0


@dataclass
class FakeStatus:
    """A ServerStatus whose answers the test sets."""

    is_ready: bool = True
    reason: str = ""
    reload_result: tuple[bool, str] = (True, "reloaded 2 targets")
    reloads: int = 0
    target_list: list[dict[str, Any]] = field(
        default_factory=lambda: [{"platform": "bedrock", "pool": "default", "model": "m"}]
    )

    def targets(self) -> list[dict[str, Any]]:
        return self.target_list

    def ready(self) -> tuple[bool, str]:
        return self.is_ready, self.reason

    async def reload(self) -> tuple[bool, str]:
        self.reloads += 1
        return self.reload_result


def result(result_id: str, started_at: float, **overrides: Any) -> Result:
    fields: dict[str, Any] = {
        "id": result_id,
        "run_id": "run",
        "started_at": started_at,
        "platform": "bedrock",
        "pool": "default",
        "model": "m",
        "suite": "smoke",
        "suite_version": 1,
        "probe": "p",
        "api": "openai_chat",
        "outcome": Outcome.PASSED,
        "latency_s": 0.5,
        **overrides,
    }
    return Result(**fields)


@pytest.fixture
def status() -> FakeStatus:
    return FakeStatus()


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    runs = Counter("canary_probe_runs", "Probe runs.", ["platform", "outcome"], registry=registry)
    runs.labels(platform="bedrock", outcome="passed").inc(3)
    return registry


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "canary.db", retention_passed_days=7, retention_failed_days=90)
    await s.write(result("a", NOW))
    await s.write(
        result(
            "b",
            NOW + 1,
            pool="long-context",
            outcome=Outcome.FAILED,
            checks=(Check("unexpected_script", False, 0.0, {"scripts": ["Thai"]}),),
            reply=Reply(text="Hello สวัสดี", finish_reason=None, raw_body="{}"),
            request={"messages": [{"role": "user", "content": "Say hello"}]},
        )
    )
    await s.write(result("c", NOW + 2, platform="vertex"))
    yield s
    await s.close()


@pytest.fixture
async def client(
    registry: CollectorRegistry, store: SQLiteStore, status: FakeStatus
) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(registry=registry, store=store, status=status)
    runner, port = await serve(app, "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            yield http
    finally:
        await runner.cleanup()


async def test_index_links_every_route(client: httpx.AsyncClient) -> None:
    """The index page is HTML that links the endpoints."""
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for path in ("/metrics", "/healthz", "/readyz", "/api/v1/targets", "/api/v1/results"):
        assert f'href="{path}"' in response.text


@pytest.mark.parametrize(
    ("accept", "content_type", "tail"),
    [
        (None, "text/plain; version=0.0.4; charset=utf-8", ""),
        ("application/openmetrics-text; version=1.0.0", "application/openmetrics-text", "# EOF"),
    ],
)
async def test_metrics_exposes_registry(
    client: httpx.AsyncClient, accept: str | None, content_type: str, tail: str
) -> None:
    """/metrics serves the injected registry, in OpenMetrics when the scraper asks for it."""
    headers = {"Accept": accept} if accept else {}
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)
    assert 'canary_probe_runs_total{outcome="passed",platform="bedrock"} 3.0' in response.text
    assert response.text.rstrip().endswith(tail)


async def test_metrics_gzip_off_the_event_loop(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prometheus asks for gzip: it gets the same exposition compressed, and the encoding runs
    in a worker thread, not on the loop that times the probes."""
    import gzip
    import threading

    from monitor.web import server

    threads: list[int] = []
    real = server._exposition

    def spy(*args: Any) -> bytes:
        threads.append(threading.get_ident())
        return real(*args)

    monkeypatch.setattr(server, "_exposition", spy)
    plain = await client.get("/metrics", headers={"Accept-Encoding": "identity"})
    packed = await client.send(
        client.build_request("GET", "/metrics", headers={"Accept-Encoding": "gzip"}), stream=True
    )
    raw = b"".join([chunk async for chunk in packed.aiter_raw()])
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == plain.content and len(raw) < len(plain.content)
    assert threads and threading.get_ident() not in threads


async def test_healthz(client: httpx.AsyncClient) -> None:
    """Liveness is 200 while the process serves."""
    response = await client.get("/healthz")
    assert (response.status_code, response.text) == (200, "ok\n")


@pytest.mark.parametrize(
    ("ready", "reason", "expected"),
    [
        (True, "", (200, "ready\n")),
        (False, "store not open", (503, "not ready: store not open\n")),
    ],
)
async def test_readyz(
    client: httpx.AsyncClient,
    status: FakeStatus,
    ready: bool,
    reason: str,
    expected: tuple[int, str],
) -> None:
    """Readiness follows the daemon's flag and says why it is not ready."""
    status.is_ready, status.reason = ready, reason
    response = await client.get("/readyz")
    assert (response.status_code, response.text) == expected


async def test_targets(client: httpx.AsyncClient, status: FakeStatus) -> None:
    """The targets endpoint wraps the daemon's summaries in `data`."""
    response = await client.get("/api/v1/targets")
    assert response.status_code == 200
    assert response.json() == {"data": status.target_list}


@pytest.mark.parametrize(
    ("params", "ids"),
    [
        ({}, ["c", "b", "a"]),
        ({"platform": "bedrock"}, ["b", "a"]),
        ({"platform": ""}, ["c", "b", "a"]),  # an empty field means any
        ({"pool": "long-context"}, ["b"]),
        ({"outcome": "failed"}, ["b"]),
        ({"detector": "unexpected_script"}, ["b"]),
        ({"since": str(NOW + 1)}, ["c", "b"]),
        ({"until": "2025-10-09T08:53:22Z"}, ["b", "a"]),  # NOW + 2 in RFC 3339, exclusive
        ({"until": "2025-10-09T08:53:22"}, ["b", "a"]),  # no offset: UTC
        ({"limit": "1"}, ["c"]),
        ({"model": "m", "suite": "smoke", "probe": "p", "limit": "1000"}, ["c", "b", "a"]),
    ],
)
async def test_results_filters(
    client: httpx.AsyncClient, params: dict[str, str], ids: list[str]
) -> None:
    """Each query parameter narrows the listing; summaries come newest first."""
    response = await client.get("/api/v1/results", params=params)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [r["id"] for r in data] == ids
    assert all("reply" not in r for r in data)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("limit=-5", "limit"),
        ("outcome=<script>", "outcome"),
        ("since=yesterday", "since"),
        ("since=nan", "since"),
        ("since=20&until=10", "until"),
        ("platform=a&platform=b", "platform"),
        ("platfrom=bedrock", "platfrom"),
        ("%3Cb%3E=1", None),  # an unknown name that is not safe to echo
        (f"model={'x' * 300}", "model"),
    ],
)
async def test_results_bad_parameters(
    client: httpx.AsyncClient, query: str, parameter: str | None
) -> None:
    """A bad parameter is a 400 naming it, and never echoes the value."""
    response = await client.get(f"/api/v1/results?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["parameter"] == parameter
    assert isinstance(body["error"], str)
    assert "<" not in response.text and "xxx" not in response.text


async def test_result_by_id(client: httpx.AsyncClient) -> None:
    """One result comes with its transcript and evidence."""
    response = await client.get("/api/v1/results/b")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["reply"]["text"] == "Hello สวัสดี"
    assert data["request"]["messages"][0]["content"] == "Say hello"
    assert data["checks"][0]["evidence"] == {"scripts": ["Thai"]}


async def test_result_unknown_id_is_404(client: httpx.AsyncClient) -> None:
    """An unknown id is a JSON 404 that does not repeat the id."""
    response = await client.get("/api/v1/results/no-such-id")
    assert response.status_code == 404
    assert response.json() == {"error": "result not found"}


@pytest.mark.parametrize(
    ("outcome", "code", "body"),
    [
        ((True, "reloaded 2 targets"), 200, {"data": {"message": "reloaded 2 targets"}}),
        ((False, "canary.yaml:3: targets: bad"), 500, {"error": "canary.yaml:3: targets: bad"}),
    ],
)
async def test_reload(
    client: httpx.AsyncClient,
    status: FakeStatus,
    outcome: tuple[bool, str],
    code: int,
    body: dict[str, Any],
) -> None:
    """POST /-/reload reports the daemon's reload result."""
    status.reload_result = outcome
    response = await client.post("/-/reload")
    assert (response.status_code, response.json()) == (code, body)
    assert status.reloads == 1


async def test_reload_needs_post(client: httpx.AsyncClient, status: FakeStatus) -> None:
    """A GET cannot trigger a reload (a crawler or a prefetch must not)."""
    response = await client.get("/-/reload")
    assert response.status_code == 405
    assert status.reloads == 0


async def test_store_failure_is_503(client: httpx.AsyncClient, store: SQLiteStore) -> None:
    """A store error becomes a 503 that does not leak the file path."""
    await store.close()
    response = await client.get("/api/v1/results")
    assert response.status_code == 503
    assert response.json() == {"error": "store unavailable"}


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package prometheus)")
async def test_metrics_pass_promtool(client: httpx.AsyncClient) -> None:
    """`promtool check metrics` accepts the /metrics exposition."""
    assert PROMTOOL is not None
    text = (await client.get("/metrics")).text
    proc = await asyncio.create_subprocess_exec(
        PROMTOOL,
        "check",
        "metrics",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate(text.encode())
    assert proc.returncode == 0, output.decode()
