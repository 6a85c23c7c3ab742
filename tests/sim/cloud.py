"""Helpers for cloud-platform sim tests: a settable clock, a fleet with SigV4 and OAuth checks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from canary_sim import AnswerBook, SimBackend, SimFleet, run_fleet
from canary_sim.aws_sigv4 import SigV4Verifier
from canary_sim.cloud import token_uri
from canary_sim.google_oauth import OAuthIssuer
from tests.providers.fakes import AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
from tests.sim.conftest import PROBES

CLOUD_BACKENDS = [
    SimBackend("bedrock", "us-east-1", "bedrock_converse"),
    SimBackend("bedrock", "invoke", "bedrock_invoke", region="us-east-1"),
    SimBackend("vertex", "claude", "vertex_anthropic"),
    SimBackend("vertex", "gemini", "vertex_gemini"),
]
BEDROCK_MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"


@dataclass
class Clock:
    """The simulator's clock: real time plus an offset the test moves, never a sleep."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@asynccontextmanager
async def cloud_fleet(clock: Clock, *, token_lifetime_s: int = 3600) -> AsyncIterator[SimFleet]:
    """A fleet whose Bedrock pools verify SigV4 with the fake key pair and Vertex pools OAuth."""
    aws = SigV4Verifier({AWS_ACCESS_KEY_ID: AWS_SECRET_ACCESS_KEY}, now=clock)
    oauth = OAuthIssuer(now=clock, lifetime_s=token_lifetime_s)
    book = AnswerBook.from_probe_dir(PROBES)
    async with run_fleet(CLOUD_BACKENDS, book, aws=aws, oauth=oauth) as fleet:
        yield fleet


def service_account_file(fleet: SimFleet, path: Path) -> tuple[str, dict[str, Any]]:
    """Write a service-account JSON trusted by the fleet's token endpoint; (path, info)."""
    assert fleet.oauth is not None
    info = fleet.oauth.service_account_info(token_uri(fleet))
    path.write_text(json.dumps(info), encoding="utf-8")
    return str(path), info
