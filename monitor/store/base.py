"""The store interface every backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from monitor.errors import CanaryError
from monitor.types import Result


class StoreError(CanaryError):
    """The store cannot be opened, read or written: a corrupt file, an unwritable path, a full
    disk, or a database written by a newer schema. The message names the path; the daemon
    treats it as fatal at start-up and as a failed write (logged and counted) afterwards.
    """


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
