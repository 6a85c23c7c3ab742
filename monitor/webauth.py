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
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import hmac
import os
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import bcrypt
import structlog

from monitor.errors import ConfigError
from monitor.webconfig import WebConfig, load_web_config

log = structlog.get_logger("canary.webconfig")

CACHE_SIZE = 256
# bcrypt checks waiting for the one running; beyond this a new credential is refused at once
# (401, not cached), so a flood of guesses queues no more than ~1 s of work.
MAX_BCRYPT_QUEUE = 16
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


class Authenticator:
    """Checks an `Authorization` header against a web config's users and tokens."""

    def __init__(self) -> None:
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self._bcrypt_lock = asyncio.Lock()
        self._queued = 0
        self.bcrypt_runs = 0  # hashes computed, i.e. cache misses (tests)

    async def check(self, config: WebConfig, authorization: str | None) -> bool:
        """True when the header carries a valid user and password or a valid token."""
        if authorization is None:
            return False
        scheme, _, credentials = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer" and config.tokens:
            return _token_matches(config.tokens, credentials.strip().encode())
        if scheme == "basic" and config.users:
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            user, colon, password = decoded.partition(":")
            return bool(colon) and await self._password_matches(config, user, password)
        return False

    async def _password_matches(self, config: WebConfig, user: str, password: str) -> bool:
        known = user in config.users
        if known:
            hashed = config.users[user].encode()
        else:
            cost = max(int(h[4:6]) for h in config.users.values())
            hashed = await asyncio.to_thread(_dummy_hash, cost)
        key = hashlib.sha256(b"\0".join((user.encode(), hashed, password.encode()))).digest()
        verdict = self._cache.get(key)
        if verdict is None:
            if self._queued >= MAX_BCRYPT_QUEUE:
                return False
            self._queued += 1
            try:
                async with self._bcrypt_lock:
                    self.bcrypt_runs += 1
                    verdict = await asyncio.to_thread(_checkpw, password.encode(), hashed)
            finally:
                self._queued -= 1
            self._cache[key] = verdict
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return known and verdict

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
