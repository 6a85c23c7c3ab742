"""Results, transcripts and drift state behind one interface.

`open_store(url)` picks the backend from the URL scheme: `sqlite:///path` (one replica, the
default) or `postgresql://...` / `postgres://...` (N replicas sharing one database).
"""

from __future__ import annotations

from monitor.store.base import Fence, FencedOut, ResultQuery, Store, StoreError, current_fence

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_store(
    url: str,
    *,
    retention_passed_days: float = 7.0,
    retention_failed_days: float = 90.0,
    pool_size: int = 4,
    write_deadline_s: float = 30.0,
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
            write_deadline_s=write_deadline_s,
        )
    raise ValueError(f"unsupported store url scheme: {url.split(':', 1)[0]}")


__all__ = [
    "POSTGRES_SCHEMES",
    "Fence",
    "FencedOut",
    "ResultQuery",
    "Store",
    "StoreError",
    "current_fence",
    "open_store",
]
