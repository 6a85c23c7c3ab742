"""Streamed replies: SSE parsing, assembly per wire API, timing, and mid-stream errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from monitor.errors import ProviderProtocolError, ProviderRateLimited
from monitor.providers import PROVIDERS, STREAMERS, streams
from monitor.providers.http import build_client
from monitor.providers.stream_parse import sse_events
from monitor.types import FinishReason, Message, ProbeRequest, Reply, TokenLogprob
from tests.providers.fakes import FIXTURES, StaticBearer, fixture_bytes, make_target

PLAIN = ProbeRequest(
    messages=(Message("user", "Capital of France?"),), max_tokens=16, temperature=0.0
)


def sse(name: str) -> bytes:
    return (FIXTURES / f"{name}.sse").read_bytes()


class Dripping:
    """A MockTransport handler streaming a body in fixed-size chunks, keeping the request."""

    def __init__(self, body: bytes, size: int = 64, status: int = 200) -> None:
        self.body, self.size, self.status = body, size, status
        self.requests: list[httpx.Request] = []

    async def chunks(self) -> AsyncIterator[bytes]:
        for i in range(0, len(self.body), self.size):
            yield self.body[i : i + self.size]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(self.status, content=self.chunks(), headers=headers)


async def run(api: str, handler: Dripping, **target: Any) -> Reply:
    fields = {"project": "p", "location": "us-east5"} if api.startswith("vertex_") else {}
    tgt = make_target(api=api, **{**fields, **target})
    async with build_client(tgt, transport=httpx.MockTransport(handler)) as client:
        if api.startswith("vertex_"):
            fn = (
                streams.vertex_gemini_stream
                if api == "vertex_gemini"
                else streams.vertex_anthropic_stream
            )
            return await fn(client, tgt, PLAIN, auth=StaticBearer("ya29.t"))
        return await STREAMERS[api](client, tgt, PLAIN)


def test_sse_events() -> None:
    """Events split on blank lines (LF or CRLF); multi-line data joins; comments are skipped."""
    body = b": keepalive\n\nevent: a\r\ndata: 1\r\ndata: 2\r\n\r\ndata: x"
    assert [(e.name, e.data) for e in sse_events(body)] == [("a", "1\n2"), (None, "x")]
    assert sse_events(body)[0].end == body.index(b"\r\n\r\n") + 4


async def test_openai_stream() -> None:
    """Deltas, logprobs, finish reason and the usage chunk assemble into one reply."""
    handler = Dripping(sse("openai_chat_stream"))
    reply = await run("openai_chat", handler)
    sent = handler.requests[0]
    assert b'"stream":true' in sent.content.replace(b" ", b"")
    assert (reply.text, reply.finish_reason, reply.output_tokens) == ("Paris", FinishReason.STOP, 2)
    assert (reply.model, reply.system_fingerprint) == ("gpt-4o-2024-08-06", "fp_1")
    assert reply.logprobs == (
        TokenLogprob("Par", -0.01, (("Par", -0.01),)),
        TokenLogprob("is", -0.02),
    )
    assert reply.time_to_first_token_s is not None
    assert reply.time_to_first_token_s <= reply.latency_s


async def test_anthropic_stream() -> None:
    """message_start, text deltas and message_delta assemble into one Message reply."""
    reply = await run("anthropic_messages", Dripping(sse("anthropic_stream")))
    assert (reply.text, reply.raw_finish_reason) == ("Paris.", "end_turn")
    assert (reply.response_id, reply.input_tokens, reply.output_tokens) == ("msg_01S", 21, 5)


async def test_vertex_streams() -> None:
    """Gemini chunks join (finish and usage from the last); Anthropic-on-Vertex streams too."""
    handler = Dripping(sse("vertex_gemini_stream"), size=50)
    reply = await run("vertex_gemini", handler, base_url="https://v.test/")
    assert str(handler.requests[0].url).endswith(":streamGenerateContent?alt=sse")
    assert (reply.text, reply.finish_reason, reply.output_tokens) == (
        "Paris.",
        FinishReason.STOP,
        3,
    )
    assert reply.time_to_first_token_s is not None
    claude = Dripping(sse("anthropic_stream"))
    reply = await run("vertex_anthropic", claude, base_url="https://v.test/")
    assert str(claude.requests[0].url).endswith(":streamRawPredict") and reply.text == "Paris."


async def test_error_event_mid_stream() -> None:
    """An `error` event after some text is a protocol error, not a truncated pass."""
    with pytest.raises(ProviderProtocolError) as caught:
        await run("anthropic_messages", Dripping(sse("anthropic_stream_error")))
    assert str(caught.value) == "error event mid-stream: overloaded_error: Overloaded"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"data: {not json\n\n", "stream event is not valid JSON"),
        (b"data: [1]\n\n", "stream event is not a JSON object"),
        (b"event: ping\ndata: {}\n\n", "stream has no message_start event"),
        (b'data: {"choices": [{"delta": {"content": "Par"}}]}\n\n', "stream ends without a"),
        (
            b'data: {"choices": [{"delta": {"content": 7}, "finish_reason": "stop"}]}\n\n',
            "choices[0].delta",
        ),
    ],
)
async def test_malformed_stream(body: bytes, message: str) -> None:
    """A stream of the wrong shape is a protocol error."""
    api = "anthropic_messages" if b"ping" in body else "openai_chat"
    with pytest.raises(ProviderProtocolError) as caught:
        await run(api, Dripping(body))
    assert str(caught.value).startswith(message)


async def test_throttled_stream() -> None:
    """A 429 before the stream starts is rate limiting, as for a plain request."""
    with pytest.raises(ProviderRateLimited):
        await run("openai_chat", Dripping(fixture_bytes("openai_error_429"), status=429))


def test_timing_from_marks() -> None:
    """TTFT is the time of the chunk completing the first text event; rate counts after it."""
    reply = replace(Reply(text="x", finish_reason=None), output_tokens=10)
    marks = [(100, 0.5), (250, 0.9), (400, 2.9)]
    assert streams.timing(marks, 180, reply, 2.9) == (0.9, 5.0)
    assert streams.timing(marks, None, reply, 2.9) == (None, None)


def test_every_api_streams() -> None:
    """No wire API can be registered without its streamed twin."""
    assert sorted(STREAMERS) == sorted(PROVIDERS)
