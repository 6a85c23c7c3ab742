"""The HTTP server's connection limits: a cap, a header-read timeout, calm when fds run out.

aiohttp accepts every connection and keeps each as long as its keep-alive timeout, with no cap;
300 idle connections against `ulimit -n 256` left no descriptor to accept `/healthz` with, and
asyncio logged a traceback for every failed `accept()` (31 MB in 20 s; bench/http_limits.py).
Here, as nginx reuses its idle connections when it runs out, a new connection at the cap closes
the connection that has been idle longest (accepted or answered, no request in progress); only
when every connection is busy is the newcomer refused, with a 503. The cap is kept under half
of `RLIMIT_NOFILE`, so the probes, the store and the logs keep descriptors of their own.
Whatever is dropped is counted (`canary_http_connections_dropped_total{reason}`) and logged
once a minute per reason, not once per connection.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_protocol import RequestHandler

from monitor.logs import LogThrottle

log = structlog.get_logger("canary.server")

# Scrapers, API users and the kubelet need a handful; the rest is headroom for a dashboard.
MAX_CONNECTIONS = 128
# From accept to the end of the first request's headers, TLS handshake included.
HEADER_READ_TIMEOUT_S = 10.0
# Between requests (aiohttp's keep-alive timeout; from 3.10 it also bounds a silent first
# request). A scraper every 15 s or more reconnects, which costs a handshake, not a queue.
KEEPALIVE_TIMEOUT_S = 10.0
# On a failed accept() (no descriptor left), close up to this many idle connections a second.
ACCEPT_FAILED_EVICT = 16
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
    b"Content-Length: 0\r\n\r\n"
)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The server's connection bounds; see the module docstring and docs/reliability.md."""

    max_connections: int = MAX_CONNECTIONS
    header_read_timeout_s: float = HEADER_READ_TIMEOUT_S
    keepalive_timeout_s: float = KEEPALIVE_TIMEOUT_S


def fd_bounded(max_connections: int) -> int:
    """`max_connections`, lowered to half the soft `RLIMIT_NOFILE`."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return max_connections
    return max(1, min(max_connections, soft // 2))


class _Conn:
    __slots__ = ("accepted_at", "busy", "idle_since", "made", "requests")

    def __init__(self, now: float) -> None:
        self.accepted_at = self.idle_since = now
        self.busy = self.requests = 0
        self.made = False


class _Refused(asyncio.Protocol):
    """A connection over the cap while every other one is busy: a 503, then close."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_BUSY)
        transport.close()


class ConnectionGuard:
    """Tracks the server's connections; `protocol_factory` enforces the cap, `middleware`
    marks requests in progress, `accept_failed` sheds idle connections."""

    def __init__(
        self,
        limits: ConnectionLimits,
        on_drop: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self.max_connections = limits.max_connections
        self._on_drop = on_drop
        self._clock = clock
        self._conns: dict[RequestHandler, _Conn] = {}
        self._log = LogThrottle(clock=clock)
        self._last_shed = -float("inf")

    def open_connections(self) -> int:
        """Connections held or being set up (tests and logs)."""
        self._prune(self._clock())
        return len(self._conns)

    def protocol_factory(self, server: web.Server) -> Callable[[], asyncio.BaseProtocol]:
        """What `loop.create_server` calls for each accepted socket."""
        loop = asyncio.get_running_loop()

        def accept() -> asyncio.BaseProtocol:
            now = self._clock()
            self._prune(now)
            if len(self._conns) >= self.max_connections:
                victim = self._idlest()
                if victim is None:
                    self._dropped("limit")
                    return _Refused()
                self._close(victim, "idle_evicted")
            handler = server()
            self._conns[handler] = _Conn(now)
            loop.call_later(self.limits.header_read_timeout_s, self._header_deadline, handler)
            return handler

        return accept

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        conn = self._conns.get(request.protocol)
        if conn is None:
            return await handler(request)
        conn.busy += 1
        conn.requests += 1
        try:
            return await handler(request)
        finally:
            conn.busy -= 1
            conn.idle_since = self._clock()

    def accept_failed(self) -> None:
        """accept() failed for want of a descriptor: count it, and free a few (at most
        ACCEPT_FAILED_EVICT a second: asyncio reports each of a burst of failures)."""
        self._dropped("accept_failed")
        now = self._clock()
        if now - self._last_shed < 1.0:
            return
        self._last_shed = now
        self._prune(now)
        for _ in range(ACCEPT_FAILED_EVICT):
            victim = self._idlest()
            if victim is None:
                break
            self._close(victim, "idle_evicted")

    def _prune(self, now: float) -> None:
        """Forget connections that are closed, or whose TLS handshake never finished."""
        grace_s = self.limits.header_read_timeout_s + 1
        for handler, conn in list(self._conns.items()):
            if handler.transport is not None:
                conn.made = True
            elif conn.made or now - conn.accepted_at > grace_s:
                del self._conns[handler]

    def _idlest(self) -> RequestHandler | None:
        """The connection idle longest: open and between requests, or still being set up (a
        burst of accepts runs before any of them is `connection_made`)."""
        idle = [
            (conn.idle_since, id(handler), handler)
            for handler, conn in self._conns.items()
            if conn.busy == 0
        ]
        return min(idle)[2] if idle else None

    def _close(self, handler: RequestHandler, reason: str) -> None:
        del self._conns[handler]
        if handler.transport is not None:
            handler.force_close()
        else:  # made on the next loop turn (plain TCP) or after its TLS handshake
            until = self._clock() + self.limits.header_read_timeout_s
            asyncio.get_running_loop().call_soon(self._close_when_made, handler, until)
        self._dropped(reason)

    def _close_when_made(self, handler: RequestHandler, until: float) -> None:
        if handler.transport is not None:
            handler.force_close()
        elif self._clock() < until:  # a TLS handshake: it ends, or times out, by `until`
            asyncio.get_running_loop().call_later(0.05, self._close_when_made, handler, until)

    def _header_deadline(self, handler: RequestHandler) -> None:
        conn = self._conns.get(handler)
        if conn is not None and conn.requests == 0 and handler.transport is not None:
            self._close(handler, "header_timeout")

    def _dropped(self, reason: str) -> None:
        if self._on_drop is not None:
            self._on_drop(reason)
        suppressed = self._log.ready(reason)
        if suppressed is not None:
            log.warning(
                "server.connections_dropped",
                reason=reason,
                suppressed=suppressed,
                max_connections=self.max_connections,
            )


def chain_accept_handler(
    loop: asyncio.AbstractEventLoop, guard: ConnectionGuard, sockets: set[int]
) -> Callable[[], None]:
    """Route asyncio's "socket.accept() out of system resource" reports for `sockets` (file
    numbers) to `guard` instead of a traceback each; everything else goes to the handler
    that was there. Returns the function that puts that handler back."""
    previous = loop.get_exception_handler()

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        sock = context.get("socket")
        if (
            isinstance(context.get("exception"), OSError)
            and str(context.get("message", "")).startswith("socket.accept()")
            and sock is not None
            and sock.fileno() in sockets
        ):
            guard.accept_failed()
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)

    def restore() -> None:
        if loop.get_exception_handler() is handle:
            loop.set_exception_handler(previous)

    return restore
