"""Anthropic Messages: the request we send, the replies we parse, the errors we raise."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import anthropic.types
import pytest

from monitor.errors import (
    ProviderError,
    ProviderHTTPError,
    ProviderProtocolError,
    ProviderRateLimited,
)
from monitor.providers import WIRE_SPECS, anthropic_messages
from monitor.providers.http import build_client
from monitor.types import FinishReason, Message, ProbeRequest, Reply
from tests.providers.fakes import API_KEY, Endpoint, fixture_bytes, fixture_json, make_target

QUESTION = Message("user", "What is the capital of France?")
PLAIN = ProbeRequest(messages=(QUESTION,), max_tokens=16, temperature=0.0, affinity_key="aff-1")
SUCCESS_FIXTURES = ["anthropic_message", "anthropic_message_thinking"]


async def complete(endpoint: Endpoint, request: ProbeRequest = PLAIN, **target: Any) -> Reply:
    tgt = make_target(api="anthropic_messages", **target)
    async with build_client(tgt, transport=endpoint.transport) as client:
        return await anthropic_messages.SPEC.send(client, tgt, request, stream=False)


def message(**fields: Any) -> bytes:
    """A Messages body: the success fixture with `fields` replaced."""
    return json.dumps({**fixture_json("anthropic_message"), **fields}).encode()


UNCLOSED = "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"


def test_registered() -> None:
    """The module is the `anthropic_messages` entry of the provider registry."""
    assert WIRE_SPECS["anthropic_messages"] is anthropic_messages.SPEC


BASE = {"model": "m", "max_tokens": 16, "temperature": 0.0}
USER = {"role": "user", "content": "What is the capital of France?"}


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        pytest.param(PLAIN, {**BASE, "messages": [USER]}, id="plain"),
        pytest.param(
            replace(
                PLAIN,
                system="Answer in one word.",
                messages=(QUESTION, Message("assistant", "Paris."), Message("user", "Sure?")),
                top_p=0.9,
                stop=("\n\n", "END"),
            ),
            {
                **BASE,
                "messages": [
                    USER,
                    {"role": "assistant", "content": "Paris."},
                    {"role": "user", "content": "Sure?"},
                ],
                "system": "Answer in one word.",
                "top_p": 0.9,
                "stop_sequences": ["\n\n", "END"],
            },
            id="system-top-level-and-options",
        ),
        pytest.param(
            replace(PLAIN, seed=7, top_logprobs=5, json_mode=True),
            {**BASE, "messages": [USER]},
            id="seed-logprobs-json-mode-dropped",
        ),
    ],
)
async def test_request_body(request_: ProbeRequest, expected: dict[str, Any]) -> None:
    """`system` is top-level; seed, logprobs and JSON mode, which the API lacks, are not sent."""
    endpoint = Endpoint(body=fixture_bytes("anthropic_message"))
    await complete(endpoint, request_)
    assert endpoint.sent_json == expected


@pytest.mark.parametrize(("api_key", "sent_key"), [(API_KEY, API_KEY), (None, None)])
async def test_request_headers(api_key: str | None, sent_key: str | None) -> None:
    """POST v1/messages with x-api-key (only with a key), the API version, affinity and no-store."""
    endpoint = Endpoint(body=fixture_bytes("anthropic_message"))
    await complete(endpoint, api_key=api_key, base_url="https://api.anthropic.test")
    sent = endpoint.request
    assert (sent.method, str(sent.url)) == ("POST", "https://api.anthropic.test/v1/messages")
    assert sent.headers.get("x-api-key") == sent_key
    assert "authorization" not in sent.headers
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["x-canary-affinity"] == "aff-1"
    assert sent.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "anthropic_message",
            Reply(
                text="Paris.",
                finish_reason=FinishReason.STOP,
                raw_finish_reason="end_turn",
                model="claude-sonnet-4-5-20250929",
                response_id="msg_01XFDUDYJgAACzvnptvVoYEL",
                input_tokens=21,
                output_tokens=5,
            ),
        ),
        (
            "anthropic_message_thinking",
            Reply(
                text="The capital of France is Paris.",
                finish_reason=FinishReason.LENGTH,
                raw_finish_reason="max_tokens",
                model="claude-sonnet-4-5-20250929",
                response_id="msg_01Aq9w938a90dw8q",
                input_tokens=40,
                output_tokens=64,
            ),
        ),
    ],
)
async def test_parse_success(fixture: str, expected: Reply) -> None:
    """Text blocks are concatenated (thinking skipped); stop reason, ids and usage are read."""
    endpoint = Endpoint(body=fixture_bytes(fixture), headers={"request-id": "req_9"})
    reply = await complete(endpoint, keep_headers=["Request-Id"])
    assert replace(reply, latency_s=0.0, raw_body="", headers={}) == expected
    assert (reply.status_code, reply.headers) == (200, {"request-id": "req_9"})
    assert reply.raw_body == fixture_bytes(fixture).decode() and reply.logprobs is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("end_turn", FinishReason.STOP),
        ("stop_sequence", FinishReason.STOP),
        ("max_tokens", FinishReason.LENGTH),
        ("refusal", FinishReason.CONTENT_FILTER),
        ("tool_use", FinishReason.TOOL_CALLS),
        ("pause_turn", FinishReason.OTHER),
        (None, None),
    ],
)
async def test_stop_reason_mapping(raw: str | None, expected: FinishReason | None) -> None:
    """Anthropic stop reasons map onto the shared vocabulary, and the raw string is kept."""
    reply = await complete(Endpoint(body=message(stop_reason=raw)))
    assert (reply.finish_reason, reply.raw_finish_reason) == (expected, raw)


async def test_empty_content_is_empty_text() -> None:
    """A reply with no content blocks is an empty answer, not a protocol error."""
    reply = await complete(Endpoint(body=message(content=[])))
    assert reply.text == ""


@pytest.mark.parametrize(
    ("raw", "message_"),
    [
        (b"{", f"body is not valid JSON: {UNCLOSED}"),
        (b'"Overloaded"', "body is a JSON string, not an object"),
        (message(type="completion"), "type is 'completion', not 'message'"),
        (message(type=None), "type is missing"),
        (fixture_bytes("malformed_anthropic_content_not_list"), "content is not an array"),
        (message(content=None), "content is missing"),
        (message(content=["Paris."]), "content[0] is not an object"),
        (message(content=[{"text": "Paris."}]), "content[0].type is missing"),
        (fixture_bytes("malformed_anthropic_text_missing"), "content[0].text is missing"),
        (message(content=[{"type": "text", "text": 1}]), "content[0].text is not a string"),
        (message(stop_reason=0), "stop_reason is not a string"),
        (message(usage={"input_tokens": 1.5}), "usage.input_tokens is not an integer"),
        (
            fixture_bytes("anthropic_error_529_overloaded"),
            "error body on a 2xx: overloaded_error: Overloaded",
        ),
    ],
)
async def test_malformed_reply(raw: bytes, message_: str) -> None:
    """A 2xx body of the wrong shape is a protocol error naming the first bad field."""
    with pytest.raises(ProviderProtocolError) as caught:
        await complete(Endpoint(body=raw))
    assert str(caught.value) == message_
    assert (caught.value.status_code, caught.value.body) == (200, raw.decode())


MAX_TOKENS = (
    "HTTP 400: invalid_request_error: max_tokens: 100000 > 64000, which is the maximum allowed"
    " number of output tokens for claude-sonnet-4-5-20250929"
)


@pytest.mark.parametrize(
    ("status", "fixture", "kind", "message_", "retry_after_s"),
    [
        (
            529,
            "anthropic_error_529_overloaded",
            ProviderRateLimited,
            "HTTP 529: overloaded_error: Overloaded",
            None,
        ),
        (
            429,
            "anthropic_error_429",
            ProviderRateLimited,
            "HTTP 429: rate_limit_error: This request would exceed the rate limit",
            12.0,
        ),
        (400, "anthropic_error_400", ProviderHTTPError, MAX_TOKENS, None),
    ],
)
async def test_vendor_errors(
    status: int,
    fixture: str,
    kind: type[ProviderError],
    message_: str,
    retry_after_s: float | None,
) -> None:
    """429 and 529 overloaded are throttling (with Retry-After); other errors are HTTP errors."""
    headers = {"retry-after": "12"} if retry_after_s is not None else {}
    with pytest.raises(ProviderError) as caught:
        await complete(Endpoint(status, fixture_bytes(fixture), headers))
    assert type(caught.value) is kind and caught.value.status_code == status
    assert str(caught.value).startswith(message_)
    if isinstance(caught.value, ProviderRateLimited):
        assert caught.value.retry_after_s == retry_after_s


@pytest.mark.parametrize("fixture", SUCCESS_FIXTURES)
async def test_fixture_is_a_real_message(fixture: str) -> None:
    """Each success fixture validates with the official SDK model, and we read what it reads."""
    sdk = anthropic.types.Message.model_validate(fixture_json(fixture))
    reply = await complete(Endpoint(body=fixture_bytes(fixture)))
    text = "".join(b.text for b in sdk.content if isinstance(b, anthropic.types.TextBlock))
    assert reply.text == text
    assert reply.raw_finish_reason == sdk.stop_reason
    assert (reply.model, reply.response_id) == (sdk.model, sdk.id)
    assert (reply.input_tokens, reply.output_tokens) == (
        sdk.usage.input_tokens,
        sdk.usage.output_tokens,
    )
