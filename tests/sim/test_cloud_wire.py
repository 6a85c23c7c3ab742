"""The simulator's Bedrock and Vertex wire formats: validation, vendor errors and faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from canary_sim import Fault, SimFleet
from monitor.errors import ProviderHTTPError, ProviderProtocolError, ProviderRateLimited
from monitor.types import FinishReason
from tests.sim.cloud import Clock, cloud_fleet
from tests.sim.test_cloud_auth import converse, gemini, signer

GEMINI_PATH = (
    "vertex/gemini/v1/projects/p/locations/us-east5/publishers/google/models/g:generateContent"
)


@pytest.fixture
async def fleet() -> AsyncIterator[SimFleet]:
    async with cloud_fleet(Clock()) as running:
        running.oauth = None  # these tests are about the wire format, not the token
        yield running


async def post(fleet: SimFleet, path: str, body: Any) -> httpx.Response:
    url = fleet.base_url("bedrock", "us-east-1").split("/bedrock/")[0] + "/" + path
    async with httpx.AsyncClient() as client:
        return await client.post(url, json=body)


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        (
            GEMINI_PATH,
            {"contents": [], "x": 1},
            400,
            "Invalid JSON payload received. x: Unknown name",
        ),
        (
            GEMINI_PATH,
            {"contents": [{"role": "system", "parts": [{"text": "hi"}]}]},
            400,
            "Invalid JSON payload received. contents[0].role: expected user or model",
        ),
        (
            GEMINI_PATH,
            {
                "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                "generationConfig": {"frequencyPenaltyX": 1},
            },
            400,
            "Invalid JSON payload received. generationConfig.frequencyPenaltyX: Unknown name",
        ),
    ],
)
async def test_gemini_validation(
    fleet: SimFleet, path: str, body: Any, status: int, message: str
) -> None:
    """Bad generateContent bodies are Google-shaped 400 INVALID_ARGUMENT errors."""
    response = await post(fleet, path, body)
    error = response.json()["error"]
    assert response.status_code == status and error["status"] == "INVALID_ARGUMENT"
    assert error["message"].startswith(message)


async def test_gemini_logprobs_and_length(fleet: SimFleet) -> None:
    """responseLogprobs yields logprobsResult aligned with the text; MAX_TOKENS maps to length."""
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "In two sentences, explain what DNS does."}]}
        ],
        "generationConfig": {"maxOutputTokens": 3, "responseLogprobs": True, "logprobs": 2},
    }
    doc = (await post(fleet, GEMINI_PATH, body)).json()
    candidate = doc["candidates"][0]
    chosen = "".join(c["token"] for c in candidate["logprobsResult"]["chosenCandidates"])
    assert chosen == candidate["content"]["parts"][0]["text"]
    assert candidate["finishReason"] == "MAX_TOKENS" and doc["modelVersion"] == "g"


async def test_converse_rejects_unknown_field_when_unsigned_checks_off(fleet: SimFleet) -> None:
    """A Converse body with an unknown key is a 400 ValidationException (x-amzn-ErrorType)."""
    fleet.aws = None
    response = await post(fleet, "bedrock/us-east-1/model/m/converse", {"messages": [], "foo": 1})
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"].startswith("ValidationException:")
    assert response.json() == {"message": "foo: extraneous key is not permitted"}


@pytest.mark.parametrize(
    ("status", "kind", "prefix"),
    [
        (429, ProviderRateLimited, "HTTP 429: ThrottlingException: "),
        (500, ProviderHTTPError, "HTTP 500: InternalServerException: "),
    ],
)
async def test_injected_bedrock_errors(
    fleet: SimFleet, status: int, kind: type[ProviderHTTPError], prefix: str
) -> None:
    """Injected HTTP errors on a Bedrock pool carry AWS's error type, mapped by the adapter."""
    fleet.set_fault("bedrock", "us-east-1", Fault("http_error", status=status))
    with pytest.raises(ProviderHTTPError) as caught:
        await converse(fleet, signer())
    assert type(caught.value) is kind and str(caught.value).startswith(prefix)


async def test_malformed_vertex_reply(fleet: SimFleet, tmp_path: Path) -> None:
    """A malformed-body fault on a Vertex pool is a protocol error in the adapter."""
    del tmp_path
    fleet.set_fault("vertex", "gemini", Fault("malformed", mode="wrong_shape"))
    with pytest.raises(ProviderProtocolError):
        await gemini(fleet, None, auth=httpx.Auth())


async def test_vertex_anthropic_reply(fleet: SimFleet) -> None:
    """rawPredict answers with an Anthropic Message naming the model from the URL."""
    reply = await gemini(fleet, None, auth=httpx.Auth(), pool="claude")
    assert (reply.model, reply.finish_reason) == ("claude-sonnet-4-5@20250929", FinishReason.STOP)
