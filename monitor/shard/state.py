"""Drift state per shard: the slice of the engine's snapshot that one model owns, saved only
while this replica holds the shard's lease (a fencing check in the same statement), and
restored by the next owner before it probes.

The engine's snapshot (`monitor/drift/persist.py`) keys series as `platform|pool|model|suite|
detector` and baselines as `model|suite|detector|version`; labels cannot contain `|`, so the
model is a field of every key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from monitor.drift import DriftEngine
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


def split(snapshot: Mapping[str, Any], shards: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The snapshot cut into one document per shard (model) in `shards`."""
    out: dict[str, dict[str, Any]] = {
        shard: {
            "format": snapshot.get("format"),
            "hour": snapshot.get("hour"),
            "baselines": {},
            "scores": {},
            "series": {},
        }
        for shard in shards
    }
    for section, field in (("baselines", 0), ("scores", 0), ("series", 2)):
        for key, value in (snapshot.get(section) or {}).items():
            part = out.get(key.split("|")[field])
            if part is not None:
                part[section][key] = value
    return out


def restore(engine: DriftEngine, documents: Iterable[Mapping[str, Any]]) -> None:
    """Resume shards' series in a running engine, all in one `restore` (each one redesigns
    every series). The engine's own clock (hour) wins: a shard saved an hour ago must not roll
    every other series' baselines back and forth."""
    merged: dict[str, Any] = {"baselines": {}, "scores": {}, "series": {}}
    for document in documents:
        merged.setdefault("format", document.get("format"))
        merged.setdefault("hour", document.get("hour"))
        for section in ("baselines", "scores", "series"):
            merged[section].update(document.get(section) or {})
    if "format" not in merged:
        return
    if engine.hour is not None:
        merged["hour"] = engine.hour
    engine.restore(merged)


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
