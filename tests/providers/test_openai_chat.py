"""OpenAI Chat Completions: the request we send, the replies we parse, the errors we raise."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from openai.types.chat import ChatCompletion

from monitor.errors import (
    ProviderError,
    ProviderHTTPError,
    ProviderProtocolError,
    ProviderRateLimited,
)
from monitor.providers import WIRE_SPECS, openai_chat
from monitor.providers.http import build_client
from monitor.types import FinishReason, Message, ProbeRequest, Reply, TokenLogprob
from tests.providers.fakes import API_KEY, Endpoint, fixture_bytes, fixture_json, make_target

QUESTION = Message("user", "What is the capital of France?")
PLAIN = ProbeRequest(messages=(QUESTION,), max_tokens=16, temperature=0.0, affinity_key="aff-1")
SUCCESS_FIXTURES = [
    "openai_chat_logprobs",
    "openai_chat_null_logprobs",
    "openai_chat_no_logprobs_length",
    "openai_chat_content_filter",
    "llamacpp_chat_logprobs",
    "llamacpp_chat_no_logprobs",
]


async def complete(endpoint: Endpoint, request: ProbeRequest = PLAIN, **target: Any) -> Reply:
    tgt = make_target(**target)
    async with build_client(tgt, transport=endpoint.transport) as client:
        return await openai_chat.SPEC.send(client, tgt, request, stream=False)


def body(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def test_registered() -> None:
    """The module is the `openai_chat` entry of the provider registry."""
    assert WIRE_SPECS["openai_chat"] is openai_chat.SPEC


BASE = {"model": "m", "max_tokens": 16, "temperature": 0.0, "stream": False}
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
            ),
            {
                **BASE,
                "messages": [
                    {"role": "system", "content": "Answer in one word."},
                    USER,
                    {"role": "assistant", "content": "Paris."},
                    {"role": "user", "content": "Sure?"},
                ],
            },
            id="system-first-then-turns",
        ),
        pytest.param(
            replace(PLAIN, top_p=0.9, seed=7, stop=("\n\n",), top_logprobs=5, json_mode=True),
            {
                **BASE,
                "messages": [USER],
                "top_p": 0.9,
                "seed": 7,
                "stop": ["\n\n"],
                "logprobs": True,
                "top_logprobs": 5,
                "response_format": {"type": "json_object"},
            },
            id="every-option",
        ),
        pytest.param(
            replace(PLAIN, top_logprobs=0),
            {**BASE, "messages": [USER], "logprobs": True, "top_logprobs": 0},
            id="logprobs-without-alternatives",
        ),
    ],
)
async def test_request_body(request_: ProbeRequest, expected: dict[str, Any]) -> None:
    """Optional fields (logprobs, seed, stop, JSON mode) are sent only when the probe asks."""
    endpoint = Endpoint(body=fixture_bytes("openai_chat_null_logprobs"))
    await complete(endpoint, request_)
    assert endpoint.sent_json == expected


async def test_wire_model_is_sent() -> None:
    """`model_id` overrides the label as the model name on the wire."""
    endpoint = Endpoint(body=fixture_bytes("openai_chat_null_logprobs"))
    await complete(endpoint, model_id="gpt-4o-2024-08-06")
    assert endpoint.sent_json["model"] == "gpt-4o-2024-08-06"


@pytest.mark.parametrize(
    ("api_key", "authorization"), [(API_KEY, f"Bearer {API_KEY}"), (None, None)]
)
async def test_request_headers(api_key: str | None, authorization: str | None) -> None:
    """POST v1/chat/completions with bearer auth (only with a key), affinity and no-store."""
    endpoint = Endpoint(body=fixture_bytes("openai_chat_null_logprobs"))
    await complete(endpoint, api_key=api_key)
    sent = endpoint.request
    assert (sent.method, sent.url.path) == ("POST", "/v1/chat/completions")
    assert sent.headers.get("authorization") == authorization
    assert sent.headers["x-canary-affinity"] == "aff-1"
    assert sent.headers["cache-control"] == "no-store"
    assert sent.headers["content-type"] == "application/json"


PARIS_TOP = (("Paris", -3.1281e-06), ("The", -12.750003))
DOT_TOP = ((".", -0.00012391), ("!", -9.000124))
OPENAI_LOGPROBS = (
    TokenLogprob("Paris", -3.1281e-06, PARIS_TOP),
    TokenLogprob(".", -0.00012391, DOT_TOP),
)
LLAMA_LOGPROBS = (
    TokenLogprob("Paris", -0.0021, (("Paris", -0.0021), (" Paris", -6.41))),
    TokenLogprob(".", -0.0407, ((".", -0.0407), ("!", -3.32))),
    TokenLogprob("", -0.0001, (("", -0.0001),)),
)
OPENAI = Reply(
    text="Paris.",
    finish_reason=FinishReason.STOP,
    raw_finish_reason="stop",
    model="gpt-4o-2024-08-06",
    response_id="chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    system_fingerprint="fp_f9f4fb6dbf",
    input_tokens=24,
    output_tokens=2,
)
LLAMA = Reply(
    text="Paris.",
    finish_reason=FinishReason.STOP,
    raw_finish_reason="stop",
    model="gpt-3.5-turbo",
    response_id="chatcmpl-q1R2Vf0yT5cZk8LmN3oPwXs7a9bD4eHj",
    system_fingerprint="b4967-2bb3597e",
    input_tokens=24,
    output_tokens=3,
)


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("openai_chat_logprobs", replace(OPENAI, logprobs=OPENAI_LOGPROBS)),
        ("openai_chat_null_logprobs", OPENAI),
        (
            "openai_chat_no_logprobs_length",
            replace(
                OPENAI,
                text="def add(a, b):\n    return a +",
                finish_reason=FinishReason.LENGTH,
                raw_finish_reason="length",
                response_id="chatcmpl-C1xQ7wNe2Jj0hTq3dYl5kPmZaRb",
                system_fingerprint=None,
                input_tokens=31,
                output_tokens=8,
            ),
        ),
        (
            "openai_chat_content_filter",
            replace(
                OPENAI,
                text="",
                finish_reason=FinishReason.CONTENT_FILTER,
                raw_finish_reason="content_filter",
                response_id="chatcmpl-AzF8kQp0filtered",
            ),
        ),
        ("llamacpp_chat_logprobs", replace(LLAMA, logprobs=LLAMA_LOGPROBS)),
        ("llamacpp_chat_no_logprobs", LLAMA),
    ],
)
async def test_parse_success(fixture: str, expected: Reply) -> None:
    """Text, finish reason, ids, usage and logprobs come out of each vendor's success body."""
    reply = await complete(Endpoint(body=fixture_bytes(fixture)))
    assert replace(reply, latency_s=0.0, raw_body="") == expected


async def test_reply_carries_http_facts() -> None:
    """The reply keeps status, wall time, the configured headers only, and the body text."""
    headers = {"X-Request-Id": "req_1", "openai-processing-ms": "312", "Set-Cookie": "s=1"}
    endpoint = Endpoint(body=fixture_bytes("openai_chat_null_logprobs"), headers=headers)
    reply = await complete(endpoint, keep_headers=["x-request-id", "OpenAI-Processing-Ms"])
    assert reply.status_code == 200 and reply.latency_s >= 0
    assert reply.headers == {"x-request-id": "req_1", "openai-processing-ms": "312"}
    assert reply.raw_body == fixture_bytes("openai_chat_null_logprobs").decode()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("stop", FinishReason.STOP),
        ("length", FinishReason.LENGTH),
        ("content_filter", FinishReason.CONTENT_FILTER),
        ("tool_calls", FinishReason.TOOL_CALLS),
        ("function_call", FinishReason.TOOL_CALLS),
        ("eos", FinishReason.OTHER),
        (None, None),
    ],
)
async def test_finish_reason_mapping(raw: str | None, expected: FinishReason | None) -> None:
    """Vendor finish reasons map onto the shared vocabulary, and the raw string is kept."""
    doc = fixture_json("openai_chat_null_logprobs")
    doc["choices"][0]["finish_reason"] = raw
    reply = await complete(Endpoint(body=body(doc)))
    assert (reply.finish_reason, reply.raw_finish_reason) == (expected, raw)


@pytest.mark.parametrize(
    ("logprobs", "expected"),
    [
        pytest.param({"content": None, "refusal": None}, None, id="content-null"),
        pytest.param({"content": []}, (), id="content-empty"),
        pytest.param(
            {"content": [{"token": "a", "logprob": 0}]},
            (TokenLogprob("a", 0.0),),
            id="integer-logprob-no-alternatives",
        ),
    ],
)
async def test_logprobs_shapes(logprobs: Any, expected: tuple[TokenLogprob, ...] | None) -> None:
    """Null content means no logprobs; an empty list, int logprobs and no alternatives are fine."""
    reply = await complete(Endpoint(body=choice(logprobs=logprobs)))
    assert reply.logprobs == expected


def choice(**fields: Any) -> bytes:
    """A chat completion whose first choice is `fields` over a valid default."""
    base = {"index": 0, "message": {"role": "assistant", "content": "Paris."}}
    return body({"id": "chatcmpl-x", "choices": [{**base, **fields}]})


def entry(**fields: Any) -> dict[str, Any]:
    return {"content": [{"token": "Paris", "logprob": -0.1, "top_logprobs": [], **fields}]}


SORRY = "The server had an error while processing your request. Sorry about that!"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"choices": [', "body is not valid JSON: Expecting value: line 1 column 14 (char 13)"),
        (b"", "body is not valid JSON: Expecting value: line 1 column 1 (char 0)"),
        (b"[]", "body is a JSON array, not an object"),
        (b"null", "body is a JSON null, not an object"),
        (b'{"id": "x"}', "choices is missing"),
        (b'{"choices": {}}', "choices is not an array"),
        (fixture_bytes("malformed_empty_choices"), "choices is empty"),
        (b'{"choices": ["Paris."]}', "choices[0] is not an object"),
        (fixture_bytes("malformed_missing_message"), "choices[0].message is missing"),
        (choice(message="Paris."), "choices[0].message is not an object"),
        (
            fixture_bytes("malformed_content_not_string"),
            "choices[0].message.content is not a string",
        ),
        (choice(finish_reason=1), "choices[0].finish_reason is not a string"),
        (choice(logprobs=[]), "choices[0].logprobs is not an object"),
        (choice(logprobs={"content": [1]}), "choices[0].logprobs.content[0] is not an object"),
        (
            fixture_bytes("malformed_logprob_not_number"),
            "choices[0].logprobs.content[0].logprob is not a number",
        ),
        (
            choice(logprobs=entry(logprob=True)),
            "choices[0].logprobs.content[0].logprob is not a number",
        ),
        (choice(logprobs=entry(token=None)), "choices[0].logprobs.content[0].token is missing"),
        (
            choice(logprobs=entry(top_logprobs=[{"logprob": -1}])),
            "choices[0].logprobs.content[0].top_logprobs[0].token is missing",
        ),
        (
            body({**fixture_json("openai_chat_null_logprobs"), "usage": {"prompt_tokens": "24"}}),
            "usage.prompt_tokens is not an integer",
        ),
        (fixture_bytes("openai_error_500"), f"error body on a 2xx: server_error: {SORRY}"),
    ],
)
async def test_malformed_reply(raw: bytes, message: str) -> None:
    """A 2xx body of the wrong shape is a protocol error naming the first bad field."""
    with pytest.raises(ProviderProtocolError) as caught:
        await complete(Endpoint(body=raw))
    assert str(caught.value) == message
    assert (caught.value.status_code, caught.value.body) == (200, raw.decode())


TOP_LOGPROBS = (
    "HTTP 400: invalid_request_error: Invalid 'top_logprobs': integer above maximum value."
    " Expected a value <= 20, but got 25 instead."
)
BAD_KEY = (
    "HTTP 401: invalid_request_error: Incorrect API key provided: sk-proj-"
    + "*" * 44
    + "abcd. You can find your API key at https://platform.openai.com/account/api-keys."
)


@pytest.mark.parametrize(
    ("status", "fixture", "kind", "message"),
    [
        (400, "openai_error_400", ProviderHTTPError, TOP_LOGPROBS),
        (401, "openai_error_401", ProviderHTTPError, BAD_KEY),
        (429, "openai_error_429", ProviderRateLimited, "HTTP 429: tokens: Rate limit reached"),
        (500, "openai_error_500", ProviderHTTPError, f"HTTP 500: server_error: {SORRY}"),
    ],
)
async def test_vendor_errors(
    status: int, fixture: str, kind: type[ProviderError], message: str
) -> None:
    """OpenAI error bodies raise the matching error class with `type: message` and the status."""
    endpoint = Endpoint(status, fixture_bytes(fixture), {"Retry-After": "1"})
    with pytest.raises(ProviderError) as caught:
        await complete(endpoint)
    assert type(caught.value) is kind and caught.value.status_code == status
    assert str(caught.value).startswith(message) and len(str(caught.value)) <= 210
    if isinstance(caught.value, ProviderRateLimited):
        assert caught.value.retry_after_s == 1.0


@pytest.mark.parametrize("fixture", SUCCESS_FIXTURES)
async def test_fixture_is_a_real_chat_completion(fixture: str) -> None:
    """Each success fixture validates with the official SDK model, and we read what it reads."""
    sdk = ChatCompletion.model_validate(fixture_json(fixture))
    reply = await complete(Endpoint(body=fixture_bytes(fixture)))
    first = sdk.choices[0]
    assert reply.text == (first.message.content or "")
    assert reply.raw_finish_reason == first.finish_reason
    assert (reply.model, reply.response_id) == (sdk.model, sdk.id)
    assert reply.system_fingerprint == sdk.system_fingerprint
    assert sdk.usage is not None
    assert (reply.input_tokens, reply.output_tokens) == (
        sdk.usage.prompt_tokens,
        sdk.usage.completion_tokens,
    )
    sdk_tokens = first.logprobs.content if first.logprobs is not None else None
    ours = None if reply.logprobs is None else [(t.token, t.logprob) for t in reply.logprobs]
    theirs = None if sdk_tokens is None else [(t.token, t.logprob) for t in sdk_tokens]
    assert ours == theirs
