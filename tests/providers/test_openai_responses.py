"""OpenAI Responses API and Azure-style deployments: requests, replies and errors."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import openai.types.responses
import pytest

from monitor.errors import (
    ProviderError,
    ProviderHTTPError,
    ProviderProtocolError,
    ProviderRateLimited,
)
from monitor.providers import WIRE_SPECS, azure_openai, openai_responses
from monitor.providers.http import build_client
from monitor.types import FinishReason, Message, ProbeRequest, Reply, TokenLogprob
from tests.providers.fakes import API_KEY, Endpoint, fixture_bytes, fixture_json, make_target

QUESTION = Message("user", "What is the capital of France?")
PLAIN = ProbeRequest(messages=(QUESTION,), max_tokens=16, temperature=0.0, affinity_key="aff-1")


async def responses(endpoint: Endpoint, request: ProbeRequest = PLAIN) -> Reply:
    tgt = make_target(api="openai_responses", base_url="https://api.openai.test/v1")
    async with build_client(tgt, transport=endpoint.transport) as client:
        return await openai_responses.SPEC.send(client, tgt, request, stream=False)


async def azure(endpoint: Endpoint, request: ProbeRequest = PLAIN, **target: Any) -> Reply:
    tgt = make_target(api="azure_openai_chat", base_url="https://res.openai.azure.test/", **target)
    async with build_client(tgt, transport=endpoint.transport) as client:
        return await azure_openai.SPEC.send(client, tgt, request, stream=False)


def test_registered() -> None:
    """Both modules are in the registry under their api names."""
    assert WIRE_SPECS["openai_responses"] is openai_responses.SPEC
    assert WIRE_SPECS["azure_openai_chat"] is azure_openai.SPEC


async def test_responses_request() -> None:
    """POST v1/responses with instructions, store false and logprobs; no seed or stop is sent."""
    endpoint = Endpoint(body=fixture_bytes("openai_response"))
    request = replace(
        PLAIN, system="One word.", seed=3, stop=("END",), top_logprobs=2, json_mode=True
    )
    await responses(endpoint, request)
    assert str(endpoint.request.url) == "https://api.openai.test/v1/responses"
    assert endpoint.request.headers["authorization"] == f"Bearer {API_KEY}"
    assert endpoint.sent_json == {
        "model": "m",
        "input": [{"role": "user", "content": "What is the capital of France?"}],
        "max_output_tokens": 16,
        "temperature": 0.0,
        "store": False,
        "instructions": "One word.",
        "top_logprobs": 2,
        "include": ["message.output_text.logprobs"],
        "text": {"format": {"type": "json_object"}},
    }


@pytest.mark.parametrize(("asked", "sent"), [(8, 16), (16, 16), (300, 300)])
async def test_output_tokens_floor(asked: int, sent: int) -> None:
    """The Responses API refuses max_output_tokens below 16: a shorter budget is raised to it."""
    endpoint = Endpoint(body=fixture_bytes("openai_response"))
    await responses(endpoint, replace(PLAIN, max_tokens=asked))
    assert endpoint.sent_json["max_output_tokens"] == sent


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "openai_response",
            Reply(
                text="Paris.",
                finish_reason=FinishReason.STOP,
                raw_finish_reason="completed",
                model="gpt-4.1-2025-04-14",
                response_id="resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
                input_tokens=36,
                output_tokens=3,
            ),
        ),
        (
            "openai_response_incomplete",
            Reply(
                text="The capital",
                finish_reason=FinishReason.LENGTH,
                raw_finish_reason="max_output_tokens",
                model="gpt-4.1-2025-04-14",
                response_id="resp_incomplete_1",
                input_tokens=36,
                output_tokens=2,
                logprobs=(
                    TokenLogprob("The", -0.1, (("The", -0.1),)),
                    TokenLogprob(" capital", -0.2),
                ),
            ),
        ),
    ],
)
async def test_responses_parse(fixture: str, expected: Reply) -> None:
    """output_text parts of message items are joined; status and incomplete_details set finish."""
    openai.types.responses.Response.model_validate(fixture_json(fixture))
    reply = await responses(Endpoint(body=fixture_bytes(fixture)))
    assert replace(reply, latency_s=0.0, raw_body="") == expected


def response(**fields: Any) -> bytes:
    return json.dumps({**fixture_json("openai_response"), **fields}).encode()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (response(status=None), "status is missing"),
        (
            response(status="in_progress"),
            "status is 'in_progress', not 'completed' or 'incomplete'",
        ),
        (response(output={}), "output is not an array"),
        (
            response(output=[{"type": "message", "content": [{"type": "output_text"}]}]),
            "output[0].content[0].text is missing",
        ),
        (
            fixture_bytes("openai_error_500"),
            "error body on a 2xx: server_error: The server had an error while processing your request. Sorry about that!",
        ),
    ],
)
async def test_responses_malformed(raw: bytes, message: str) -> None:
    """A 2xx body of the wrong shape is a protocol error naming the first bad field."""
    with pytest.raises(ProviderProtocolError) as caught:
        await responses(Endpoint(body=raw))
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("status", "fixture", "kind"),
    [
        (429, "openai_error_429", ProviderRateLimited),
        (400, "openai_error_400", ProviderHTTPError),
        (500, "openai_error_500", ProviderHTTPError),
    ],
)
async def test_errors(status: int, fixture: str, kind: type[ProviderError]) -> None:
    """429 is throttling on both APIs; other statuses are HTTP errors; the key is never echoed."""
    for call in (responses, azure):
        with pytest.raises(ProviderError) as caught:
            await call(Endpoint(status, fixture_bytes(fixture)))
        assert type(caught.value) is kind and API_KEY not in str(caught.value)


async def test_azure_request() -> None:
    """The deployment URL with api-version, the `api-key` header, no Bearer and no model field."""
    endpoint = Endpoint(body=fixture_bytes("openai_chat_no_logprobs_length"))
    reply = await azure(endpoint, model_id="gpt-4o-prod", api_version="2025-01-01-preview")
    sent = endpoint.request
    assert str(sent.url) == (
        "https://res.openai.azure.test/openai/deployments/gpt-4o-prod/chat/completions"
        "?api-version=2025-01-01-preview"
    )
    assert sent.headers["api-key"] == API_KEY and "authorization" not in sent.headers
    assert "model" not in endpoint.sent_json
    assert reply.finish_reason == FinishReason.LENGTH


async def test_azure_default_api_version() -> None:
    """Without api_version the module's pinned default is sent."""
    endpoint = Endpoint(body=fixture_bytes("openai_chat_no_logprobs_length"))
    await azure(endpoint)
    assert endpoint.request.url.params["api-version"] == azure_openai.DEFAULT_API_VERSION
