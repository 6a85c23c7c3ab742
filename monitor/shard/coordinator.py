"""The heartbeat loop: renew leases, decide which shards this replica should hold, hand over.

One round every `heartbeat_s`:

1. in one transaction: heartbeat, read the live members, renew or take the leases of the
   shards rendezvous hashing gives this replica (plus those it still holds, so their state can
   be saved under the lease before they go);
2. tell the daemon the shards it holds from now on (`on_change`): it saves the state of the
   shards it gives up, loads the state of those it gains, and adds or removes their jobs;
3. release the leases it gave up, so their new owner takes them next round, not at expiry.

`may_probe(shard)` is checked before every probe run: a replica cut off from the database
stops probing when its last renewal's lease runs out by its own monotonic clock (measured from
before the renewal was sent, so never later than the database's expiry), before anyone else
may take the shard.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog

from monitor.config import ClusterConfig
from monitor.shard import leases
from monitor.shard.hashing import assign
from monitor.store.postgres import PostgresStore

log = structlog.get_logger("canary.shard")

OnChange = Callable[[frozenset[str]], Awaitable[None]]


def replica_id(config: ClusterConfig) -> str:
    """The configured id, else $POD_NAME (the Kubernetes downward API), else the host name."""
    return config.replica_id or os.environ.get("POD_NAME") or socket.gethostname()


class Coordinator:
    """Holds this replica's shard leases; `held` is what it may probe."""

    def __init__(
        self,
        store: PostgresStore,
        me: str,
        config: ClusterConfig,
        shards: Callable[[], set[str]],
        on_change: OnChange,
        *,
        on_error: Callable[[BaseException], None] | None = None,
        after_round: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.me = me
        self.config = config
        self.shards = shards
        self.on_change = on_change
        self.on_error = on_error
        self.after_round = after_round
        self.held: frozenset[str] = frozenset()
        self.members: list[str] = []
        self.deadline = 0.0  # monotonic: the held leases are ours until then
        self.rounds = 0
        self.instance = uuid.uuid4().hex  # this process, as opposed to another with our id
        self._task: asyncio.Task[None] | None = None

    def may_probe(self, shard: str) -> bool:
        return shard in self.held and time.monotonic() < self.deadline

    async def step(self) -> None:
        """One round (see the module docstring). Errors propagate after the local deadline
        has been enforced."""
        sent = time.monotonic()
        wanted: set[str] = set()

        def choose(live: list[str]) -> set[str]:
            owners = assign(self.shards(), live)
            wanted.update(s for s, m in owners.items() if m == self.me)
            return wanted | self.held  # still held: renewed so their state can be saved

        try:
            async with self.store.connection(coordination=True) as conn:
                live, renewed = await leases.renew(
                    conn, self.me, self.config.lease_ttl_s, choose, instance=self.instance
                )
        except Exception:
            if self.held and time.monotonic() >= self.deadline:
                log.warning("shard.leases_expired", shards=len(self.held))
                await self._set(frozenset())
            raise
        self.deadline = sent + self.config.lease_ttl_s
        self.members = live
        self.rounds += 1
        keep = frozenset(renewed & wanted)
        give_up = (self.held & renewed) - wanted
        lost = self.held - renewed  # taken while we were away: its new owner's state wins
        if lost:
            log.warning("shard.leases_lost", shards=sorted(lost))
        if keep != self.held:
            await self._set(keep)
        if give_up:
            async with self.store.connection(coordination=True) as conn:
                await leases.release(conn, self.me, give_up)
        if self.after_round is not None:
            self.after_round()

    async def _set(self, held: frozenset[str]) -> None:
        gained, dropped = held - self.held, self.held - held
        await self.on_change(held)
        self.held = held
        if gained or dropped:
            log.info(
                "shard.changed", held=len(held), gained=sorted(gained), dropped=sorted(dropped)
            )

    async def run(self) -> None:
        """Rounds every `heartbeat_s` until cancelled; a failed round is logged and retried."""
        while True:
            started = time.monotonic()
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.on_error is not None:
                    self.on_error(exc)
                log.error("shard.heartbeat_failed", error_type=type(exc).__name__, error=str(exc))
            elapsed = time.monotonic() - started
            await asyncio.sleep(max(0.0, self.config.heartbeat_s - elapsed))

    def start(self) -> None:
        self._task = asyncio.ensure_future(self.run())

    async def stop(self) -> None:
        """Stop the loop (the leases stay until `leave` or their expiry)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def leave(self) -> None:
        """Hand every lease back and drop the membership, so the others take over at their
        next heartbeat instead of at expiry (graceful shutdown, after the state is saved)."""
        self.held = frozenset()
        self.deadline = 0.0
        async with self.store.connection(coordination=True) as conn:
            await leases.leave(conn, self.me, self.instance)
