"""TLS, mutual TLS, basic and bearer auth and request limits, through a real aiohttp server on
loopback and a real httpx client, with certificates from trustme."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import ssl
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
import trustme
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter
from structlog.testing import capture_logs

from monitor.daemon import Daemon
from monitor.store import ResultQuery
from monitor.store.sqlite import SQLiteStore
from monitor.web.auth import (
    ALLOWED,
    AUTH_FAILURE_BURST,
    AUTH_FAILURE_INTERVAL_S,
    DENIED,
    MAX_BCRYPT_QUEUE,
    Authenticator,
    AuthResult,
    FailureLimiter,
    WebConfigWatcher,
    client_key,
)
from monitor.web.server import WEB_GUARD, build_app, serve
from monitor.web.web_config import WebConfig
from tests.conftest import WriteConfig
from tests.test_server import FakeStatus

PASSWORD = "correct horse battery staple"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()
TOKEN = "tok-0123456789abcdefghij"


class PKI:
    """A server CA with a certificate for 127.0.0.1, a client CA with one client, and a stranger
    CA that signed another client and a server certificate of its own."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.server_ca, self.client_ca, self.stranger = trustme.CA(), trustme.CA(), trustme.CA()
        self.install(self.server_ca.issue_cert("127.0.0.1"))
        self.client_ca.cert_pem.write_to_path(str(directory / "clients.crt"))
        self.client = self.client_ca.issue_cert("scraper@example.org")
        self.stranger_client = self.stranger.issue_cert("intruder@example.org")

    def install(self, cert: trustme.LeafCert) -> None:
        """Write `cert` as server.crt/server.key (a rotation when called again)."""
        cert.cert_chain_pems[0].write_to_path(str(self.dir / "server.crt"))
        cert.private_key_pem.write_to_path(str(self.dir / "server.key"))

    def client_context(
        self, trust: trustme.CA | None = None, cert: trustme.LeafCert | None = None
    ) -> ssl.SSLContext:
        context = ssl.create_default_context()
        (trust or self.server_ca).configure_trust(context)
        if cert is not None:
            cert.configure_cert(context)
        return context


@pytest.fixture
def pki(tmp_path: Path) -> PKI:
    (tmp_path / "tokens").write_text(f"# prometheus\n{TOKEN}\n")
    return PKI(tmp_path)


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("canary_probe_runs", "Probe runs.", registry=registry).inc()
    return registry


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "canary.db", retention_passed_days=7, retention_failed_days=90)
    yield s
    await s.close()


TLS = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
MTLS = TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: clients.crt\n"
BASIC = f"basic_auth_users:\n  alice: '{HASH}'\n"
BEARER = "bearer_auth:\n  tokens_file: tokens\n"

Running = Callable[..., Any]


@pytest.fixture
def running(pki: PKI, registry: CollectorRegistry, store: SQLiteStore) -> Callable[..., Any]:
    """`async with running(web_yml, **build_app_kwargs) as (base_url, app)`."""

    @asynccontextmanager
    async def run(web: str | None, **kwargs: Any) -> AsyncIterator[tuple[str, web.Application]]:
        watcher = None
        if web is not None:
            (pki.dir / "web.yml").write_text(web)
            watcher = WebConfigWatcher.load(pki.dir / "web.yml")
        app = build_app(
            registry=registry, store=store, status=FakeStatus(), web_config=watcher, **kwargs
        )
        context = watcher.server_context() if watcher else None
        runner, port = await serve(app, "127.0.0.1", 0, ssl_context=context)
        try:
            yield f"{'https' if context else 'http'}://127.0.0.1:{port}", app
        finally:
            await runner.cleanup()

    return run


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_tls_serves_to_a_client_that_trusts_the_ca(pki: PKI, running: Running) -> None:
    """With tls_server_config the endpoint speaks HTTPS; a client trusting the CA gets /metrics;
    a client trusting another CA refuses the certificate; plain HTTP gets no answer."""
    async with running(TLS) as (url, _):
        async with httpx.AsyncClient(verify=pki.client_context()) as client:
            response = await client.get(f"{url}/metrics")
        assert response.status_code == 200 and "canary_probe_runs_total 1.0" in response.text
        async with httpx.AsyncClient(verify=pki.client_context(pki.stranger)) as client:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(f"{url}/metrics")
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.TransportError):
                await client.get(url.replace("https:", "http:") + "/metrics")


async def test_mutual_tls_requires_a_client_certificate_from_the_client_ca(
    pki: PKI, running: Running
) -> None:
    """RequireAndVerifyClientCert: the client CA's certificate gets in; no certificate, or one
    from another CA, fails the handshake before any HTTP is spoken."""
    async with running(MTLS) as (url, _):
        async with httpx.AsyncClient(verify=pki.client_context(cert=pki.client)) as client:
            assert (await client.get(f"{url}/metrics")).status_code == 200
        for cert in (None, pki.stranger_client):
            async with httpx.AsyncClient(verify=pki.client_context(cert=cert)) as client:
                with pytest.raises(httpx.TransportError) as error:
                    await client.get(f"{url}/metrics")
                assert isinstance(error.value, httpx.ConnectError | httpx.ReadError)


async def test_basic_auth(running: Running) -> None:
    """Right user and password: 200. Wrong password, unknown user, garbage or no header: 401
    with a Basic challenge. /healthz and /readyz stay open for the kubelet."""
    async with running(BASIC) as (url, _), httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/metrics", headers=basic("alice", PASSWORD))).status_code == 200
        for headers in (
            basic("alice", "wrong"),
            basic("mallory", PASSWORD),
            {"Authorization": "Basic not-base64!"},
            {"Authorization": f"Bearer {TOKEN}"},
            {},
        ):
            response = await client.get("/metrics", headers=headers)
            assert response.status_code == 401, headers
            assert response.json() == {"error": "authentication required"}
            assert response.headers.get_list("www-authenticate") == [
                'Basic realm="canary-monitor", charset="UTF-8"'
            ]
        for path in ("/", "/api/v1/targets", "/api/v1/results", "/api/v1/results/x"):
            assert (await client.get(path)).status_code == 401, path
        assert (await client.post("/-/reload")).status_code == 401
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200


async def test_bearer_auth_and_both_schemes(running: Running) -> None:
    """A token from tokens_file gets in, another does not; with users and tokens both schemes
    are accepted and both are offered in the challenge."""
    async with running(BASIC + BEARER) as (url, _), httpx.AsyncClient(base_url=url) as client:
        ok = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
        assert (await client.get("/metrics", headers=basic("alice", PASSWORD))).status_code == 200
        wrong = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
        assert wrong.status_code == 401
        assert wrong.headers.get_list("www-authenticate") == [
            'Basic realm="canary-monitor", charset="UTF-8"',
            'Bearer realm="canary-monitor"',
        ]


async def test_tls_and_basic_auth_together(pki: PKI, running: Running) -> None:
    """The usual production shape: HTTPS and a password."""
    async with (
        running(TLS + BASIC) as (url, _),
        httpx.AsyncClient(base_url=url, verify=pki.client_context()) as client,
    ):
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=basic("alice", PASSWORD))).status_code == 200


async def test_bcrypt_runs_once_per_credential(running: Running) -> None:
    """A scrape every few seconds does not pay bcrypt each time: the verdict is cached (the
    numbers printed are the measured first and cached request times)."""
    async with running(BASIC) as (url, app), httpx.AsyncClient(base_url=url) as client:
        started = time.perf_counter()
        assert (await client.get("/metrics", headers=basic("alice", PASSWORD))).status_code == 200
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(20):
            response = await client.get("/metrics", headers=basic("alice", PASSWORD))
            assert response.status_code == 200
        cached_s = (time.perf_counter() - started) / 20
        for _ in range(3):
            assert (await client.get("/metrics", headers=basic("alice", "nope"))).status_code == 401
    assert app[WEB_GUARD].auth.bcrypt_runs == 2  # one right password, one wrong, each once
    print(f"bcrypt cost 10: first request {first_s * 1000:.1f} ms, cached {cached_s * 1000:.2f} ms")


async def test_changed_web_config_applies_without_restart(pki: PKI, running: Running) -> None:
    """A new password applies from the next request; a broken file keeps the last good config
    in force and says why in a log line that names no secret."""
    new_hash = bcrypt.hashpw(b"new password", bcrypt.gensalt(4)).decode()
    async with running(BASIC) as (url, app), httpx.AsyncClient(base_url=url) as client:
        web = pki.dir / "web.yml"
        web.write_text(f"basic_auth_users:\n  alice: '{new_hash}'\n")
        os.utime(web, ns=(time.time_ns(), time.time_ns() + 1_000_000))
        assert (await client.get("/metrics", headers=basic("alice", PASSWORD))).status_code == 401
        ok = await client.get("/metrics", headers=basic("alice", "new password"))
        assert ok.status_code == 200
        with capture_logs() as logs:
            web.write_text("basic_auth_users:\n  alice: new password\n")
            response = await client.get("/metrics", headers=basic("alice", "new password"))
        assert response.status_code == 200
        [failed] = [e for e in logs if e["event"] == "webconfig.reload_failed"]
        assert failed["problems"] == [
            f"{web}:2: basic_auth_users.alice: must be a bcrypt hash ($2y$, $2b$ or $2a$;"
            " see docs/security.md)"
        ]
        assert "new password" not in repr(logs) and new_hash not in repr(logs)
        assert app[WEB_GUARD].watcher.reloads == 1


async def test_rotated_certificate_is_served_on_the_next_handshake(
    pki: PKI, running: Running
) -> None:
    """cert-manager style rotation: new server.crt/server.key from another CA are picked up
    by the next connection, without a restart."""
    async with running(TLS) as (url, _):
        pki.install(pki.stranger.issue_cert("127.0.0.1"))
        async with httpx.AsyncClient(verify=pki.client_context(pki.stranger)) as client:
            assert (await client.get(f"{url}/healthz")).status_code == 200
        async with httpx.AsyncClient(verify=pki.client_context()) as client:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(f"{url}/healthz")


async def test_results_api_can_be_turned_off(running: Running) -> None:
    """server.api_results: false answers the transcript routes with a 404 that says why; the
    rest of the API still works."""
    async with (
        running(None, api_results=False) as (url, _),
        httpx.AsyncClient(base_url=url) as client,
    ):
        for path in ("/api/v1/results", "/api/v1/results/abc"):
            response = await client.get(path)
            assert response.status_code == 404
            assert response.json() == {
                "error": "the results API is disabled (server.api_results: false)"
            }
        assert (await client.get("/api/v1/targets")).status_code == 200


class GatedStore(SQLiteStore):
    """A real store whose queries wait for the test to open the gate."""

    gate: asyncio.Event
    entered: asyncio.Event

    async def query(self, query: ResultQuery) -> list[dict[str, Any]]:
        self.entered.set()
        await self.gate.wait()
        return await super().query(query)


async def test_concurrent_api_requests_are_capped(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    """With the cap at one, a second API request while the first is in flight gets a 503 with
    Retry-After; /metrics is not capped; once the first is done the API answers again."""
    store = GatedStore(tmp_path / "g.db", retention_passed_days=7, retention_failed_days=90)
    store.gate, store.entered = asyncio.Event(), asyncio.Event()
    app = build_app(registry=registry, store=store, status=FakeStatus(), api_max_concurrent=1)
    runner, port = await serve(app, "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            first = asyncio.create_task(client.get("/api/v1/results"))
            await store.entered.wait()
            busy = await client.get("/api/v1/targets")
            assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
            assert busy.json() == {"error": "too many concurrent API requests"}
            assert (await client.get("/metrics")).status_code == 200
            store.gate.set()
            assert (await first).status_code == 200
            assert (await client.get("/api/v1/targets")).status_code == 200
    finally:
        await runner.cleanup()
        await store.close()


async def test_oversized_request_line_and_headers_are_refused(running: Running) -> None:
    """A request line over 4 KiB, a header over 8 KiB or more than 64 headers: 400, before
    any handler runs."""
    async with running(None) as (url, _), httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/healthz", params={"x": "a" * 5000})).status_code == 400
        assert (await client.get("/healthz", headers={"X-Big": "a" * 9000})).status_code == 400
        many = {f"X-H{i}": "1" for i in range(70)}
        assert (await client.get("/healthz", headers=many)).status_code == 400
        assert (await client.get("/healthz", headers={"X-Ok": "a" * 1000})).status_code == 200


async def test_rate_limit_and_extra_headers(running: Running) -> None:
    """rate_limit: a burst of 2 then 429 (health checks exempt); http_server_config.headers are
    set on every response."""
    web = (
        "rate_limit: {interval: 1h, burst: 2}\n"
        "http_server_config:\n  headers: {X-Frame-Options: deny, Content-Security-Policy: \"default-src 'none'\"}\n"
    )
    async with running(web) as (url, _), httpx.AsyncClient(base_url=url) as client:
        codes = [(await client.get("/metrics")).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        health = await client.get("/healthz")
        assert health.status_code == 200
        assert health.headers["x-frame-options"] == "deny"
        assert health.headers["content-security-policy"] == "default-src 'none'"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_canary_run_serves_metrics_over_tls_with_basic_auth(
    pki: PKI, write_config: WriteConfig
) -> None:
    """`canary run --web.config.file`: /readyz over HTTPS without credentials, /metrics only
    with the password; SIGTERM still exits 0."""
    (pki.dir / "web.yml").write_text(TLS + BASIC)
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor.commands.cli",
        "run",
        "--config",
        str(write_config(port=port)),
        "--web.config.file",
        str(pki.dir / "web.yml"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"https://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(verify=pki.client_context()) as client:
            async with asyncio.timeout(30):
                while True:
                    try:
                        if (await client.get(f"{url}/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.05)
            assert (await client.get(f"{url}/metrics")).status_code == 401
            metrics = await client.get(f"{url}/metrics", headers=basic("alice", PASSWORD))
            assert metrics.status_code == 200
            assert "canary_config_last_reload_successful 1.0" in metrics.text
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert PASSWORD not in err.decode() and HASH not in err.decode()


async def test_daemon_takes_the_web_config_from_its_config(
    pki: PKI, write_config: WriteConfig
) -> None:
    """server.web_config_file (relative to the config) and server.api_results: false."""
    (pki.dir / "web.yml").write_text(BEARER)
    path = write_config()
    path.write_text(
        path.read_text().replace(
            "drain_timeout_s: 5}",
            "drain_timeout_s: 5, web_config_file: web.yml, api_results: false}",
        )
    )
    daemon = Daemon(path)
    await daemon.start()
    try:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.server_port}") as client:
            assert (await client.get("/api/v1/targets")).status_code == 401
            assert (await client.get("/api/v1/targets", headers=auth)).status_code == 200
            results = await client.get("/api/v1/results", headers=auth)
            assert results.status_code == 404
            gauge = "canary_web_config_last_reload_successful"
            assert daemon.registry.get_sample_value(gauge) == 1
            # A broken edit keeps the old config in force and says so in the metric.
            web = pki.dir / "web.yml"
            web.write_text("bearer_auth: {tokens_file: nowhere}\n")
            os.utime(web, ns=(time.time_ns(), time.time_ns() + 1_000_000))
            assert (await client.get("/api/v1/targets", headers=auth)).status_code == 200
            assert daemon.registry.get_sample_value(gauge) == 0
            web.write_text(BEARER)
            os.utime(web, ns=(time.time_ns(), time.time_ns() + 2_000_000))
            assert (await client.get("/api/v1/targets", headers=auth)).status_code == 200
            assert daemon.registry.get_sample_value(gauge) == 1
    finally:
        await daemon.stop()


async def test_canary_run_refuses_a_broken_web_config(pki: PKI, write_config: WriteConfig) -> None:
    """A broken web config stops `canary run` at start with its `file:line: field: message`."""
    web = pki.dir / "web.yml"
    web.write_text("tls_server_config:\n  cert_file: server.crt\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor.commands.cli",
        "run",
        "--config",
        str(write_config()),
        "--web.config.file",
        str(web),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert f"{web}:1: tls_server_config.key_file: required field is missing" in err.decode()


def _cheap_config(pki: PKI) -> WebConfig:
    """alice with a cost-4 hash: the same flow as cost 10, fast enough for hundreds of checks."""
    cheap = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    (pki.dir / "web.yml").write_text(f"basic_auth_users:\n  alice: '{cheap}'\n")
    return WebConfigWatcher.load(pki.dir / "web.yml").current()


async def test_a_flood_of_guesses_queues_bounded_bcrypt_work(pki: PKI) -> None:
    """30 new wrong passwords at once from 30 addresses: 16 are checked (one bcrypt at a time),
    the rest get a 429 (Retry-After 1) without hashing; the right password still gets in."""
    config = _cheap_config(pki)
    auth = Authenticator()
    guesses = [basic("alice", f"guess-{i}")["Authorization"] for i in range(30)]
    verdicts = await asyncio.gather(
        *(auth.check(config, g, f"10.0.0.{i}") for i, g in enumerate(guesses))
    )
    assert verdicts == [DENIED] * 16 + [AuthResult(False, retry_after_s=1)] * 14
    assert auth.bcrypt_runs == MAX_BCRYPT_QUEUE == 16
    assert await auth.check(config, basic("alice", PASSWORD)["Authorization"], "10.0.0.99")


async def test_wrong_guesses_cannot_push_out_a_right_password(pki: PKI) -> None:
    """After 300 distinct wrong passwords (more than the cache holds), from as many addresses,
    the right password is still answered from its cache, even while bcrypt's queue is full."""
    config = _cheap_config(pki)
    auth = Authenticator()
    right = basic("alice", PASSWORD)["Authorization"]
    assert await auth.check(config, right, "10.1.0.1") == ALLOWED
    for i in range(300):
        guess = basic("alice", f"guess-{i}")["Authorization"]
        assert await auth.check(config, guess, f"10.2.{i // 256}.{i % 256}") == DENIED
    queue_full = [
        auth.check(config, basic("alice", f"late-{i}")["Authorization"], f"10.3.0.{i}")
        for i in range(MAX_BCRYPT_QUEUE)
    ]
    *_, verdict = await asyncio.gather(*queue_full, auth.check(config, right, "10.1.0.1"))
    assert verdict == ALLOWED
    assert auth.bcrypt_runs == 1 + 300 + MAX_BCRYPT_QUEUE  # the right one was hashed once


async def test_wrong_tries_are_limited_per_client(pki: PKI) -> None:
    """Each address gets `burst` wrong tries, then 429s saying when the next try comes, one per
    interval; a repeated stale password costs nothing; other addresses and a known-right
    password are unaffected; IPv6 addresses count by their /64."""
    config = _cheap_config(pki)
    now = [0.0]
    auth = Authenticator(FailureLimiter(burst=3, interval_s=10, clock=lambda: now[0]))
    guess = [basic("alice", f"guess-{i}")["Authorization"] for i in range(10)]
    right = basic("alice", PASSWORD)["Authorization"]
    assert await auth.check(config, right, "192.0.2.1") == ALLOWED  # cached from here on
    assert [await auth.check(config, guess[i], "192.0.2.1") for i in range(3)] == [DENIED] * 3
    assert await auth.check(config, guess[0], "192.0.2.1") == DENIED  # same stale one: free
    assert await auth.check(config, guess[3], "192.0.2.1") == AuthResult(False, 10)
    assert await auth.check(config, right, "192.0.2.1") == ALLOWED
    assert await auth.check(config, guess[4], "192.0.2.2") == DENIED
    now[0] = 4.0
    assert await auth.check(config, guess[5], "192.0.2.1") == AuthResult(False, 6)
    now[0] = 10.0
    assert await auth.check(config, guess[6], "192.0.2.1") == DENIED
    assert await auth.check(config, guess[7], "192.0.2.1") == AuthResult(False, 10)
    assert (
        client_key("2001:db8:1:2::5") == client_key("2001:db8:1:2:ffff::1") == ("2001:db8:1:2::/64")
    )
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    tokens = _tokens_config(pki)
    bad = {"Authorization": "Bearer wrong-token-0123456789"}["Authorization"]
    assert [(await auth.check(tokens, bad, "192.0.2.9")).retry_after_s for _ in range(4)] == [
        None,
        None,
        None,
        10,
    ]
    assert await auth.check(tokens, f"Bearer {TOKEN}", "192.0.2.9") == ALLOWED


def _tokens_config(pki: PKI) -> WebConfig:
    (pki.dir / "tokens.yml").write_text(BEARER)
    return WebConfigWatcher.load(pki.dir / "tokens.yml").current()


async def test_a_flood_of_wrong_passwords_gets_429s_and_the_right_one_200(
    running: Running,
) -> None:
    """24 clients send 120 wrong passwords at once from one address while the right password
    keeps coming: it gets 200 every time, the address gets AUTH_FAILURE_BURST 401s and then
    429s with Retry-After, and only those wrong tries cost bcrypt."""
    async with running(BASIC) as (url, app), httpx.AsyncClient(base_url=url) as client:
        auth = app[WEB_GUARD].auth
        auth.limiter = FailureLimiter(clock=lambda: 0.0)  # no refill while the test runs
        assert (await client.get("/metrics", headers=basic("alice", PASSWORD))).status_code == 200

        async def guesser(n: int) -> list[httpx.Response]:
            return [
                await client.get("/metrics", headers=basic("alice", f"guess-{n}-{i}"))
                for i in range(5)
            ]

        async def scraper() -> list[int]:
            return [
                (await client.get("/metrics", headers=basic("alice", PASSWORD))).status_code
                for _ in range(10)
            ]

        *floods, scrapes = await asyncio.gather(*(guesser(n) for n in range(24)), scraper())
    wrong = [response for flood in floods for response in flood]
    assert scrapes == [200] * 10
    assert sorted({r.status_code for r in wrong}) == [401, 429]
    assert sum(r.status_code == 401 for r in wrong) == AUTH_FAILURE_BURST
    throttled = next(r for r in wrong if r.status_code == 429)
    assert throttled.headers["retry-after"] == str(int(AUTH_FAILURE_INTERVAL_S))
    assert throttled.json() == {"error": "too many authentication attempts; retry later"}
    assert auth.bcrypt_runs == 1 + AUTH_FAILURE_BURST


async def test_dot_segments_do_not_reach_protected_routes(running: Running) -> None:
    """`/healthz/../metrics` and an encoded `/metrics` are the protected route, not the open
    one: the auth check and the router see the same normalised path."""
    async with running(BASIC) as (url, _), httpx.AsyncClient(base_url=url) as client:
        statuses = []
        for raw in (b"/healthz/../metrics", b"/%6detrics", b"/healthz/%2e%2e/metrics"):
            request = client.build_request("GET", url)
            request.url = request.url.copy_with(raw_path=raw)
            response = await client.send(request)
            statuses.append(response.status_code)
            assert "canary_probe_runs_total" not in response.text
        # The first two route to /metrics, the third to nothing: neither is an open path.
        assert statuses == [401, 401, 401]
