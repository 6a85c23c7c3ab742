"""Drift state per shard: the slice of the engine's snapshot that one model owns, saved only
while this replica holds the shard's lease (a fencing check in the same statement), and
restored by the next owner before it probes. The SQL (a fenced save, a load) is
`monitor.store.shard_state`'s; this module cuts and joins the documents.

The engine's snapshot (`monitor/drift/persist.py`) keys series as `platform|pool|model|suite|
detector` and baselines as `model|suite|detector|version`; labels cannot contain `|`, so the
model is a field of every key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from monitor.drift import DriftEngine
from monitor.store.shard_state import KEY_PREFIX, load, save, state_key

__all__ = ["KEY_PREFIX", "load", "restore", "save", "split", "state_key"]


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
