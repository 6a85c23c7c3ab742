"""The web config at run time: re-read on change, basic and bearer auth, the rate limit.

Like exporter-toolkit, a change to the web config file (or a file it names: tokens, certificate,
key, client CA) applies without a restart: users and tokens from the next request on, the
certificate and client CA from the next TLS handshake (cert-manager rotation). Unlike it, a
broken new file does not turn every request into a 500: the last good config stays in force and
`webconfig.reload_failed` says why. Whether TLS is on, `client_auth_type`, the TLS versions and
ciphers are fixed at start (an `ssl` connection takes them from its first context).

bcrypt is slow on purpose (about 70 ms at cost 10), so verdicts are cached, keyed by a SHA-256
of user, hash and password (never the password itself), as exporter-toolkit caches them; one
bcrypt runs at a time, in a thread, so a burst of bad passwords cannot stall the event loop.
Right and wrong verdicts live in separate caches, so wrong guesses can never push a right
password out and make it pay (or queue for) bcrypt again; and each client address may have
only a few wrong credentials checked (`FailureLimiter`), so a flood from one address queues
little bcrypt work and gets 429s, while everybody else's first check still gets its turn.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import hmac
import ipaddress
import math
import os
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import structlog

from monitor.errors import ConfigError
from monitor.logs import LogThrottle
from monitor.web.web_config import WebConfig, load_web_config

log = structlog.get_logger("canary.webconfig")

# Each verdict cache (right, wrong) keeps this many entries, least recently used out first.
CACHE_SIZE = 256
# bcrypt checks waiting for the one running; beyond this a new credential gets a 429 with
# Retry-After (it is load, not a wrong password), so guesses queue no more than ~1 s of work.
MAX_BCRYPT_QUEUE = 16
# Wrong credentials a client address may have checked in a burst, then one per interval: a
# scraper with a stale password (one try a scrape) keeps getting honest 401s, a guesser gets
# 429s after AUTH_FAILURE_BURST tries and 6 a minute after that. Less than MAX_BCRYPT_QUEUE,
# so one address alone cannot fill the bcrypt queue.
AUTH_FAILURE_BURST = 10
AUTH_FAILURE_INTERVAL_S = 10.0
# Client addresses the limiter remembers (least recently seen out first); IPv6 by /64.
AUTH_MAX_CLIENTS = 4096
REALM = "canary-monitor"
Signature = tuple[tuple[int, int, int, int], ...]


def _signature(files: list[Path]) -> Signature:
    out = []
    for file in files:
        try:
            st = os.stat(file)
        except OSError:
            out.append((-1, -1, -1, -1))
        else:
            out.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(out)


class WebConfigWatcher:
    """The web config in force; `current()` re-reads it when one of its files changed."""

    def __init__(self, config: WebConfig) -> None:
        self._config = config
        self._seen = _signature(config.watched_files())
        self.reloads = 0  # successful re-reads (tests and logs)
        # Told whether each re-read succeeded: the daemon's
        # `canary_web_config_last_reload_successful`.
        self.on_reload: Callable[[bool], None] | None = None

    @classmethod
    def load(cls, path: Path) -> WebConfigWatcher:
        """Load `path` (raises `ConfigError`) and watch it."""
        return cls(load_web_config(path))

    def current(self) -> WebConfig:
        seen = _signature(self._config.watched_files())
        if seen == self._seen:
            return self._config
        self._seen = seen  # a broken file is reported once, not on every request
        try:
            fresh = load_web_config(self._config.path)
        except ConfigError as exc:
            log.error("webconfig.reload_failed", problems=[str(p) for p in exc.problems])
            if self.on_reload is not None:
                self.on_reload(False)
            return self._config
        if _fixed_at_start(self._config) != _fixed_at_start(fresh):
            log.warning(
                "webconfig.restart_required",
                reason="TLS on/off, client_auth_type, versions and ciphers apply at start",
            )
        self._config = fresh
        self._seen = _signature(fresh.watched_files())
        self.reloads += 1
        if self.on_reload is not None:
            self.on_reload(True)
        log.info("webconfig.reloaded", users=len(fresh.users), tokens=len(fresh.tokens))
        return fresh

    def server_context(self) -> ssl.SSLContext | None:
        """The context to listen with (None: plain HTTP). Each handshake first looks for a
        changed config and switches to its context: new certificate, key and client CA."""
        base = self._config.ssl_context
        if base is None:
            return None

        def on_client_hello(conn: ssl.SSLObject, server_name: str | None, _: object) -> None:
            context = self.current().ssl_context
            if context is not None and context is not conn.context:
                conn.context = context

        base.sni_callback = on_client_hello
        return base


def _fixed_at_start(config: WebConfig) -> tuple[object, ...]:
    tls = config.tls
    if tls is None:
        return (None,)
    return (tls.client_auth_type, tls.min_version, tls.max_version, tls.cipher_suites)


@functools.cache
def _dummy_hash(cost: int) -> bytes:
    """A hash to check unknown users against, so that a timing does not tell who exists."""
    return bcrypt.hashpw(os.urandom(16).hex().encode(), bcrypt.gensalt(cost))


@dataclass(frozen=True, slots=True)
class AuthResult:
    """A request's authentication: `allowed`, or refused with a 401, or, with `retry_after_s`
    set, a 429 (the client's wrong tries are used up, or bcrypt's queue is full)."""

    allowed: bool
    retry_after_s: int | None = None


ALLOWED = AuthResult(True)
DENIED = AuthResult(False)


def client_key(remote: str | None) -> str:
    """The address a failure counts against: the peer's IP, an IPv6 one by its /64 (one host
    commonly holds a whole /64). Forwarded headers are not trusted: behind a proxy, every
    client is the proxy."""
    if not remote:
        return ""
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return remote
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class FailureLimiter:
    """Per client, a token bucket of wrong-credential checks: `burst` at once, then one per
    `interval_s`. A check takes a token before bcrypt runs and gives it back if the password
    was right, so concurrent guesses cannot overdraw the bucket."""

    def __init__(
        self,
        burst: int = AUTH_FAILURE_BURST,
        interval_s: float = AUTH_FAILURE_INTERVAL_S,
        max_clients: int = AUTH_MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst, self.interval_s, self.max_clients = burst, interval_s, max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def _tokens(self, client: str, now: float) -> float:
        tokens, at = self._buckets.get(client, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - at) / self.interval_s)

    def take(self, client: str) -> float | None:
        """Take a token: None if one was left, else the seconds until the next one."""
        now = self._clock()
        tokens = self._tokens(client, now)
        if tokens < 1:
            return (1 - tokens) * self.interval_s
        self._buckets[client] = (tokens - 1, now)
        self._buckets.move_to_end(client)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return None

    def give_back(self, client: str) -> None:
        now = self._clock()
        self._buckets[client] = (min(float(self.burst), self._tokens(client, now) + 1), now)


class Authenticator:
    """Checks an `Authorization` header against a web config's users and tokens."""

    def __init__(self, limiter: FailureLimiter | None = None) -> None:
        self._right: OrderedDict[bytes, None] = OrderedDict()
        self._wrong: OrderedDict[bytes, None] = OrderedDict()
        self._pending: dict[bytes, asyncio.Future[bool]] = {}
        self._bcrypt_lock = asyncio.Lock()
        self._queued = 0
        self.limiter = limiter or FailureLimiter()
        self._throttle_log = LogThrottle()
        self.bcrypt_runs = 0  # hashes computed, i.e. cache misses (tests)

    async def check(
        self, config: WebConfig, authorization: str | None, client: str = ""
    ) -> AuthResult:
        """Whether the header carries a valid user and password or a valid token; `client`
        (see `client_key`) is whose wrong tries it counts against.

        A credential once found right is never refused for load or for its client's failures
        (it is answered from the cache); a new one waits its turn for bcrypt.
        """
        if authorization is None:
            return DENIED
        scheme, _, credentials = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer" and config.tokens:
            if _token_matches(config.tokens, credentials.strip().encode()):
                return ALLOWED
            return self._throttled(client) or DENIED  # a wrong token costs a try too
        if scheme == "basic" and config.users:
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return DENIED
            user, colon, password = decoded.partition(":")
            if not colon:
                return DENIED
            return await self._password(config, user, password, client)
        return DENIED

    def _throttled(self, client: str) -> AuthResult | None:
        """Take one of `client`'s tries: None if it had one, else the 429 to answer."""
        wait_s = self.limiter.take(client)
        if wait_s is None:
            return None
        return self._refuse(client, wait_s, "failure_limit")

    def _refuse(self, client: str, wait_s: float, reason: str) -> AuthResult:
        suppressed = self._throttle_log.ready(reason)
        if suppressed is not None:
            log.warning("webauth.throttled", reason=reason, client=client, suppressed=suppressed)
        return AuthResult(False, retry_after_s=max(1, math.ceil(wait_s)))

    async def _password(
        self, config: WebConfig, user: str, password: str, client: str
    ) -> AuthResult:
        known = user in config.users
        if known:
            hashed = config.users[user].encode()
        else:
            cost = max(int(h[4:6]) for h in config.users.values())
            hashed = await asyncio.to_thread(_dummy_hash, cost)
        key = hashlib.sha256(b"\0".join((user.encode(), hashed, password.encode()))).digest()
        if key in self._right:
            self._right.move_to_end(key)
            return ALLOWED if known else DENIED
        if key in self._wrong:  # the same stale password again: no bcrypt, no try used
            self._wrong.move_to_end(key)
            return DENIED
        pending = self._pending.get(key)
        if pending is not None:  # the same credential is being checked: share its verdict
            right = await asyncio.shield(pending)
            return ALLOWED if right and known else DENIED
        refused = self._throttled(client)
        if refused is not None:
            return refused
        if self._queued >= MAX_BCRYPT_QUEUE:
            self.limiter.give_back(client)
            return self._refuse(client, 1.0, "bcrypt_queue_full")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        self._queued += 1
        right = False
        try:
            async with self._bcrypt_lock:
                self.bcrypt_runs += 1
                right = await asyncio.to_thread(_checkpw, password.encode(), hashed)
        finally:
            self._queued -= 1
            del self._pending[key]
            future.set_result(right)
        cache = self._right if right else self._wrong
        cache[key] = None
        if len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
        if right:
            self.limiter.give_back(client)
        return ALLOWED if right and known else DENIED

    @staticmethod
    def challenges(config: WebConfig) -> list[str]:
        """`WWW-Authenticate` values for a 401: one per scheme the config accepts."""
        out = []
        if config.users:
            out.append(f'Basic realm="{REALM}", charset="UTF-8"')
        if config.tokens:
            out.append(f'Bearer realm="{REALM}"')
        return out


def _checkpw(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # bcrypt >= 5 refuses passwords over 72 bytes: no hash can match them
        return False


def _token_matches(tokens: tuple[bytes, ...], given: bytes) -> bool:
    """Constant time in the token's content: compare digests, and compare against every one."""
    digest = hashlib.sha256(given).digest()
    found = False
    for token in tokens:
        found |= hmac.compare_digest(hashlib.sha256(token).digest(), digest)
    return found


class TokenBucket:
    """exporter-toolkit's `rate_limit`: one request per `interval_s`, bursts of `burst`."""

    def __init__(self) -> None:
        self._tokens = 0.0
        self._at = time.monotonic()
        self._shape: tuple[float, int] | None = None

    def allow(self, interval_s: float, burst: int) -> bool:
        if interval_s <= 0:
            return True
        now = time.monotonic()
        if self._shape != (interval_s, burst):  # new or changed limit: start full
            self._shape, self._tokens = (interval_s, burst), float(burst)
        else:
            self._tokens = min(float(burst), self._tokens + (now - self._at) / interval_s)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
