"""Results, transcripts and drift state behind one interface.

`open_store(url)` picks the backend from the URL scheme: `sqlite:///path` (one replica, the
default) or `postgresql://...` / `postgres://...` (N replicas sharing one database).
"""

from __future__ import annotations

from monitor.store.base import ResultQuery, Store, StoreError

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_store(
    url: str,
    *,
    retention_passed_days: float = 7.0,
    retention_failed_days: float = 90.0,
    pool_size: int = 4,
) -> Store:
    """A store for `url`; it is lazily initialised on first use."""
    if url.startswith("sqlite:///"):
        from monitor.store.sqlite import SQLiteStore

        return SQLiteStore(
            url.removeprefix("sqlite:///"),
            retention_passed_days=retention_passed_days,
            retention_failed_days=retention_failed_days,
        )
    if url.startswith(POSTGRES_SCHEMES):
        from monitor.store.postgres import PostgresStore

        return PostgresStore(
            url,
            retention_passed_days=retention_passed_days,
            retention_failed_days=retention_failed_days,
            pool_size=pool_size,
        )
    raise ValueError(f"unsupported store url scheme: {url.split(':', 1)[0]}")


__all__ = ["POSTGRES_SCHEMES", "ResultQuery", "Store", "StoreError", "open_store"]
