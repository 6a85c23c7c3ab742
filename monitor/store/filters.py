"""The WHERE clause of a `ResultQuery`, shared by the SQL backends.

Only the placeholder style (`?` for sqlite3, `%s` for psycopg) and the test for "this
detector failed" (a comma list in SQLite, an array in PostgreSQL) differ between them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.store.base import ResultQuery
from monitor.types import Outcome

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


def outcomes_sql(since: float | None, until: float | None, *, mark: str) -> tuple[str, list[Any]]:
    """The query behind `export_outcomes`: results in [since, until), oldest first."""
    where_sql, params = where(ResultQuery(since=since, until=until), mark=mark, detector_failed="")
    sql = (
        "SELECT started_at, platform, pool, model, suite, suite_version, outcome, checks"
        f" FROM results{where_sql} ORDER BY started_at, id"
    )
    return sql, params


def outcome_lines(row: Mapping[str, Any], checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`canary replay` lines of one stored result: one per check with `passed` and `score`, or
    one `probe_error` line carrying the outcome of a probe that errored."""
    base = {
        "t": row["started_at"],
        "platform": row["platform"],
        "pool": row["pool"],
        "model": row["model"],
        "suite": row["suite"],
        "version": str(row["suite_version"]),
    }
    if row["outcome"] not in (Outcome.PASSED.value, Outcome.FAILED.value):
        return [{**base, "detector": "probe_error", "outcome": row["outcome"]}]
    return [
        {**base, "detector": c["detector"], "passed": bool(c["passed"]), "score": c["score"]}
        for c in checks
    ]
