"""Bedrock and Vertex adapters against the simulated fleet's real SigV4 and OAuth checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from canary_sim import SimFleet
from monitor.errors import ProviderHTTPError
from monitor.providers import bedrock, vertex
from monitor.providers.aws_auth import SigV4
from monitor.providers.http import build_client
from monitor.types import FinishReason, Message, ProbeRequest, Reply
from tests.providers.fakes import (
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN,
    StaticBearer,
    aws_credentials,
    make_target,
)
from tests.sim.cloud import BEDROCK_MODEL, Clock, cloud_fleet, service_account_file
from tests.sim.conftest import CAPITAL

REQUEST = ProbeRequest(messages=(Message("user", CAPITAL),), max_tokens=16, temperature=0.0)
MISMATCH = "HTTP 403: InvalidSignatureException: The request signature we calculated does not match"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def fleet(clock: Clock) -> AsyncIterator[SimFleet]:
    async with cloud_fleet(clock) as running:
        yield running


def signer(
    region: str = "us-east-1",
    *,
    skew: timedelta = timedelta(),
    key: str = AWS_ACCESS_KEY_ID,
    secret: str = AWS_SECRET_ACCESS_KEY,
) -> SigV4:
    """A signer whose clock is real time plus `skew` and whose key pair the test chooses."""

    async def credentials() -> Any:
        return aws_credentials().__class__(key, secret, AWS_SESSION_TOKEN)

    return SigV4(region, credentials, now=lambda: datetime.now(UTC) + skew)


async def converse(
    fleet: SimFleet, auth: httpx.Auth | None, *, invoke: bool = False, region: str = "us-east-1"
) -> Reply:
    pool = "invoke" if invoke else "us-east-1"
    target = make_target(
        api="bedrock_invoke" if invoke else "bedrock_converse",
        api_key=None,
        region=region,
        model_id=BEDROCK_MODEL,
        base_url=fleet.base_url("bedrock", pool),
    )
    spec = bedrock.INVOKE if invoke else bedrock.CONVERSE
    async with build_client(target) as client:
        return await spec.send(client, target, REQUEST, stream=False, auth=auth)


@pytest.mark.parametrize("invoke", [False, True], ids=["converse", "invoke"])
async def test_signed_request_is_answered(fleet: SimFleet, invoke: bool) -> None:
    """A correctly signed request passes verification and the reply parses (model id with `:`)."""
    reply = await converse(fleet, signer(), invoke=invoke)
    assert (reply.text, reply.finish_reason) == ("Paris", FinishReason.STOP)
    assert fleet.aws is not None and fleet.aws.verified == 1


async def test_default_credential_chain(
    fleet: SimFleet, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With no injected signer, botocore's chain (here the environment) signs the request."""
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET_ACCESS_KEY)
    monkeypatch.setattr("monitor.providers.aws_auth._CHAINS", {})
    assert (await converse(fleet, None)).text == "Paris"


@pytest.mark.parametrize(
    ("auth", "region", "message"),
    [
        (signer(secret="wrong" + AWS_SECRET_ACCESS_KEY[5:]), "us-east-1", MISMATCH),
        (
            signer(key="AKIDUNKNOWN000000000"),
            "us-east-1",
            "HTTP 403: UnrecognizedClientException: The security token included in the request is invalid.",
        ),
        (
            signer("us-west-2"),
            "us-west-2",
            "HTTP 403: InvalidSignatureException: Credential should be scoped to a valid region.",
        ),
        (
            signer(skew=timedelta(minutes=-6)),
            "us-east-1",
            "HTTP 403: InvalidSignatureException: Signature expired: ",
        ),
        (
            signer(skew=timedelta(minutes=6)),
            "us-east-1",
            "HTTP 403: InvalidSignatureException: Signature not yet current: ",
        ),
    ],
    ids=["wrong-secret", "unknown-key", "wrong-region", "clock-behind", "clock-ahead"],
)
async def test_bad_signature_is_rejected(
    fleet: SimFleet, auth: SigV4, region: str, message: str
) -> None:
    """A wrong key, region or a clock skew beyond 5 minutes is AWS's 403, an HTTP error."""
    with pytest.raises(ProviderHTTPError) as caught:
        await converse(fleet, auth, region=region)
    assert caught.value.status_code == 403 and str(caught.value).startswith(message)
    assert type(caught.value) is ProviderHTTPError


async def test_skew_within_tolerance_passes(fleet: SimFleet) -> None:
    """A signer four minutes behind is still inside the 5-minute window."""
    assert (await converse(fleet, signer(skew=timedelta(minutes=-4)))).text == "Paris"


async def test_body_tampering_is_rejected(fleet: SimFleet) -> None:
    """The signature covers the body: changing it after signing fails verification."""

    class Tamper(httpx.Auth):
        requires_request_body = True

        async def async_auth_flow(self, request: httpx.Request) -> Any:
            flow = signer().async_auth_flow(request)
            signed = await flow.__anext__()
            signed.headers["X-Canary-Affinity"] = "changed-after-signing"
            yield signed

    with pytest.raises(ProviderHTTPError) as caught:
        await converse(fleet, Tamper())
    assert str(caught.value).startswith(MISMATCH)


async def gemini(
    fleet: SimFleet,
    credentials_file: str | None,
    auth: httpx.Auth | None = None,
    pool: str = "gemini",
) -> Reply:
    target = make_target(
        api="vertex_gemini" if pool == "gemini" else "vertex_anthropic",
        api_key=None,
        project="sim-project",
        location="us-east5",
        credentials_file=credentials_file,
        model_id="gemini-2.0-flash-001" if pool == "gemini" else "claude-sonnet-4-5@20250929",
        base_url=fleet.base_url("vertex", pool),
    )
    spec = vertex.GEMINI if pool == "gemini" else vertex.ANTHROPIC
    async with build_client(target) as client:
        return await spec.send(client, target, REQUEST, stream=False, auth=auth)


@pytest.mark.parametrize("pool", ["gemini", "claude"])
async def test_service_account_token(fleet: SimFleet, tmp_path: Path, pool: str) -> None:
    """google-auth trades a signed JWT at the local token endpoint; the token is then reused."""
    path, _info = service_account_file(fleet, tmp_path / "sa.json")
    first = await gemini(fleet, path, pool=pool)
    await gemini(fleet, path, pool=pool)
    assert (first.text, first.finish_reason) == ("Paris", FinishReason.STOP)
    assert fleet.oauth is not None and fleet.oauth.issued == 1


async def test_expired_token_is_rejected(fleet: SimFleet, clock: Clock, tmp_path: Path) -> None:
    """A token the platform considers expired (its clock moved 2 h) is a 401 HTTP error."""
    path, _info = service_account_file(fleet, tmp_path / "sa.json")
    await gemini(fleet, path)
    clock.offset = timedelta(hours=2)
    with pytest.raises(ProviderHTTPError) as caught:
        await gemini(fleet, path)
    assert caught.value.status_code == 401
    assert str(caught.value).startswith("HTTP 401: Request had invalid authentication credentials")


async def test_short_lived_token_is_refreshed(tmp_path: Path) -> None:
    """A token inside google-auth's refresh margin is refreshed before each request."""
    async with cloud_fleet(Clock(), token_lifetime_s=60) as fleet:
        path, _info = service_account_file(fleet, tmp_path / "sa.json")
        await gemini(fleet, path)
        await gemini(fleet, path)
        assert fleet.oauth is not None and fleet.oauth.issued == 2


async def test_unknown_token_is_rejected(fleet: SimFleet) -> None:
    """A bearer token the endpoint never issued is a 401."""
    with pytest.raises(ProviderHTTPError) as caught:
        await gemini(fleet, None, auth=StaticBearer("ya29.forged"))
    assert caught.value.status_code == 401


async def test_untrusted_service_account(fleet: SimFleet, tmp_path: Path) -> None:
    """A key the token endpoint does not know fails the JWT check: a credentials error."""
    async with cloud_fleet(Clock()) as other:
        path, info = service_account_file(other, tmp_path / "sa.json")
    info["token_uri"] = fleet.base_url("vertex", "gemini").split("/vertex/")[0] + "/oauth2/token"
    (tmp_path / "sa.json").write_text(__import__("json").dumps(info))
    with pytest.raises(ProviderHTTPError) as caught:
        await gemini(fleet, path)
    assert str(caught.value) == "Google credentials unavailable: RefreshError"
