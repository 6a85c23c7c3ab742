"""Google Vertex AI: rawPredict (Anthropic) and generateContent (Gemini) bodies, replies, errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import (
    ProviderError,
    ProviderHTTPError,
    ProviderProtocolError,
    ProviderRateLimited,
)
from monitor.providers import WIRE_SPECS, vertex
from monitor.providers.google_auth import TokenSource
from monitor.providers.http import build_client
from monitor.types import FinishReason, Message, ProbeRequest, Reply, TokenLogprob
from tests.providers.fakes import Endpoint, StaticBearer, fixture_bytes, fixture_json, make_target

TOKEN = "ya29.test-canary-token"
QUESTION = Message("user", "What is the capital of France?")
PLAIN = ProbeRequest(messages=(QUESTION,), max_tokens=16, temperature=0.0, affinity_key="aff-1")
PREFIX = "/v1/projects/proj-1/locations/us-east5/publishers"


async def complete(
    endpoint: Endpoint, request: ProbeRequest = PLAIN, *, gemini: bool = True, **target: Any
) -> Reply:
    tgt = make_target(
        api="vertex_gemini" if gemini else "vertex_anthropic",
        api_key=None,
        **{
            "project": "proj-1",
            "location": "us-east5",
            "base_url": "https://vertex.test/",
            **target,
        },
    )
    spec = vertex.GEMINI if gemini else vertex.ANTHROPIC
    async with build_client(tgt, transport=endpoint.transport) as client:
        return await spec.send(client, tgt, request, stream=False, auth=StaticBearer(TOKEN))


def test_registered_and_default_base_url() -> None:
    """Both APIs are registered; a target without base_url gets the regional endpoint."""
    assert WIRE_SPECS["vertex_anthropic"] is vertex.ANTHROPIC
    assert WIRE_SPECS["vertex_gemini"] is vertex.GEMINI
    target = make_target(api="vertex_gemini", base_url=None, project="p", location="europe-west1")
    assert target.base_url == "https://europe-west1-aiplatform.googleapis.com/"


async def test_raw_predict_request() -> None:
    """rawPredict: the Anthropic body with Vertex's version and no model, and a bearer token."""
    endpoint = Endpoint(body=fixture_bytes("anthropic_message"))
    reply = await complete(
        endpoint,
        replace(PLAIN, system="One word."),
        gemini=False,
        model_id="claude-sonnet-4-5@20250929",
    )
    sent = endpoint.request
    assert sent.url.path == f"{PREFIX}/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert endpoint.sent_json == {
        "anthropic_version": "vertex-2023-10-16",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "temperature": 0.0,
        "system": "One word.",
    }
    assert reply.text == "Paris."


async def test_generate_content_request() -> None:
    """generateContent: assistant turns are `model`, system is systemInstruction, all options sent."""
    endpoint = Endpoint(body=fixture_bytes("vertex_gemini"))
    request = replace(
        PLAIN,
        messages=(QUESTION, Message("assistant", "Paris."), Message("user", "Sure?")),
        system="One word.",
        top_p=0.5,
        seed=7,
        stop=("END",),
        top_logprobs=2,
        json_mode=True,
    )
    await complete(endpoint, request, model_id="gemini-2.0-flash-001")
    assert (
        endpoint.request.url.path == f"{PREFIX}/google/models/gemini-2.0-flash-001:generateContent"
    )
    assert endpoint.sent_json == {
        "contents": [
            {"role": "user", "parts": [{"text": "What is the capital of France?"}]},
            {"role": "model", "parts": [{"text": "Paris."}]},
            {"role": "user", "parts": [{"text": "Sure?"}]},
        ],
        "generationConfig": {
            "maxOutputTokens": 16,
            "temperature": 0.0,
            "topP": 0.5,
            "seed": 7,
            "stopSequences": ["END"],
            "responseLogprobs": True,
            "logprobs": 2,
            "responseMimeType": "application/json",
        },
        "systemInstruction": {"parts": [{"text": "One word."}]},
    }


async def test_parse_gemini() -> None:
    """Parts are joined; finishReason, usageMetadata, modelVersion and logprobs are read."""
    reply = await complete(Endpoint(body=fixture_bytes("vertex_gemini")))
    assert replace(reply, latency_s=0.0, raw_body="") == Reply(
        text="Paris.",
        finish_reason=FinishReason.STOP,
        raw_finish_reason="STOP",
        model="gemini-2.0-flash-001",
        response_id="q5wTaPmLBqOSmecP0d2xmAs",
        input_tokens=9,
        output_tokens=2,
        logprobs=(
            TokenLogprob("Paris", -0.01, (("Paris", -0.01), ("paris", -4.6))),
            TokenLogprob(".", -0.02, ((".", -0.02),)),
        ),
    )


async def test_blocked_prompt_is_filtered_reply() -> None:
    """A prompt blocked before generation is an empty content-filtered reply, not an error."""
    reply = await complete(Endpoint(body=fixture_bytes("vertex_gemini_blocked")))
    assert (reply.text, reply.finish_reason, reply.raw_finish_reason) == (
        "",
        FinishReason.CONTENT_FILTER,
        "PROHIBITED_CONTENT",
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("MAX_TOKENS", FinishReason.LENGTH),
        ("SAFETY", FinishReason.CONTENT_FILTER),
        ("RECITATION", FinishReason.CONTENT_FILTER),
        ("FINISH_REASON_UNSPECIFIED", FinishReason.OTHER),
    ],
)
async def test_finish_reason_mapping(raw: str, expected: FinishReason) -> None:
    """Gemini finish reasons map onto the shared vocabulary."""
    doc = fixture_json("vertex_gemini")
    doc["candidates"][0]["finishReason"] = raw
    assert (await complete(Endpoint(body=json.dumps(doc).encode()))).finish_reason == expected


def gemini(**fields: Any) -> bytes:
    return json.dumps({**fixture_json("vertex_gemini"), **fields}).encode()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[]", "body is a JSON array, not an object"),
        (gemini(candidates=None), "candidates is missing"),
        (gemini(candidates=["Paris"]), "candidates[0] is not an object"),
        (
            gemini(candidates=[{"content": {"parts": [{"text": 1}]}}]),
            "candidates[0].content.parts[0].text is not a string",
        ),
        (
            gemini(candidates=[{"content": {}, "logprobsResult": {}}]),
            "candidates[0].logprobsResult.chosenCandidates is missing",
        ),
        (
            gemini(usageMetadata={"promptTokenCount": "9"}),
            "usageMetadata.promptTokenCount is not an integer",
        ),
        (fixture_bytes("vertex_error_500"), "error body on a 2xx: Internal error encountered."),
    ],
)
async def test_malformed_reply(raw: bytes, message: str) -> None:
    """A 2xx body of the wrong shape is a protocol error naming the first bad field."""
    with pytest.raises(ProviderProtocolError) as caught:
        await complete(Endpoint(body=raw))
    assert str(caught.value) == message


@pytest.mark.parametrize("gemini_", [True, False])
@pytest.mark.parametrize(
    ("status", "fixture", "kind", "message"),
    [
        (
            429,
            "vertex_error_429",
            ProviderRateLimited,
            "HTTP 429: Resource exhausted. Please try again later.",
        ),
        (400, "vertex_error_400", ProviderHTTPError, "HTTP 400: Unable to submit request"),
        (500, "vertex_error_500", ProviderHTTPError, "HTTP 500: Internal error encountered."),
    ],
)
async def test_vendor_errors(
    gemini_: bool, status: int, fixture: str, kind: type[ProviderError], message: str
) -> None:
    """RESOURCE_EXHAUSTED (429) is throttling on both APIs; other statuses are HTTP errors."""
    with pytest.raises(ProviderError) as caught:
        await complete(Endpoint(status, fixture_bytes(fixture)), gemini=gemini_)
    assert type(caught.value) is kind and str(caught.value).startswith(message)


async def test_missing_service_account_file(tmp_path: Path) -> None:
    """An unreadable credentials file is an HTTP error naming only the exception type."""
    with pytest.raises(ProviderHTTPError) as caught:
        await TokenSource(str(tmp_path / "missing.json"))()
    assert str(caught.value) == "Google credentials unavailable: FileNotFoundError"
