"""PostgreSQL DSN checks the config needs at load, without importing the store.

A leaf (psycopg is imported only when a DSN is checked): `monitor.config.model` validates
`store.url` with it, so the config never imports the store.
"""

from __future__ import annotations

import re


def dsn_problem(dsn: str) -> str | None:
    """Why libpq cannot parse `dsn` (an unencoded `%` or `@` in the password, an unclosed
    `[` around an IPv6 host), without echoing any of it; None if it parses."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(dsn)
    except psycopg.Error:
        return (
            "not a valid PostgreSQL URL: percent-encode reserved characters in the user and"
            " password (`%` as %25, `@` as %40, `/` as %2F) and put an IPv6 host in"
            " brackets ([::1])"
        )
    return None


def masked(dsn: str) -> str:
    """`dsn` as written, its password masked (for messages about a DSN that does not parse)."""
    return re.sub(r"^([a-z]+://[^:@/]*:).*@", r"\1********@", dsn)
