"""One httpx client per target, for the daemon's life: built on first use, rebuilt when the
target changes or after a timeout, and closed only once no probe can still be using it.

A timed-out request can leave its connection half-read (httpcore#1093), so the next probe gets
a fresh client; the old one is kept for `timeout_s` (the longest a probe in flight on it can
still run) and then closed by `close_retired`, which the daemon's maintenance calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import httpx

from monitor.config import Target
from monitor.providers.http import build_client, keepalive_for


class ClientPool:
    """The clients of the configured targets; `interval_s(target)` is the longest interval of
    the target's suites, which its idle connections outlive (so runs reuse them)."""

    def __init__(self, interval_s: Callable[[Target], float]) -> None:
        self._interval_s = interval_s
        self._clients: dict[str, tuple[Target, httpx.AsyncClient]] = {}
        self._closing: dict[httpx.AsyncClient, float] = {}  # client -> close after (monotonic)

    def __call__(self, target: Target) -> httpx.AsyncClient:
        """The target's client, built now if it has none or its config changed."""
        entry = self._clients.get(target.name)
        if entry is None or entry[0] != target:
            client = build_client(target, keepalive_s=keepalive_for(self._interval_s(target)))
            entry = self._clients[target.name] = (target, client)
        return entry[1]

    def retire(self, target: Target) -> None:
        """Drop the target's client (after a timeout); the next probe builds a fresh one."""
        entry = self._clients.pop(target.name, None)
        if entry is not None:
            self._closing[entry[1]] = time.monotonic() + target.timeout_s

    def keep_only(self, targets: Iterable[Target]) -> None:
        """Retire the clients of targets that left the config or changed (a reload)."""
        current = {t.name: t for t in targets}
        for name, (target, _) in list(self._clients.items()):
            if current.get(name) != target:
                self.retire(target)

    async def close_retired(self, *, everything: bool = False) -> None:
        """Close retired clients once no probe can still be using them (all of them on stop)."""
        now = time.monotonic()
        for client, after in list(self._closing.items()):
            if everything or now >= after:
                del self._closing[client]
                await client.aclose()

    async def close(self) -> None:
        """Close every client, retired or not (the daemon is stopping)."""
        await self.close_retired(everything=True)
        for _, client in self._clients.values():
            await client.aclose()
        self._clients.clear()
