"""Membership and shard leases as SQL on the store's PostgreSQL (tables in `pg_schema` v2).

All expiry times come from the database's clock (`now()`, the transaction's start), so replica
clocks never need to agree. `renew` runs the heartbeat and every lease renewal in one
transaction: the member row and its leases then expire at the same instant, and a survivor that
sees the member gone can take its shards in the same round.

A lease's `epoch` is its fencing token: it grows by one at every change of owner and is never
reset, because a released lease is expired in place rather than deleted. Every result write of
a run carries the epoch the run started under (`monitor.store.Fence`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from monitor.errors import CanaryError

# Member rows expired for this long are deleted (they are only kept for operators' eyes).
FORGET_AFTER_S = 3600.0

# Renews our row, or takes it over once expired; a live row of another process with the same
# replica id returns nothing (two processes must never share one replica's leases).
_HEARTBEAT = (
    "INSERT INTO cluster_members (replica, instance, expires_at, heartbeat_at)"
    " VALUES (%(me)s, %(instance)s, now() + make_interval(secs => %(ttl)s), now())"
    " ON CONFLICT (replica) DO UPDATE SET instance = excluded.instance,"
    " expires_at = excluded.expires_at, heartbeat_at = excluded.heartbeat_at"
    " WHERE cluster_members.instance = excluded.instance"
    " OR cluster_members.expires_at <= now()"
    " RETURNING replica"
)
_LIVE = "SELECT replica FROM cluster_members WHERE expires_at > now() ORDER BY replica"
# Members that were live at a given instant (our last renewal before a database outage).
_LIVE_AT = (
    "SELECT replica FROM cluster_members WHERE expires_at > %(since)s"
    " AND replica <> %(me)s ORDER BY replica"
)
_FORGET = "DELETE FROM cluster_members WHERE expires_at < now() - make_interval(secs => %(forget)s)"
# Take each shard whose lease is ours or has expired; renewing keeps `acquired_at` and `epoch`,
# a change of owner bumps `epoch`. RETURNING lists exactly the leases we now hold.
_ACQUIRE = (
    "INSERT INTO shard_leases (shard, owner, expires_at)"
    " SELECT s, %(me)s, now() + make_interval(secs => %(ttl)s) FROM unnest(%(shards)s::text[]) s"
    " ON CONFLICT (shard) DO UPDATE SET"
    " owner = excluded.owner, expires_at = excluded.expires_at,"
    " acquired_at = CASE WHEN shard_leases.owner = excluded.owner"
    "   THEN shard_leases.acquired_at ELSE now() END,"
    " epoch = shard_leases.epoch + CASE WHEN shard_leases.owner = excluded.owner THEN 0 ELSE 1 END"
    " WHERE shard_leases.owner = excluded.owner OR shard_leases.expires_at <= now()"
    " RETURNING shard, epoch, now() AS at"
)
# Released leases stay as rows, expired, so that their epoch keeps counting.
_EXPIRE = (
    "UPDATE shard_leases SET expires_at = now()"
    " WHERE owner = %s AND shard = ANY(%s::text[]) AND expires_at > now()"
)


class ReplicaIdConflict(CanaryError):
    """Another live process heartbeats under this replica id (two pods with one name, or two
    processes on one host without `cluster.replica_id`); this one takes no shard."""


@dataclass(frozen=True, slots=True)
class Renewal:
    """One round's answer: the live members, those presumed live (see `renew`), the epoch
    of every lease held now, and the database's time of the round."""

    live: list[str]
    presumed: list[str]
    epochs: dict[str, int]
    at: datetime | None


async def renew(
    conn: psycopg.AsyncConnection[Any],
    me: str,
    ttl_s: float,
    choose: Callable[[list[str], list[str]], Iterable[str]],
    *,
    instance: str,
    live_since: datetime | None = None,
) -> Renewal:
    """Heartbeat, read the live members, and take or renew the leases of the shards
    `choose(live, presumed)` names (those free, expired or ours). `live_since` (after a
    database outage): the members live at that instant are passed as `presumed`, so that the
    first replica back does not take every shard before the others have reconnected. One
    transaction, so the member row and the leases share one expiry instant.
    Raises `ReplicaIdConflict` if another live process (`instance`) holds the id `me`."""
    params: dict[str, Any] = {
        "me": me,
        "instance": instance,
        "ttl": ttl_s,
        "forget": FORGET_AFTER_S,
        "since": live_since,
    }
    async with conn.transaction():
        cur = await conn.execute(_HEARTBEAT, params)
        if await cur.fetchone() is None:
            raise ReplicaIdConflict(
                f"replica id {me!r} is held by another live process; give each replica its"
                " own cluster.replica_id (or $POD_NAME)"
            )
        await conn.execute(_FORGET, params)
        cur = await conn.execute(_LIVE)
        live = [_first(row) for row in await cur.fetchall()]
        presumed: list[str] = []
        if live_since is not None:
            cur = await conn.execute(_LIVE_AT, params)
            presumed = [_first(row) for row in await cur.fetchall()]
        params["shards"] = sorted(set(choose(live, presumed)))
        epochs: dict[str, int] = {}
        at: datetime | None = None
        if params["shards"]:
            cur = await conn.execute(_ACQUIRE, params)
            for row in await cur.fetchall():
                epochs[str(row["shard"])] = int(row["epoch"])
                at = row["at"]
        if at is None:
            cur = await conn.execute("SELECT now() AS at")
            row = await cur.fetchone()
            at = row["at"] if row else None
    return Renewal(live, presumed, epochs, at)


async def members(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """The live members, by the database's clock."""
    cur = await conn.execute(_LIVE)
    return [_first(row) for row in await cur.fetchall()]


async def release(conn: psycopg.AsyncConnection[Any], me: str, shards: Iterable[str]) -> None:
    """Give up leases at once (after saving their state and ending their runs), so the next
    owner need not wait: they expire now, and keep their epoch for the next owner to bump."""
    names = sorted(set(shards))
    if names:
        await conn.execute(_EXPIRE, (me, names))


async def leave(conn: psycopg.AsyncConnection[Any], me: str, instance: str) -> None:
    """Drop this process's membership and every lease of its replica id (graceful shutdown);
    nothing if the id belongs to another live process."""
    async with conn.transaction():
        cur = await conn.execute(
            "DELETE FROM cluster_members WHERE replica = %s AND instance = %s RETURNING replica",
            (me, instance),
        )
        if await cur.fetchone() is not None:
            await conn.execute(
                "UPDATE shard_leases SET expires_at = now()"
                " WHERE owner = %s AND expires_at > now()",
                (me,),
            )


def _first(row: Any) -> str:
    return str(next(iter(row.values())) if isinstance(row, dict) else row[0])
