"""Membership and shard leases as SQL on the store's PostgreSQL (tables in `pg_schema` v2).

All expiry times come from the database's clock (`now()`, the transaction's start), so replica
clocks never need to agree. `renew` runs the heartbeat and every lease renewal in one
transaction: the member row and its leases then expire at the same instant, and a survivor that
sees the member gone can take its shards in the same round.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
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
    " RETURNING shard"
)


class ReplicaIdConflict(CanaryError):
    """Another live process heartbeats under this replica id (two pods with one name, or two
    processes on one host without `cluster.replica_id`); this one takes no shard."""


async def renew(
    conn: psycopg.AsyncConnection[Any],
    me: str,
    ttl_s: float,
    choose: Callable[[list[str]], Iterable[str]],
    *,
    instance: str,
) -> tuple[list[str], set[str]]:
    """Heartbeat, read the live members, and take or renew the leases of the shards
    `choose(live)` names (those free, expired or ours). Returns (live members, shards held
    now). One transaction, so the member row and the leases share one expiry instant.
    Raises `ReplicaIdConflict` if another live process (`instance`) holds the id `me`."""
    params: dict[str, Any] = {
        "me": me,
        "instance": instance,
        "ttl": ttl_s,
        "forget": FORGET_AFTER_S,
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
        params["shards"] = sorted(set(choose(live)))
        held: set[str] = set()
        if params["shards"]:
            cur = await conn.execute(_ACQUIRE, params)
            held = {_first(row) for row in await cur.fetchall()}
    return live, held


async def members(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """The live members, by the database's clock."""
    cur = await conn.execute(_LIVE)
    return [_first(row) for row in await cur.fetchall()]


async def release(conn: psycopg.AsyncConnection[Any], me: str, shards: Iterable[str]) -> None:
    """Give up leases at once (after saving their state), so the next owner need not wait."""
    names = sorted(set(shards))
    if names:
        await conn.execute(
            "DELETE FROM shard_leases WHERE owner = %s AND shard = ANY(%s::text[])", (me, names)
        )


async def leave(conn: psycopg.AsyncConnection[Any], me: str, instance: str) -> None:
    """Drop this process's membership and every lease of its replica id (graceful shutdown);
    nothing if the id belongs to another live process."""
    async with conn.transaction():
        cur = await conn.execute(
            "DELETE FROM cluster_members WHERE replica = %s AND instance = %s RETURNING replica",
            (me, instance),
        )
        if await cur.fetchone() is not None:
            await conn.execute("DELETE FROM shard_leases WHERE owner = %s", (me,))


def _first(row: Any) -> str:
    return str(next(iter(row.values())) if isinstance(row, dict) else row[0])
