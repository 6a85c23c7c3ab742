"""The heartbeat loop: renew leases, decide which shards this replica should hold, hand over.

One round every `heartbeat_s`:

1. in one transaction: heartbeat, read the live members, renew or take the leases of the
   shards rendezvous hashing gives this replica (plus those it still holds, so their state can
   be saved under the lease before they go);
2. tell the daemon the shards it holds from now on (`on_change`): it saves the state of the
   shards it gives up, loads the state of those it gains, and adds or removes their jobs;
3. release the leases it gave up, so their new owner takes them next round, not at expiry
   (the daemon has ended or cancelled their runs in step 2, so no two replicas' requests
   overlap at the hand-over).

`may_probe(shard)` is checked before every probe run: a replica cut off from the database
stops probing when its last renewal's lease runs out by its own monotonic clock (measured from
before the renewal was sent, so never later than the database's expiry), before anyone else
may take the shard. The set it answers from is replaced as soon as a renewal returns, before
anything else is awaited, so it never says yes for a shard that round lost. `fence(shard)`
gives a run its fencing token (the lease's epoch), which every result write of the run carries.

After a round that failed (the database restarted or was unreachable), the members that were
live at this replica's last renewal are presumed live for one lease period: shards are
assigned over them too, so the first replica back takes its own shards, not every expired
lease; a member that does not come back within that period is then treated as dead.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog

from monitor.config import ClusterConfig
from monitor.shard.hashing import assign
from monitor.store import leases
from monitor.store.base import Fence
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
        self.held: frozenset[str] = frozenset()  # as the daemon has applied it
        self.allowed: frozenset[str] = frozenset()  # may be probed (with `deadline`)
        self.epochs: dict[str, int] = {}  # fencing token of each allowed shard
        self.members: list[str] = []
        self.deadline = 0.0  # monotonic: the held leases are ours until then
        self._failed = False  # the last round failed: the next one starts a recovery
        self._contact_at: datetime | None = None  # database time of the last renewal
        self._presume: tuple[datetime, float] | None = None  # (live at, until monotonic)
        self.rounds = 0
        self.instance = uuid.uuid4().hex  # this process, as opposed to another with our id
        self._task: asyncio.Task[None] | None = None

    def may_probe(self, shard: str) -> bool:
        return shard in self.allowed and time.monotonic() < self.deadline

    def fence(self, shard: str) -> Fence | None:
        """The token a run of `shard` starting now carries; None if it may not run."""
        if not self.may_probe(shard):
            return None
        return Fence(shard, self.me, self.epochs[shard])

    async def step(self) -> None:
        """One round (see the module docstring). Errors propagate after the local deadline
        has been enforced."""
        sent = time.monotonic()
        wanted: set[str] = set()
        if self._failed and self._contact_at is not None and self._presume is None:
            self._presume = (self._contact_at, sent + self.config.lease_ttl_s)
        if self._presume is not None and sent >= self._presume[1]:
            self._presume = None
        since = None if self._presume is None else self._presume[0]

        def choose(live: list[str], presumed: list[str]) -> set[str]:
            owners = assign(self.shards(), {*live, *presumed})
            wanted.update(s for s, m in owners.items() if m == self.me)
            return wanted | self.held  # still held: renewed so their state can be saved

        try:
            async with self.store.connection(coordination=True) as conn:
                renewal = await leases.renew(
                    conn,
                    self.me,
                    self.config.lease_ttl_s,
                    choose,
                    instance=self.instance,
                    live_since=since,
                )
        except Exception:
            self._failed = True
            if self.held and time.monotonic() >= self.deadline:
                log.warning("shard.leases_expired", shards=len(self.held))
                self.allowed = frozenset()
                await self._set(frozenset())
            raise
        renewed = set(renewal.epochs)
        keep = frozenset(renewed & wanted)
        # Before anything is awaited: a shard this round lost is never probed again.
        self.allowed = keep
        self.epochs = {s: renewal.epochs[s] for s in keep}
        self.deadline = sent + self.config.lease_ttl_s
        self._failed = False
        self._contact_at = renewal.at
        self.members = renewal.live
        self.rounds += 1
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
        """Tell the daemon (which ends the runs of the shards leaving before it returns)."""
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
        self.held = self.allowed = frozenset()
        self.deadline = 0.0
        async with self.store.connection(coordination=True) as conn:
            await leases.leave(conn, self.me, self.instance)
