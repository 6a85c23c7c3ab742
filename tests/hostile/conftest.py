"""Fixtures for hostile-reply tests: a runner on a real store whose clients speak real sockets."""

from __future__ import annotations

import io
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from monitor.config import Target
from monitor.config.probes import ProbeSuite
from monitor.drift import DriftEngine, SeriesPlan
from monitor.logs import configure_logging
from monitor.metrics import Metrics
from monitor.providers.http import build_client
from monitor.runner import Runner
from monitor.store.sqlite import SQLiteStore
from tests.hostile.cases import CAP_BYTES, DEADLINE_S
from tests.hostile.server import TlsFiles, make_tls_files

API_KEY = "sk-hostile-secret-0123456789"
SUITE = ProbeSuite.model_validate(
    {
        "suite": "hostile",
        "version": 1,
        "probes": [
            {
                "name": "capital",
                "reason": "known answer",
                "prompt": "Capital of France?",
                "expect": {"answer": {"exact": "Paris"}, "finish_reason": ["stop"]},
            }
        ],
    }
)


def hostile_target(api: str, base_url: str, pool: str = "default") -> Target:
    """A target of `api` at `base_url` with a small deadline and size cap, and a fake key."""
    fields: dict[str, Any] = {
        "platform": "hostile",
        "pool": pool,
        "model": "m",
        "api": api,
        "base_url": base_url,
        "timeout_s": DEADLINE_S,
        "max_response_bytes": CAP_BYTES,
        "identity_header": "x-served-by",
    }
    if api.startswith("bedrock_"):
        fields["region"] = "us-east-1"
        return Target(**fields)
    return Target(**fields).model_copy(update={"api_key": SecretStr(API_KEY)})


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake static AWS credentials from the environment, and no shared config files."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDHOSTILETEST0001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hostile/secret/key/0123456789abcdefghij")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


MakeRunner = Callable[..., Runner]


@pytest.fixture
async def make_runner(tmp_path: Path) -> AsyncIterator[MakeRunner]:
    """Runners on a real SQLite store whose clients are `build_client`'s (real sockets)."""
    stores: list[SQLiteStore] = []
    clients: dict[str, httpx.AsyncClient] = {}

    def make(transport: httpx.AsyncBaseTransport | None = None) -> Runner:
        store = SQLiteStore(
            str(tmp_path / "c.db"), retention_passed_days=1, retention_failed_days=2
        )
        stores.append(store)
        drift = DriftEngine(0.002, 0.05, 1.0)

        def client(target: Target) -> httpx.AsyncClient:
            if target.name not in clients:
                clients[target.name] = build_client(target, transport=transport)
            return clients[target.name]

        runner = Runner(
            metrics=Metrics(CollectorRegistry()), store=store, drift=drift, clients=client
        )
        runner.drift.configure(
            [SeriesPlan(("hostile", "default", "m", "hostile", d), 1.0) for d in ("probe_error",)]
        )
        return runner

    yield make
    for c in clients.values():
        await c.aclose()
    for store in stores:
        await store.close()


@pytest.fixture
def log_output(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The daemon's own structlog set-up (JSON lines, as off a TTY) writing to a buffer."""
    saved = structlog.get_config()
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    configure_logging("debug", json=True)
    yield buffer
    structlog.configure(**saved)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))
