"""The OpenAI chat-completions endpoint, judged by the official SDK's own models."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from openai.types import ErrorObject
from openai.types.chat import ChatCompletion

from canary_sim import Fault, SimFleet, fingerprint, run_fleet
from canary_sim.tokens import runner_up

from .conftest import ARITHMETIC, BACKENDS, CAPITAL, DNS, DNS_SYSTEM, OAI, Sim, assert_exact


def completion(body: dict[str, Any]) -> ChatCompletion:
    parsed = ChatCompletion.model_validate(body)
    assert_exact(parsed)
    return parsed


async def test_known_probe_gets_its_reference(sim: Sim) -> None:
    """A healthy pool answers a probe with its reference, in the exact SDK shape."""
    response = await sim.openai(CAPITAL, max_tokens=16, temperature=0, seed=7, top_p=1)
    assert response.status_code == 200
    parsed = completion(response.json())
    assert parsed.id.startswith("chatcmpl-")
    assert parsed.choices[0].message.content == "Paris"
    assert parsed.choices[0].finish_reason == "stop"
    assert parsed.choices[0].logprobs is None
    assert parsed.system_fingerprint == fingerprint(*OAI)
    assert response.headers["X-Served-By"] == parsed.system_fingerprint
    assert response.headers["x-request-id"].startswith("req_")
    assert parsed.usage is not None and parsed.usage.completion_tokens == 1
    assert parsed.usage.total_tokens == parsed.usage.prompt_tokens + 1


async def test_fingerprint_is_per_pool(sim: Sim) -> None:
    """Two pools of one platform report different backend identities."""
    a = completion((await sim.openai(CAPITAL)).json())
    b = completion((await sim.openai(CAPITAL, pool=("vllm-prod", "long-context"))).json())
    assert a.system_fingerprint != b.system_fingerprint


async def test_system_message_selects_the_reference(sim: Sim) -> None:
    """The system prompt is part of the conversation the answer book matches."""
    with_system = completion((await sim.openai(DNS, system=DNS_SYSTEM)).json())
    content = with_system.choices[0].message.content
    assert content is not None and content.startswith("DNS translates")
    parts = [{"type": "text", "text": DNS}]
    as_parts = await sim.openai(messages=[{"role": "user", "content": parts}], system=DNS_SYSTEM)
    assert completion(as_parts.json()).choices[0].message.content == content


async def test_logprobs_in_the_openai_shape(sim: Sim) -> None:
    """Logprobs list every token, top-1 first, with runner-ups the fault would use."""
    response = await sim.openai(DNS, system=DNS_SYSTEM, logprobs=True, top_logprobs=3)
    choice = completion(response.json()).choices[0]
    assert choice.logprobs is not None and choice.logprobs.content is not None
    tokens = choice.logprobs.content
    assert "".join(t.token for t in tokens) == choice.message.content
    for t in tokens:
        assert len(t.top_logprobs) == 3
        assert t.top_logprobs[0].token == t.token
        assert t.top_logprobs[1].token == runner_up(t.token)
        assert t.bytes == list(t.token.encode())
    assert response.json()["usage"]["completion_tokens"] == len(tokens)


async def test_logprobs_without_top_logprobs(sim: Sim) -> None:
    """`logprobs: true` alone gives per-token logprobs with empty alternatives."""
    choice = completion((await sim.openai(ARITHMETIC, logprobs=True)).json()).choices[0]
    assert choice.logprobs is not None and choice.logprobs.content is not None
    assert [t.top_logprobs for t in choice.logprobs.content] == [[]]


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
async def test_truncation_to_max_tokens(sim: Sim, field: str) -> None:
    """A reply longer than the budget stops at exactly that many tokens, finish `length`."""
    budget: dict[str, Any] = {field: 3}
    parsed = completion((await sim.openai(DNS, system=DNS_SYSTEM, **budget)).json())
    assert parsed.choices[0].finish_reason == "length"
    assert parsed.choices[0].message.content == "DNS translates human"
    assert parsed.usage is not None and parsed.usage.completion_tokens == 3


async def test_stop_sequence_cuts_the_reply(sim: Sim) -> None:
    """A stop sequence ends the reply before it, with finish `stop`."""
    parsed = completion((await sim.openai(DNS, system=DNS_SYSTEM, stop=[" such", "zzz"])).json())
    assert parsed.choices[0].message.content == "DNS translates human-readable domain names"
    assert parsed.choices[0].finish_reason == "stop"


async def test_json_mode_generic_reply_is_json(sim: Sim) -> None:
    """In JSON mode an unknown prompt still gets a JSON object."""
    response = await sim.openai("Give me JSON.", response_format={"type": "json_object"})
    content = completion(response.json()).choices[0].message.content
    assert content is not None and isinstance(json.loads(content), dict)


BAD_REQUESTS: list[tuple[str, Any, int, str]] = [
    ("not json", b"{nope", 400, "could not parse the JSON"),
    ("not an object", [1, 2], 400, "expected a JSON object"),
    ("no messages", {"model": "m"}, 400, "Missing required parameter: 'messages'"),
    ("no model", {"messages": [{"role": "user", "content": "x"}]}, 400, "'model'"),
    ("bad role", {"model": "m", "messages": [{"role": "robot", "content": "x"}]}, 400, "role"),
    ("bad temperature", {"temperature": 3}, 400, "'temperature'"),
    ("bad max_tokens", {"max_tokens": "ten"}, 400, "'max_tokens'"),
    ("stream_options without stream", {"stream_options": {}}, 400, "'stream_options'"),
    ("top_logprobs alone", {"top_logprobs": 2}, 400, "'top_logprobs'"),
    ("too many top_logprobs", {"logprobs": True, "top_logprobs": 21}, 400, "'top_logprobs'"),
    ("bad format", {"response_format": {"type": "yaml"}}, 400, "'response_format'"),
]


@pytest.mark.parametrize(("case", "body", "status", "message"), BAD_REQUESTS)
async def test_bad_requests_get_vendor_errors(
    sim: Sim, case: str, body: Any, status: int, message: str
) -> None:
    """Invalid bodies get the status and error object the OpenAI API would send."""
    del case
    if isinstance(body, dict) and "model" not in body and "messages" not in body:
        body = {"model": "m", "messages": [{"role": "user", "content": CAPITAL}], **body}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await sim.client.post(sim.url(OAI, "v1/chat/completions"), content=content)
    assert response.status_code == status
    error = ErrorObject.model_validate(response.json()["error"])
    assert message in error.message
    assert error.type == "invalid_request_error"


@pytest.mark.parametrize(
    "path",
    ["/nowhere/default/v1/chat/completions", "/anthropic-api/default/v1/chat/completions"],
)
async def test_unknown_pool_is_404(sim: Sim, path: str) -> None:
    """A pool that does not exist, or speaks another API, is a 404 in the OpenAI shape."""
    url = f"http://127.0.0.1:{sim.fleet.port}{path}"
    response = await sim.client.post(url, json={"model": "m", "messages": []})
    assert response.status_code == 404
    ErrorObject.model_validate(response.json()["error"])


async def test_api_key_is_enforced_when_configured() -> None:
    """With an api key configured, a missing or wrong bearer token is a 401."""
    async with run_fleet(BACKENDS, api_key="sekrit") as fleet, httpx.AsyncClient() as http:
        url = fleet.base_url(*OAI) + "v1/chat/completions"
        body = {"model": "m", "messages": [{"role": "user", "content": CAPITAL}]}
        for headers, status in [
            ({}, 401),
            ({"Authorization": "Bearer wrong"}, 401),
            ({"x-api-key": "sekrit"}, 401),  # OpenAI clients only send a bearer token
            ({"Authorization": "Bearer sekrit"}, 200),
        ]:
            response = await http.post(url, json=body, headers=headers)
            assert response.status_code == status, headers
            if status == 401:
                error = ErrorObject.model_validate(response.json()["error"])
                assert error.code == "invalid_api_key"
        async with openai.AsyncOpenAI(
            base_url=fleet.base_url(*OAI) + "v1", api_key="wrong", max_retries=0
        ) as client:
            with pytest.raises(openai.AuthenticationError):
                await client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": CAPITAL}]
                )


async def test_sdk_client_round_trip(fleet: SimFleet) -> None:
    """The official async client talks to the simulator like to the real API."""
    async with openai.AsyncOpenAI(
        base_url=fleet.base_url(*OAI) + "v1", api_key="x", max_retries=0
    ) as client:
        reply = await client.chat.completions.create(
            model="gpt-sim",
            messages=[{"role": "user", "content": ARITHMETIC}],
            max_tokens=8,
            logprobs=True,
            top_logprobs=2,
        )
        assert reply.choices[0].message.content == "391"
        assert reply.model == "gpt-sim"
        fleet.set_fault(*OAI, Fault("http_error", status=429, retry_after_s=3))
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(
                model="gpt-sim", messages=[{"role": "user", "content": ARITHMETIC}]
            )
        assert caught.value.response.headers["Retry-After"] == "3"
