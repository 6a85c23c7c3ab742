"""Fixtures of the cluster tests that need a PostgreSQL server of their own."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.pg import REQUIRE_ENV, PgServer, find_pg_bin, running_postgres


@pytest.fixture(scope="module")
def own_pg() -> Iterator[PgServer]:
    """A server only this module's tests use: they stop and restart it."""
    if find_pg_bin() is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but no PostgreSQL under /usr/lib/postgresql/*/bin")
        pytest.skip("PostgreSQL binaries not installed (Debian package `postgresql`)")
    with running_postgres() as server:
        yield server
