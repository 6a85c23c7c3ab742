"""Broken streamed replies (SSE and the AWS event stream) through sockets and the runner.

The probe runs with `SuiteOptions(stream=True)`, so the bytes go socket -> httpx -> `post_json`
(deadline, size cap) -> the stream assembler -> detectors -> store. Streams are written by hand
here, byte for byte, including the ways they break: cut mid-event, an error event, bad JSON,
a stream that never ends, a frame with a bad CRC.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from canary_sim.streaming import frame
from monitor.runner import SuiteOptions
from monitor.types import Outcome
from tests.hostile.cases import CAP_BYTES, DEADLINE_S, ESCAPES, Case
from tests.hostile.checks import assert_clean_log, run_case
from tests.hostile.conftest import MakeRunner
from tests.hostile.server import HostileServer, Script, chunked, drip, head, raw, respond

SSE_TYPE = "text/event-stream"
EVENTS = "application/vnd.amazon.eventstream"


def sse(*docs: Any) -> bytes:
    return b"".join(
        f"data: {d if isinstance(d, str) else json.dumps(d)}\n\n".encode() for d in docs
    )


def openai_events(text: str = "Paris", finish: str | None = "stop") -> list[Any]:
    chunk = {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"content": text}}]}
    end = {
        "id": "c1",
        "model": "m",
        "choices": [{"index": 0, "delta": {}, "finish_reason": finish}],
    }
    return [chunk, end, "[DONE]"] if finish else [chunk]


def anthropic_events(text: str = "Paris", stop: bool = True) -> list[Any]:
    events: list[Any] = [
        {
            "type": "message_start",
            "message": {
                "id": "m1",
                "type": "message",
                "model": "m",
                "content": [],
                "usage": {"input_tokens": 5},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 1},
        },
    ]
    return [*events, {"type": "message_stop"}] if stop else events


def aws_event(event_type: str, payload: dict[str, Any]) -> bytes:
    """An event frame whose JSON payload is ASCII-escaped (it may hold a lone surrogate)."""
    headers = {":event-type": event_type, ":message-type": "event"}
    return frame(headers, json.dumps(payload).encode())


def converse_frames(text: str = "Paris", stop: bool = True) -> bytes:
    frames = aws_event("messageStart", {"role": "assistant"})
    frames += aws_event("contentBlockDelta", {"delta": {"text": text}, "contentBlockIndex": 0})
    if stop:
        frames += aws_event("messageStop", {"stopReason": "end_turn"})
    return frames + aws_event("metadata", {"usage": {"inputTokens": 5, "outputTokens": 1}})


def stream(api: str, **kwargs: Any) -> bytes:
    if api == "openai_chat":
        return sse(*openai_events(**kwargs))
    if api == "anthropic_messages":
        return sse(*anthropic_events(**kwargs))
    return converse_frames(**kwargs)


def ctype(api: str) -> str:
    return EVENTS if api == "bedrock_converse" else SSE_TYPE


def served(api: str, data: bytes) -> Script:
    return chunked(
        200, [data[i : i + 64] for i in range(0, len(data), 64)], content_type=ctype(api)
    )


def cut(api: str, *, mid_event: bool = False) -> Script:
    """The stream without its last events: at an event boundary, or inside an event."""
    data = stream(api)
    end = len(data) * 2 // 3
    if not mid_event and api != "bedrock_converse":
        end = data.rfind(b"\n\n", 0, end) + 2
    return respond(200, data[:end], content_type=ctype(api))


def error_event(api: str) -> Script:
    if api == "openai_chat":
        data = sse(openai_events(finish=None)[0], {"error": {"message": ESCAPES + "boom"}})
    elif api == "anthropic_messages":
        data = sse(
            anthropic_events(stop=False)[0],
            {"type": "error", "error": {"type": "overloaded_error", "message": ESCAPES + "x"}},
        )
    else:
        data = converse_frames(stop=False)[:0] + frame(
            {":message-type": "exception", ":exception-type": "modelStreamErrorException"},
            (ESCAPES + "boom").encode(),
        )
    return served(api, data)


def bad_json(api: str) -> Script:
    if api == "bedrock_converse":
        good = aws_event("messageStart", {"role": "assistant"})
        bad = good[:-5] + bytes([good[-5] ^ 0xFF]) + good[-4:]  # one payload byte flipped
        return served(api, bad)
    return served(api, b'data: {"choices": [{"delta": {"content": "Pa\n\ndata: ris"}}]}\n\n')


def wrong_types(api: str) -> Script:
    if api == "openai_chat":
        return served(
            api,
            sse(
                {"choices": "Paris"},
                {"choices": [{"delta": [], "logprobs": "x", "finish_reason": "stop"}]},
            ),
        )
    if api == "anthropic_messages":
        return served(
            api, sse({"type": "message_start", "message": ["m"]}, {"type": "error", "error": "x"})
        )
    return served(
        api,
        aws_event("contentBlockDelta", {"delta": "Paris"})
        + aws_event("messageStop", {"stopReason": 7}),
    )


P, F, PROTO, HTTP, TIME = (
    Outcome.PASSED,
    Outcome.FAILED,
    Outcome.PROTOCOL_ERROR,
    Outcome.HTTP_ERROR,
    Outcome.TIMEOUT,
)

STREAM_CASES = (
    Case("stream-valid", "stream", lambda api: served(api, stream(api)), P, note="control"),
    Case("stream-cut", "stream", cut, PROTO, "stream ends"),
    Case(
        "stream-cut-mid-event",
        "stream",
        lambda api: cut(api, mid_event=True),
        PROTO,
        {"openai_chat": "not valid JSON", "anthropic_messages": "not valid JSON"},
    ),
    Case(
        "stream-error-event",
        "stream",
        error_event,
        PROTO,
        {
            "openai_chat": "error event mid-stream: ",
            "anthropic_messages": "error event mid-stream: overloaded_error",
            "bedrock_converse": "modelStreamErrorException mid-stream",
        },
        note='OpenAI-compatible `data: {"error": ...}` is named as such',
    ),
    Case(
        "stream-bad-json",
        "stream",
        bad_json,
        PROTO,
        {
            "openai_chat": "not valid JSON",
            "anthropic_messages": "not valid JSON",
            "bedrock_converse": "malformed event stream",
        },
    ),
    Case("stream-wrong-types", "stream", wrong_types, PROTO),
    Case(
        "stream-nul-surrogate",
        "stream",
        lambda api: served(api, stream(api, text="Pa\x00\ud800ris")),
        F,
    ),
    Case(
        "stream-ansi", "stream", lambda api: served(api, stream(api, text=ESCAPES + "Paris\r\n")), F
    ),
    Case(
        "stream-html",
        "stream",
        lambda api: respond(200, b"<html>\x1b[31mproxy</html>", content_type="text/html"),
        PROTO,
    ),
    Case(
        "stream-huge",
        "stream",
        lambda api: chunked(200, [b": pad\n\n" * 1024] * 4, content_type=ctype(api)),
        PROTO,
        f"response body exceeds {CAP_BYTES} bytes",
    ),
    Case(
        "stream-drip",
        "stream",
        lambda api: drip(
            head(200, [("Content-Type", ctype(api)), ("Transfer-Encoding", "chunked")]),
            b"9\r\n: ping\n\n\n\r\n",
            0.2,
            600,
        ),
        TIME,
        f"no complete reply within {DEADLINE_S:g} s",
        note="a keep-alive comment every 0.2 s, no event",
    ),
    Case(
        "stream-reset",
        "stream",
        lambda api: raw(
            head(200, [("Content-Type", ctype(api)), ("Content-Length", "5000")])
            + stream(api)[:40],
            then="reset",
        ),
        HTTP,
        "transport error",
    ),
)


@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize(
    ("case", "api"),
    [pytest.param(c, a, id=f"{c.name}-{a}") for c in STREAM_CASES for a in c.apis],
)
async def test_hostile_stream(
    make_runner: MakeRunner, log_output: io.StringIO, case: Case, api: str
) -> None:
    """A broken stream gets its outcome and evidence; nothing is counted as an internal error."""
    async with HostileServer({case.name: case.script(api)}) as server:
        options = SuiteOptions(stream=True)
        result = await run_case(make_runner(), case, api, server.url(case.name), options=options)
    assert result.request.get("stream") is True
    assert_clean_log(log_output.getvalue())
