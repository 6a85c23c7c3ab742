"""The Anthropic Messages endpoint, judged by the official SDK's own models."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types import ErrorResponse, Message

from canary_sim import SimFleet, fingerprint, run_fleet

from .conftest import ANT, BACKENDS, CAPITAL, DNS, DNS_SYSTEM, Sim, assert_exact


def message(body: dict[str, Any]) -> Message:
    parsed = Message.model_validate(body)
    assert_exact(parsed)
    return parsed


def text_of(parsed: Message) -> str:
    assert len(parsed.content) == 1 and parsed.content[0].type == "text"
    return parsed.content[0].text


async def test_known_probe_gets_its_reference(sim: Sim) -> None:
    """A healthy pool answers a probe with its reference, in the exact SDK shape."""
    response = await sim.anthropic(CAPITAL, temperature=0.0)
    assert response.status_code == 200
    parsed = message(response.json())
    assert parsed.id.startswith("msg_01") and len(parsed.id) == 28
    assert text_of(parsed) == "Paris"
    assert parsed.stop_reason == "end_turn" and parsed.stop_sequence is None
    assert parsed.usage.output_tokens == 1
    assert response.headers["request-id"].startswith("req_")
    assert response.headers["X-Served-By"] == fingerprint(*ANT)


@pytest.mark.parametrize("system", [DNS_SYSTEM, [{"type": "text", "text": DNS_SYSTEM}]])
async def test_system_as_string_or_blocks(sim: Sim, system: Any) -> None:
    """`system` may be a string or a list of text blocks; both select the reference."""
    parsed = message((await sim.anthropic(DNS, system=system)).json())
    assert text_of(parsed).startswith("DNS translates")


async def test_truncation_to_max_tokens(sim: Sim) -> None:
    """A reply longer than `max_tokens` stops there with stop_reason `max_tokens`."""
    parsed = message((await sim.anthropic(DNS, system=DNS_SYSTEM, max_tokens=3)).json())
    assert parsed.stop_reason == "max_tokens"
    assert text_of(parsed) == "DNS translates human"
    assert parsed.usage.output_tokens == 3


async def test_stop_sequences(sim: Sim) -> None:
    """A stop sequence ends the reply and is reported as the one that matched."""
    response = await sim.anthropic(DNS, system=DNS_SYSTEM, stop_sequences=["zzz", " such"])
    parsed = message(response.json())
    assert parsed.stop_reason == "stop_sequence" and parsed.stop_sequence == " such"
    assert text_of(parsed) == "DNS translates human-readable domain names"


BAD_REQUESTS: list[tuple[str, dict[str, Any], str]] = [
    ("missing max_tokens", {"max_tokens": None}, "max_tokens: Field required"),
    ("zero max_tokens", {"max_tokens": 0}, "max_tokens:"),
    ("missing messages", {"messages": None}, "messages: Field required"),
    ("bad role", {"messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
    ("image content", {"messages": [{"role": "user", "content": [{"type": "image"}]}]}, "text"),
    ("temperature above 1", {"temperature": 1.5}, "temperature:"),
    ("unknown field", {"logprobs": True}, "logprobs: Extra inputs are not permitted"),
    ("stream not a boolean", {"stream": "yes"}, "stream:"),
]


@pytest.mark.parametrize(("case", "override", "message_part"), BAD_REQUESTS)
async def test_bad_requests_get_vendor_errors(
    sim: Sim, case: str, override: dict[str, Any], message_part: str
) -> None:
    """Invalid bodies get a 400 invalid_request_error like the real API's."""
    del case
    body = {"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": CAPITAL}]}
    body.update(override)
    body = {k: v for k, v in body.items() if v is not None}
    response = await sim.client.post(sim.url(ANT, "v1/messages"), json=body)
    assert response.status_code == 400
    error = ErrorResponse.model_validate(response.json())
    assert error.error.type == "invalid_request_error"
    assert message_part in error.error.message
    assert error.request_id == response.headers["request-id"]


async def test_invalid_json_is_400(sim: Sim) -> None:
    """A body that is not JSON is a 400 in the Anthropic shape."""
    response = await sim.client.post(sim.url(ANT, "v1/messages"), content=b"\xff{")
    assert response.status_code == 400
    assert ErrorResponse.model_validate(response.json()).error.type == "invalid_request_error"


@pytest.mark.parametrize("path", ["/nowhere/default/v1/messages", "/vllm-prod/default/v1/messages"])
async def test_unknown_pool_is_404(sim: Sim, path: str) -> None:
    """A pool that does not exist, or speaks another API, is a 404 not_found_error."""
    response = await sim.client.post(f"http://127.0.0.1:{sim.fleet.port}{path}", json={})
    assert response.status_code == 404
    assert ErrorResponse.model_validate(response.json()).error.type == "not_found_error"


async def test_model_list_is_enforced(sim: Sim) -> None:
    """A pool configured with models rejects any other model name with a 404."""
    pool = ("bedrock", "us-east-1")
    assert (await sim.anthropic(CAPITAL, pool=pool, model="claude-x")).status_code == 200
    response = await sim.anthropic(CAPITAL, pool=pool, model="claude-y")
    assert response.status_code == 404
    assert "claude-y" in ErrorResponse.model_validate(response.json()).error.message


async def test_api_key_header_or_bearer() -> None:
    """With a key configured, `x-api-key` or a bearer token pass; anything else is a 401."""
    async with run_fleet(BACKENDS, api_key="sekrit") as fleet, httpx.AsyncClient() as http:
        url = fleet.base_url(*ANT) + "v1/messages"
        body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
        for headers, status in [
            ({}, 401),
            ({"x-api-key": "wrong"}, 401),
            ({"x-api-key": "sekrit"}, 200),
            ({"Authorization": "Bearer sekrit"}, 200),
        ]:
            response = await http.post(url, json=body, headers=headers)
            assert response.status_code == status, headers
            if status == 401:
                error = ErrorResponse.model_validate(response.json()).error
                assert error.type == "authentication_error"


async def test_sdk_client_round_trip(fleet: SimFleet) -> None:
    """The official async client talks to the simulator like to the real API."""
    async with anthropic.AsyncAnthropic(
        base_url=fleet.base_url(*ANT), api_key="x", max_retries=0
    ) as client:
        reply = await client.messages.create(
            model="claude-sim",
            max_tokens=64,
            system=DNS_SYSTEM,
            messages=[{"role": "user", "content": DNS}],
        )
        assert reply.content[0].type == "text"
        assert reply.content[0].text.startswith("DNS translates")
        assert reply.model == "claude-sim" and reply.stop_reason == "end_turn"


async def test_sdk_client_sees_typed_errors(fleet: SimFleet) -> None:
    """Error bodies are what the SDK expects: an unknown pool raises its NotFoundError."""
    async with anthropic.AsyncAnthropic(
        base_url=f"http://127.0.0.1:{fleet.port}/nowhere/default/", api_key="x", max_retries=0
    ) as client:
        with pytest.raises(anthropic.NotFoundError) as caught:
            await client.messages.create(
                model="m", max_tokens=8, messages=[{"role": "user", "content": CAPITAL}]
            )
    assert caught.value.body is not None
