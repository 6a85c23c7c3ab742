"""Streamed replies: SSE parsing, assembly per wire API, timing, and mid-stream errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from canary_sim.records import ChatRequest, Generation
from canary_sim.streaming import RENDERERS, frame
from monitor.errors import ProviderProtocolError, ProviderRateLimited
from monitor.providers import WIRE_SPECS
from monitor.providers.http import build_client
from monitor.providers.stream_parse import sse_events
from monitor.providers.wire import timing
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
        spec = WIRE_SPECS[api]
        if api.startswith("vertex_"):
            return await spec.send(client, tgt, PLAIN, stream=True, auth=StaticBearer("ya29.t"))
        return await spec.send(client, tgt, PLAIN, stream=True)


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


async def test_openai_error_event_mid_stream() -> None:
    """OpenAI-compatible servers (vLLM, llama.cpp) send `data: {"error": ...}` mid-stream."""
    body = (
        b'data: {"choices": [{"delta": {"content": "Par"}}]}\n\n'
        b'data: {"error": {"type": "server_error", "message": "KV cache exhausted"}}\n\n'
    )
    with pytest.raises(ProviderProtocolError) as caught:
        await run("openai_chat", Dripping(body))
    assert str(caught.value) == "error event mid-stream: server_error: KV cache exhausted"


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
    assert timing(marks, 180, reply, 2.9) == (0.9, 5.0)
    assert timing(marks, None, reply, 2.9) == (None, None)


def _frames(api: str) -> bytes:
    """Vendor-shaped stream bytes from the simulator's renderers (which tests/sim checks with
    botocore's event-stream parser and the SDKs' stream models)."""
    chat = ChatRequest(model="m", messages=(Message("user", "hi"),), max_tokens=8, stream=True)
    gen = Generation(tokens=["Par", "is", "."], fingerprint="fp", input_tokens=5)
    render, _ = RENDERERS[api]
    return b"".join(render(chat, gen, "id-1"))


async def bedrock_run(api: str, body: bytes) -> Reply:
    tgt = make_target(api, api_key=None, region="us-east-1")
    handler = Dripping(body, size=37)
    async with build_client(tgt, transport=httpx.MockTransport(handler)) as client:
        reply = await WIRE_SPECS[api].send(
            client, tgt, replace(PLAIN, stream=True), auth=StaticBearer("x")
        )
    path = handler.requests[0].url.path
    assert path.endswith(
        "/converse-stream" if api == "bedrock_converse" else "/invoke-with-response-stream"
    )
    return reply


@pytest.mark.parametrize("api", ["bedrock_converse", "bedrock_invoke"])
async def test_bedrock_event_streams(api: str) -> None:
    """ConverseStream and InvokeModelWithResponseStream frames (CRC-checked by botocore)
    assemble into one reply, whatever the chunking on the wire."""
    reply = await bedrock_run(api, _frames(api))
    assert (reply.text, reply.finish_reason, reply.output_tokens) == (
        "Paris.",
        FinishReason.STOP,
        3,
    )
    assert reply.time_to_first_token_s is not None


def _exception_frame(kind: str) -> bytes:
    headers = {
        ":exception-type": kind,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return frame(headers, b'{"message": "Too many tokens, please wait before trying again."}')


@pytest.mark.parametrize(
    ("tail", "error", "message"),
    [
        (
            _exception_frame("throttlingException"),
            ProviderRateLimited,
            "throttlingException mid-stream",
        ),
        (
            _exception_frame("modelStreamErrorException"),
            ProviderProtocolError,
            "modelStreamErrorException",
        ),
        (b"\x00\x00\x00\x40garbage", ProviderProtocolError, "event stream ends inside a frame"),
    ],
)
async def test_bedrock_stream_failures(tail: bytes, error: type[Exception], message: str) -> None:
    """An exception frame after some text, or a frame cut short, is never a short pass."""
    body = _first_frames(_frames("bedrock_converse")) + tail
    with pytest.raises(error) as caught:
        await bedrock_run("bedrock_converse", body)
    assert message in str(caught.value)


def _first_frames(body: bytes, count: int = 2) -> bytes:
    """The first `count` whole frames of an event stream (each starts with its total length)."""
    end = 0
    for _ in range(count):
        end += int.from_bytes(body[end : end + 4], "big")
    return body[:end]


async def test_bedrock_corrupt_crc() -> None:
    body = bytearray(_frames("bedrock_converse"))
    body[20] ^= 0xFF  # inside the first frame's headers: its message CRC no longer matches
    with pytest.raises(ProviderProtocolError, match="malformed event stream"):
        await bedrock_run("bedrock_converse", bytes(body))


async def test_responses_stream() -> None:
    """Responses API events: text from the deltas, status and usage from response.completed."""
    handler = Dripping(_frames("openai_responses"), size=80)
    reply = await run("openai_responses", handler)
    assert (reply.text, reply.finish_reason, reply.output_tokens) == (
        "Paris.",
        FinishReason.STOP,
        3,
    )
    assert b'"stream":true' in handler.requests[0].content.replace(b" ", b"")
    failed = b'event: response.failed\ndata: {"type": "response.failed", "response": {"error": {"code": "server_error", "message": "boom"}}}\n\n'
    with pytest.raises(ProviderProtocolError, match="server_error: boom"):
        await run("openai_responses", Dripping(failed))
    events = _frames("openai_responses").split(b"\n\n")
    cut_clean = b"\n\n".join(events[:-2]) + b"\n\n"  # every event but response.completed
    with pytest.raises(ProviderProtocolError, match=r"without response\.completed"):
        await run("openai_responses", Dripping(cut_clean))
    with pytest.raises(ProviderProtocolError, match="not valid JSON"):
        await run("openai_responses", Dripping(cut_clean[:-30]))
