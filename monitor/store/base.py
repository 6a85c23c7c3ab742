"""The store interface every backend implements."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from monitor.errors import CanaryError
from monitor.types import Result


class StoreError(CanaryError):
    """The store cannot be opened, read or written: a corrupt file, an unwritable path, a full
    disk, or a database written by a newer schema. The message names the path; the daemon
    treats it as fatal at start-up and as a failed write (logged and counted) afterwards.
    """


class FencedOut(StoreError):
    """A result write was refused by its fence: the shard's lease has moved to another owner
    (or another term) since the run started, so the result is stale and must not be stored,
    counted or fed to drift state."""


@dataclass(frozen=True, slots=True)
class Fence:
    """The lease a probe run started under (cluster mode): its shard, owner and epoch. The
    epoch is the fencing token: it grows on every change of owner, so a write carrying an old
    one is refused even if the same replica holds the shard again."""

    shard: str
    owner: str
    epoch: int


# Set by the cluster job wrapper for the duration of one run; `asyncio` copies it into the
# run's tasks. A store that supports fencing writes a result only while this lease is current.
current_fence: ContextVar[Fence | None] = ContextVar("canary_fence", default=None)


@dataclass(frozen=True, slots=True)
class ResultQuery:
    """Filters for listing results; unset fields match anything. Newest first."""

    platform: str | None = None
    pool: str | None = None
    model: str | None = None
    suite: str | None = None
    probe: str | None = None
    outcome: str | None = None
    detector: str | None = None  # results where this detector failed
    since: float | None = None  # unix seconds, inclusive
    until: float | None = None  # unix seconds, exclusive
    limit: int = 100


class Store(Protocol):
    """Durable results and drift state.

    `write` returns only once the result is committed: an acknowledged result survives
    SIGKILL. Methods are async; backends run blocking I/O off the event loop.
    """

    async def write(self, result: Result) -> None: ...

    async def get(self, result_id: str) -> dict[str, Any] | None:
        """The full record, transcript included, as JSON-ready data; None if unknown."""

    async def query(self, query: ResultQuery) -> list[dict[str, Any]]:
        """Summaries (no transcript) of matching results, newest first."""

    async def count(self) -> int: ...

    async def prune(self, now: float) -> int:
        """Drop results past retention (failures kept longer); returns rows deleted."""

    async def load_state(self, key: str) -> dict[str, Any] | None: ...

    async def save_state(self, key: str, state: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...
