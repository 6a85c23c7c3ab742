"""Results, transcripts and drift state behind one interface.

`open_store(url)` picks the backend from the URL scheme: `sqlite:///path` today; a
PostgreSQL backend for multi-replica deployments plugs in behind the same `Store` protocol.
"""

from __future__ import annotations

from monitor.store.base import ResultQuery, Store, StoreError


def open_store(
    url: str, *, retention_passed_days: float = 7.0, retention_failed_days: float = 90.0
) -> Store:
    """A store for `url`; it is lazily initialised on first use."""
    if url.startswith("sqlite:///"):
        from monitor.store.sqlite import SQLiteStore

        return SQLiteStore(
            url.removeprefix("sqlite:///"),
            retention_passed_days=retention_passed_days,
            retention_failed_days=retention_failed_days,
        )
    raise ValueError(f"unsupported store url scheme: {url.split(':', 1)[0]}")


__all__ = ["ResultQuery", "Store", "StoreError", "open_store"]
