"""The WHERE clause of a `ResultQuery`, shared by the SQL backends.

Only the placeholder style (`?` for sqlite3, `%s` for psycopg) and the test for "this
detector failed" (a comma list in SQLite, an array in PostgreSQL) differ between them.
"""

from __future__ import annotations

from typing import Any

from monitor.store.base import ResultQuery

EXACT_FILTERS = ("platform", "pool", "model", "suite", "probe", "outcome")


def where(query: ResultQuery, *, mark: str, detector_failed: str) -> tuple[str, list[Any]]:
    """(` WHERE ...` or "", parameters) for `query`'s filters; `detector_failed` is the SQL
    that is true when the detector in its one placeholder failed."""
    clauses: list[str] = []
    params: list[Any] = []
    for name in EXACT_FILTERS:
        value = getattr(query, name)
        if value is not None:
            clauses.append(f"{name} = {mark}")
            params.append(value)
    if query.detector is not None:
        clauses.append(detector_failed)
        params.append(query.detector)
    if query.since is not None:
        clauses.append(f"started_at >= {mark}")
        params.append(query.since)
    if query.until is not None:
        clauses.append(f"started_at < {mark}")
        params.append(query.until)
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params
