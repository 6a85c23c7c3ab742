"""Rendezvous (highest-random-weight) hashing: which live replica owns a shard.

Every replica computes the same answer from the same member list, with no coordination; when
a member leaves, only its shards move (each to the member with the next-highest weight), and
when one joins it takes about 1/N of the shards from the others.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def weight(shard: str, member: str) -> int:
    digest = hashlib.blake2b(f"{shard}\x00{member}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(shard: str, members: Iterable[str]) -> str | None:
    """The member with the highest weight for `shard` (ties by name); None without members."""
    return max(members, key=lambda m: (weight(shard, m), m), default=None)


def assign(shards: Iterable[str], members: Iterable[str]) -> dict[str, str]:
    """shard -> owner for every shard (empty without members)."""
    live = sorted(set(members))
    if not live:
        return {}
    return {shard: str(owner(shard, live)) for shard in shards}
