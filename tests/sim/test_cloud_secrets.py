"""Known fake cloud secrets never reach logs, metrics, stored transcripts or error messages."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
import structlog
from prometheus_client import CollectorRegistry, generate_latest

from monitor.config import Target
from monitor.config.probes import ProbeSuite
from monitor.drift import DriftEngine
from monitor.metrics import Metrics
from monitor.providers.http import build_client
from monitor.runner import Runner
from monitor.store.sqlite import SQLiteStore
from monitor.types import Outcome, Result
from tests.providers.fakes import AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
from tests.sim.cloud import BEDROCK_MODEL, Clock, cloud_fleet, service_account_file
from tests.sim.conftest import CAPITAL

SUITE = ProbeSuite.model_validate(
    {
        "suite": "core",
        "version": 1,
        "probes": [
            {
                "name": "capital",
                "reason": "top-token integrity",
                "prompt": CAPITAL,
                "expect": {"answer": {"exact": "Paris"}},
            }
        ],
    }
)


def read_store(directory: Path) -> bytes:
    """The SQLite database and its WAL, as bytes: whatever a transcript reader could see."""
    return b"".join(p.read_bytes() for p in sorted(directory.glob("c.db*")))


async def test_no_secret_leaks_after_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Passing and failing runs on Bedrock and Vertex leave no credential in any output."""
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", AWS_SESSION_TOKEN)
    monkeypatch.setattr("monitor.providers.aws_auth._CHAINS", {})
    caplog.set_level(logging.DEBUG)  # botocore, urllib3 and google-auth log at DEBUG
    clock = Clock()
    store = SQLiteStore(str(tmp_path / "c.db"), retention_passed_days=1, retention_failed_days=2)
    registry = CollectorRegistry()
    results: list[Result] = []
    async with cloud_fleet(clock) as fleet:
        sa_path, info = service_account_file(fleet, tmp_path / "sa.json")
        targets = [
            Target(
                platform="bedrock",
                api="bedrock_converse",
                region="us-east-1",
                model_id=BEDROCK_MODEL,
                base_url=fleet.base_url("bedrock", "us-east-1"),
                model="m",
            ),
            Target(
                platform="bedrock-wrong-region",
                api="bedrock_converse",
                region="eu-west-1",
                model_id=BEDROCK_MODEL,
                base_url=fleet.base_url("bedrock", "us-east-1"),
                model="m",
            ),
            Target(
                platform="vertex",
                api="vertex_gemini",
                project="sim-project",
                location="us-east5",
                credentials_file=sa_path,
                base_url=fleet.base_url("vertex", "gemini"),
                model="m",
            ),
        ]
        clients = {t.name: build_client(t) for t in targets}
        runner = Runner(
            metrics=Metrics(registry),
            store=store,
            drift=DriftEngine(0.002, 0.05, 1.0),
            clients=lambda t: clients[t.name],
        )
        with structlog.testing.capture_logs() as logs:
            for target in targets:
                results += await runner.run_suite(target, SUITE)
            clock.offset = timedelta(hours=2)  # the Vertex token is now expired: a 401
            results += await runner.run_suite(targets[2], SUITE)
        for client in clients.values():
            await client.aclose()
        assert fleet.oauth is not None
        tokens = list(fleet.oauth.tokens)
    await store.close()
    assert [r.outcome for r in results] == [
        Outcome.PASSED,
        Outcome.HTTP_ERROR,
        Outcome.PASSED,
        Outcome.HTTP_ERROR,
    ]
    key_body = info["private_key"].splitlines()[1]
    secrets = [AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, key_body, info["private_key_id"], *tokens]
    stored = read_store(tmp_path)
    haystacks = {
        "logs": repr(logs) + caplog.text,
        "metrics": generate_latest(registry).decode(),
        "store": stored.decode("utf-8", errors="replace"),
        "errors": repr([(r.error, r.reply) for r in results]),
    }
    assert "Credential should be scoped to a valid region" in haystacks["store"]
    assert "Paris" in haystacks["store"] and tokens
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"a secret leaked into {where}"
