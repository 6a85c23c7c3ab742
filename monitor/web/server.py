"""The daemon's HTTP side: `/metrics`, health and readiness, the small JSON API, and reload.

It is one of the two doors into the daemon (with `cli`), so it only reads: the registry, the
store and whatever the daemon exposes through `ServerStatus`. Responses never echo request input
except a parameter's name in a 400, so a crafted URL cannot put its text into a page or a log
that an operator later opens. JSON bodies are `{"data": ...}` on success and
`{"error": "...", ...}` otherwise, like the Prometheus HTTP API.

With a web config (monitor/web/web_config.py) every path but `/healthz` and `/readyz` needs basic or
bearer auth, so the kubelet can probe without credentials; those two say nothing but ok.
Limits: request line, header size and count (aiohttp refuses larger with a 400), at most
`API_MAX_CONCURRENT` API requests at once (503 beyond), bounded query parameters, no body;
connections are capped and timed out by `monitor/web/connections.py`.
"""

from __future__ import annotations

import asyncio
import gzip
import math
import re
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import MultiMapping
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from monitor.metrics import Metrics
from monitor.store import ResultQuery, Store, StoreError
from monitor.types import Outcome
from monitor.web.auth import Authenticator, TokenBucket, WebConfigWatcher, client_key
from monitor.web.connections import (
    ConnectionGuard,
    ConnectionLimits,
    chain_accept_handler,
    fd_bounded,
)

log = structlog.get_logger(__name__)

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
# Only /-/reload takes POST and it reads no body; 64 KiB bounds what a client can make us buffer.
CLIENT_MAX_SIZE = 64 * 1024
_MAX_VALUE_CHARS = 256
_STRING_FILTERS = ("platform", "pool", "model", "suite", "probe", "detector")
_KNOWN = frozenset((*_STRING_FILTERS, "outcome", "since", "until", "limit"))
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_LIMIT = re.compile(r"[0-9]{1,7}")
# Unauthenticated even with a web config: the kubelet's probes carry no credentials.
OPEN_PATHS = frozenset(("/healthz", "/readyz"))
# A results page is up to MAX_LIMIT transcripts read and serialised at once; beyond this many
# in flight, more would only queue on the store and grow memory, so they get a 503 at once.
API_MAX_CONCURRENT = 8
# The longest valid request line is ~2.5 KiB (9 parameters of at most 256 characters); an
# Authorization header is well under 1 KiB.
MAX_LINE_BYTES = 4096
MAX_FIELD_BYTES = 8190
MAX_HEADERS = 64
RESULTS_DISABLED = "the results API is disabled (server.api_results: false)"

_INDEX = """<!doctype html>
<html><head><meta charset="utf-8"><title>canary-monitor</title></head>
<body><h1>canary-monitor</h1><ul>
<li><a href="/metrics">/metrics</a>: Prometheus metrics</li>
<li><a href="/healthz">/healthz</a>: liveness</li>
<li><a href="/readyz">/readyz</a>: readiness</li>
<li><a href="/api/v1/targets">/api/v1/targets</a>: configured targets</li>
<li><a href="/api/v1/results">/api/v1/results</a>: recent results, newest first</li>
</ul><p>POST /-/reload reloads the config.</p></body></html>
"""


class ServerStatus(Protocol):
    """What the daemon tells the server; implemented by the daemon, faked in tests."""

    def targets(self) -> list[dict[str, Any]]:
        """JSON-ready summaries of the configured targets."""

    def ready(self) -> tuple[bool, str]:
        """Whether the daemon is ready for traffic (config loaded, store open) and why not."""

    async def reload(self) -> tuple[bool, str]:
        """Reload the config; (ok, message). A failed reload keeps the old config running."""


class BadParameter(ValueError):
    """A query parameter is invalid; `parameter` names it (None if its name is unsafe)."""

    def __init__(self, parameter: str | None, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


def parse_result_query(params: MultiMapping[str]) -> ResultQuery:
    """`/api/v1/results` parameters as a `ResultQuery`; raises `BadParameter`.

    Unknown parameters are refused rather than ignored: a misspelt `platfrom=` that silently
    matched everything would mislead whoever is chasing an incident.
    """
    values: dict[str, str] = {}
    for name in params:
        if name not in _KNOWN:
            raise BadParameter(name if _SAFE_NAME.match(name) else None, "unknown parameter")
        if len(params.getall(name)) > 1:
            raise BadParameter(name, "given more than once")
        value = params[name]
        if len(value) > _MAX_VALUE_CHARS:
            raise BadParameter(name, f"must be at most {_MAX_VALUE_CHARS} characters")
        if value:  # `platform=` means any platform, as a form with an empty field sends it
            values[name] = value
    fields: dict[str, Any] = {name: values[name] for name in _STRING_FILTERS if name in values}
    if "outcome" in values:
        if values["outcome"] not in {o.value for o in Outcome}:
            raise BadParameter("outcome", f"must be one of {', '.join(o.value for o in Outcome)}")
        fields["outcome"] = values["outcome"]
    for name in ("since", "until"):
        if name in values:
            fields[name] = _parse_time(name, values[name])
    if "since" in fields and "until" in fields and fields["since"] >= fields["until"]:
        raise BadParameter("until", "must be later than `since`")
    limit = values.get("limit", str(DEFAULT_LIMIT))
    if not _LIMIT.fullmatch(limit) or not 1 <= int(limit) <= MAX_LIMIT:
        raise BadParameter("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    return ResultQuery(**fields, limit=int(limit))


def _parse_time(name: str, value: str) -> float:
    """Unix seconds, or RFC 3339 / ISO 8601 (a time without offset is taken as UTC)."""
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise BadParameter(name, "must be unix seconds or an RFC 3339 time") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        seconds = parsed.timestamp()
    if not math.isfinite(seconds):
        raise BadParameter(name, "must be a finite time")
    return seconds


class _Handlers:
    def __init__(
        self, registry: CollectorRegistry, store: Store, status: ServerStatus, api_results: bool
    ) -> None:
        self.registry = registry
        self.store = store
        self.status = status
        self._encoding = asyncio.Lock()
        self.api_results = api_results

    async def index(self, request: web.Request) -> web.Response:
        return web.Response(text=_INDEX, content_type="text/html")

    async def metrics(self, request: web.Request) -> web.Response:
        """The exposition, encoded in a worker thread and gzipped when the scraper accepts it.

        Encoding is pure Python and grows with the series: at 10,000 series it is 30 MB and
        took 2.5 s, during which the event loop, and so every probe's latency and time to first
        token, stood still (bench/README.md). In a thread the loop keeps running between the
        interpreter's switches; one encode at a time, so parallel scrapers do not pile up.
        """
        # OpenMetrics when the scraper's Accept asks for it, text format 0.0.4 otherwise.
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        compress = "gzip" in request.headers.get("Accept-Encoding", "").lower()
        async with self._encoding:
            body = await asyncio.to_thread(_exposition, encoder, self.registry, compress)
        headers = {"Content-Type": content_type}
        if compress:
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(self, request: web.Request) -> web.Response:
        ready, reason = self.status.ready()
        if ready:
            return web.Response(text=f"ready: {reason}\n" if reason else "ready\n")
        return web.Response(status=503, text=f"not ready: {reason}\n")

    async def targets(self, request: web.Request) -> web.Response:
        return web.json_response({"data": self.status.targets()})

    async def results(self, request: web.Request) -> web.Response:
        if not self.api_results:
            return web.json_response({"error": RESULTS_DISABLED}, status=404)
        try:
            query = parse_result_query(request.query)
        except BadParameter as exc:
            return web.json_response({"error": exc.message, "parameter": exc.parameter}, status=400)
        return web.json_response({"data": await self.store.query(query)})

    async def result(self, request: web.Request) -> web.Response:
        if not self.api_results:
            return web.json_response({"error": RESULTS_DISABLED}, status=404)
        record = await self.store.get(request.match_info["id"])
        if record is None:
            return web.json_response({"error": "result not found"}, status=404)
        return web.json_response({"data": record})

    async def reload(self, request: web.Request) -> web.Response:
        ok, message = await self.status.reload()
        if ok:
            return web.json_response({"data": {"message": message}})
        return web.json_response({"error": message}, status=500)


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map store failures to a 503 that leaks no path, and forbid MIME sniffing everywhere."""
    try:
        response: web.StreamResponse = await handler(request)
    except StoreError as exc:
        log.warning("server.store_error", path=request.path, error=str(exc))
        response = web.json_response({"error": "store unavailable"}, status=503)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


class WebGuard:
    """The web config's rate limit, extra headers and authentication, per request."""

    def __init__(self, watcher: WebConfigWatcher) -> None:
        self.watcher = watcher
        self.auth = Authenticator()
        self.bucket = TokenBucket()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        config = self.watcher.current()
        limit = config.model.rate_limit
        response: web.StreamResponse
        if request.path in OPEN_PATHS:
            response = await handler(request)
        elif not self.bucket.allow(limit.interval_s, limit.burst):
            response = web.json_response({"error": "rate limit exceeded"}, status=429)
        elif (
            config.auth_required
            and not (
                verdict := await self.auth.check(
                    config, request.headers.get("Authorization"), client_key(request.remote)
                )
            ).allowed
        ):
            if verdict.retry_after_s is not None:
                response = web.json_response(
                    {"error": "too many authentication attempts; retry later"},
                    status=429,
                    headers={"Retry-After": str(verdict.retry_after_s)},
                )
            else:
                response = web.json_response({"error": "authentication required"}, status=401)
                for challenge in self.auth.challenges(config):
                    response.headers.add("WWW-Authenticate", challenge)
        else:
            response = await handler(request)
        response.headers.update(config.model.http_server_config.headers)
        return response


class _APILimit:
    """At most `limit` requests under /api/ at once; the next gets a 503, not a queue."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        if self.in_flight >= self.limit:
            return web.json_response(
                {"error": "too many concurrent API requests"},
                status=503,
                headers={"Retry-After": "1"},
            )
        self.in_flight += 1
        try:
            return await handler(request)
        finally:
            self.in_flight -= 1


WEB_GUARD = web.AppKey("web_guard", WebGuard)
CONNECTION_GUARD = web.AppKey("connection_guard", ConnectionGuard)


def build_app(
    *,
    registry: CollectorRegistry,
    store: Store,
    status: ServerStatus,
    web_config: WebConfigWatcher | None = None,
    api_results: bool = True,
    api_max_concurrent: int = API_MAX_CONCURRENT,
    limits: ConnectionLimits | None = None,
    metrics: Metrics | None = None,
) -> web.Application:
    """The HTTP application; nothing is bound until `serve`.

    `web_config`: TLS is `serve`'s business, auth and limits happen here. `api_results=False`
    answers /api/v1/results* with a 404 that says so (stored transcripts stay private).
    `limits` bound the connections `serve` accepts; `metrics` counts the ones it drops.
    """
    h = _Handlers(registry, store, status, api_results)
    on_drop = None
    if metrics is not None:
        counter = metrics.http_connections_dropped
        on_drop = lambda reason: counter.labels(reason).inc()  # noqa: E731 - one-line callback
    connections = ConnectionGuard(limits or ConnectionLimits(), on_drop)
    middlewares: list[Any] = [connections.middleware, _guard]
    if web_config is not None:
        guard = WebGuard(web_config)
        middlewares.append(guard.middleware)
    middlewares.append(_APILimit(api_max_concurrent).middleware)
    app = web.Application(client_max_size=CLIENT_MAX_SIZE, middlewares=middlewares)
    app[CONNECTION_GUARD] = connections
    if web_config is not None:
        app[WEB_GUARD] = guard
    app.router.add_get("/", h.index)
    app.router.add_get("/metrics", h.metrics)
    app.router.add_get("/healthz", h.healthz)
    app.router.add_get("/readyz", h.readyz)
    app.router.add_get("/api/v1/targets", h.targets)
    app.router.add_get("/api/v1/results", h.results)
    app.router.add_get("/api/v1/results/{id}", h.result)
    app.router.add_post("/-/reload", h.reload)  # any other method gets aiohttp's 405
    return app


async def serve(
    app: web.Application, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, int]:
    """Start `app` on host:port (0 picks a free port), over TLS with `ssl_context`; returns
    the runner and the bound port.

    Stop it with `await runner.cleanup()`. The access log is off: Prometheus scrapes every few
    seconds and those lines would drown the one-line-per-probe log.
    """
    guard = app[CONNECTION_GUARD]
    guard.max_connections = fd_bounded(guard.limits.max_connections)
    sockets: set[int] = set()
    restore = chain_accept_handler(asyncio.get_running_loop(), guard, sockets)

    async def on_cleanup(_: web.Application) -> None:
        restore()

    app.on_cleanup.append(on_cleanup)
    runner = web.AppRunner(
        app,
        access_log=None,
        max_line_size=MAX_LINE_BYTES,
        max_field_size=MAX_FIELD_BYTES,
        max_headers=MAX_HEADERS,
        keepalive_timeout=guard.limits.keepalive_timeout_s,
    )
    await runner.setup()
    site = _GuardedSite(runner, host, port, ssl_context=ssl_context, guard=guard)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    sockets.update(sock.fileno() for sock in site.sockets())
    address = runner.addresses[0]
    return runner, int(address[1])


class _GuardedSite(web.BaseSite):
    """aiohttp's TCPSite, but each accepted socket goes through the connection guard, and a
    TLS handshake must end within the header-read timeout (asyncio's default is 60 s)."""

    __slots__ = ("_guard", "_host", "_port", "_sockets")

    def __init__(
        self,
        runner: web.AppRunner,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None,
        guard: ConnectionGuard,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context)
        self._host, self._port, self._guard = host, port, guard
        self._sockets: tuple[Any, ...] = ()

    @property
    def name(self) -> str:
        return f"{'https' if self._ssl_context else 'http'}://{self._host}:{self._port}"

    def sockets(self) -> tuple[Any, ...]:
        return self._sockets

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        timeout_s = self._guard.limits.header_read_timeout_s if self._ssl_context else None
        self._server = listening = await asyncio.get_running_loop().create_server(
            self._guard.protocol_factory(server),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            ssl_handshake_timeout=timeout_s,
        )
        self._sockets = listening.sockets


def _exposition(
    encoder: Callable[[CollectorRegistry], bytes], registry: CollectorRegistry, compress: bool
) -> bytes:
    body = encoder(registry)
    return gzip.compress(body, compresslevel=1) if compress else body
