"""Scale-out: N replicas share the models to probe, coordinated through PostgreSQL.

A shard is one model: every platform and pool of a model stays on one replica, so the pooled
baselines and the cross-platform divergence test never need another replica's data. Each
replica heartbeats a membership lease (`leases`); shards are assigned to the live members by
rendezvous hashing (`hashing`); a replica probes a shard only while it holds that shard's lease,
renewed in the same transaction as its heartbeat and checked against a local deadline before
every run, so no shard is probed by two replicas for longer than one lease period. A dead
replica's leases expire after `lease_ttl_s`; the survivors take its shards at their next
heartbeat and resume from the drift state it saved per shard (`state`). `coordinator` runs the
loop; the daemon only learns which shards it holds.
"""

from __future__ import annotations

from monitor.shard.coordinator import Coordinator, replica_id
from monitor.shard.hashing import assign, owner

__all__ = ["Coordinator", "assign", "owner", "replica_id"]
