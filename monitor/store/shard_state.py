"""Drift state per shard in PostgreSQL: a save fenced by the shard's lease, and a load.

Each shard's document is written only while this replica holds its lease, checked in the same
statement, so a paused replica that lost its shards cannot overwrite the new owner's state.
`monitor.shard.state` cuts the engine's snapshot into these documents and joins them back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from monitor.store.postgres import PostgresStore, to_jsonb

KEY_PREFIX = "drift/shard/"

# One statement for every shard: each row is written only while this replica holds the
# shard's lease (the fencing check), and RETURNING names the rows written.
_FENCED_SAVE = (
    "INSERT INTO drift_state (key, state, updated_at)"
    " SELECT %(prefix)s || d.shard, d.state, now()"
    " FROM unnest(%(shards)s::text[], %(states)s::jsonb[]) AS d(shard, state)"
    " WHERE EXISTS (SELECT 1 FROM shard_leases l"
    "  WHERE l.shard = d.shard AND l.owner = %(me)s AND l.expires_at > now())"
    " ON CONFLICT (key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at"
    " RETURNING key"
)


def state_key(shard: str) -> str:
    return KEY_PREFIX + shard


async def save(store: PostgresStore, me: str, documents: Mapping[str, dict[str, Any]]) -> list[str]:
    """Save each shard's document if this replica still holds its lease; returns the shards
    refused (lease lost: another replica may own them now, and its state wins)."""
    if not documents:
        return []
    shards = sorted(documents)
    # Encoding 10,000 series takes the better part of a second: not on the event loop.
    states = await asyncio.to_thread(lambda: [to_jsonb(documents[s]) for s in shards])
    params = {"prefix": KEY_PREFIX, "shards": shards, "states": states, "me": me}
    async with store.connection(coordination=True) as conn:
        cur = await conn.execute(_FENCED_SAVE, params)
        saved = {row["key"].removeprefix(KEY_PREFIX) for row in await cur.fetchall()}
    return [s for s in shards if s not in saved]


async def load(store: PostgresStore, shards: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The saved documents of `shards` (missing ones are absent: a new shard starts fresh)."""
    names = sorted(set(shards))
    if not names:
        return {}
    async with store.connection(coordination=True) as conn:
        cur = await conn.execute(
            "SELECT key, state FROM drift_state WHERE key = ANY(%s::text[])",
            ([state_key(s) for s in names],),
        )
        rows = await cur.fetchall()
    return {row["key"].removeprefix(KEY_PREFIX): dict(row["state"]) for row in rows}
