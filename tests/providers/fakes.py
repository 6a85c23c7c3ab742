"""Fakes for provider tests: vendor bodies from fixtures/ and a recording MockTransport handler."""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from botocore.credentials import ReadOnlyCredentials
from pydantic import SecretStr

from monitor.config import Target
from monitor.providers.aws_auth import SigV4

FIXTURES = Path(__file__).parent / "fixtures"
API_KEY = "sk-test-0123456789abcdef"


def fixture_bytes(name: str) -> bytes:
    """The raw bytes of `fixtures/<name>.json`, as a vendor would send them."""
    return (FIXTURES / f"{name}.json").read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(fixture_bytes(name))
    return doc


@dataclass
class Endpoint:
    """A MockTransport handler: answers every request with one canned response, keeps requests."""

    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, content=self.body, headers=self.headers)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    @property
    def request(self) -> httpx.Request:
        (only,) = self.requests
        return only

    @property
    def sent_json(self) -> Any:
        return json.loads(self.request.content)


def make_target(
    api: str = "openai_chat", api_key: str | None = API_KEY, **overrides: Any
) -> Target:
    """A Target with an API key; overrides go through validation, `api_key=None` drops the key."""
    fields: dict[str, Any] = {
        "platform": "p",
        "pool": "default",
        "model": "m",
        "api": api,
        "base_url": "http://test/",
        **overrides,
    }
    target = Target(**fields)
    if api_key is None:
        return target
    return target.model_copy(update={"api_key": SecretStr(api_key)})


AWS_ACCESS_KEY_ID = "AKIDEXAMPLECANARY01"
AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYCANARYSECRET"
AWS_SESSION_TOKEN = "FwoGZXIvYXdzECANARYSESSIONTOKEN0123456789"
FIXED_NOW = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)


def aws_credentials(token: str | None = AWS_SESSION_TOKEN) -> ReadOnlyCredentials:
    return ReadOnlyCredentials(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, token)


def static_sigv4(
    region: str = "us-east-1", *, now: datetime = FIXED_NOW, token: str | None = AWS_SESSION_TOKEN
) -> SigV4:
    """A SigV4 signer with fixed fake credentials and a fixed clock."""

    async def credentials() -> ReadOnlyCredentials:
        return aws_credentials(token)

    return SigV4(region, credentials, now=lambda: now)


class StaticBearer(httpx.Auth):
    """Adds a fixed bearer token, standing in for google-auth in unit tests."""

    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request
