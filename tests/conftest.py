"""Shared fixtures: the simulated fleet on loopback and configs that point the daemon at it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from canary_sim import AnswerBook, SimBackend, SimFleet, run_fleet
from tests.pg import REQUIRE_ENV, PgServer, find_pg_bin, running_postgres

ROOT = Path(__file__).resolve().parents[1]
PROBES = ROOT / "probes"
BACKENDS = (
    SimBackend("anthropic-api", "default", "anthropic_messages"),
    SimBackend("vllm-prod", "long-context", "openai_chat"),
)


@pytest.fixture
async def fleet() -> AsyncIterator[SimFleet]:
    """The simulated fleet serving two (platform, pool) pairs, one per wire API."""
    async with run_fleet(list(BACKENDS), AnswerBook.from_probe_dir(PROBES), seed=5) as running:
        yield running


WriteConfig = Callable[..., Path]


@pytest.fixture
def write_config(tmp_path: Path, fleet: SimFleet) -> WriteConfig:
    """Writes a daemon config for the fleet into tmp_path and returns its path."""

    def write(
        *,
        interval_s: float = 1,
        port: int = 0,
        extra_targets: str = "",
        name: str = "canary.yaml",
        stream: bool = False,
    ) -> Path:
        targets = "".join(
            f"  - {{platform: {b.platform}, pool: {b.pool}, model: sim, api: {b.api},"
            f" base_url: '{fleet.base_url(b.platform, b.pool)}'}}\n"
            for b in BACKENDS
        )
        path = tmp_path / name
        path.write_text(
            f"server: {{listen_address: 127.0.0.1, port: {port}, drain_timeout_s: 5}}\n"
            f"store: {{url: 'sqlite:///{tmp_path / 'canary.db'}'}}\n"
            f"defaults: {{timeout_s: 5}}\n"
            f"targets:\n{targets}{extra_targets}"
            f"suites:\n  - {{file: '{PROBES / 'core.yaml'}', interval_s: {interval_s},"
            f" stream: {str(stream).lower()}}}\n"
        )
        return path

    return write


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One throwaway PostgreSQL server for the session (tests/pg.py); skipped without the
    binaries unless CANARY_REQUIRE_POSTGRES=1 (CI), where their absence fails."""
    if find_pg_bin() is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but no PostgreSQL under /usr/lib/postgresql/*/bin")
        pytest.skip("PostgreSQL binaries not installed (Debian package `postgresql`)")
    with running_postgres() as server:
        yield server


@pytest.fixture
def pg_dsn(pg_server: PgServer) -> str:
    """The DSN of a new, empty database on the session's server."""
    return pg_server.create_database()
