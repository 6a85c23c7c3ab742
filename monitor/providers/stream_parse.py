"""Sans-I/O assembly of streamed replies into one `Reply`, per wire API.

SSE for OpenAI (Chat and Responses), Anthropic and Gemini; the AWS event stream (binary
frames with CRCs, decoded by botocore) for Bedrock's ConverseStream and
InvokeModelWithResponseStream. Each assembler returns the reply and the byte offset just past
the first event that carried text, from which `streams` reads the time to first token.
Assembled bodies go through the wire modules' own non-streaming parsers, so a stream and a
plain reply are judged alike; a stream that ends inside an event, carries an error or
exception event, or never finishes is a protocol error, because a truncated stream is exactly
the fault a streaming probe exists to catch.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, cast

from botocore.eventstream import EventStreamBuffer, ParserError

from monitor.errors import ProviderProtocolError, ProviderRateLimited
from monitor.providers import anthropic_messages, bedrock, openai_chat, openai_responses, vertex
from monitor.providers.http import summarise_error
from monitor.types import Reply

_LINE_END = re.compile(rb"\r\n|\r|\n")
# The Bedrock stream exception that means "slow down", as its 429 ThrottlingException does.
THROTTLED = frozenset({"throttlingException"})


@dataclass(frozen=True, slots=True)
class Event:
    end: int  # byte offset just past the event in the body
    name: str | None
    data: str


def sse_events(content: bytes) -> list[Event]:
    """The server-sent events in a body (comments and empty blocks skipped).

    Lines end in CRLF, LF or a bare CR, as the SSE specification allows all three; a blank
    line ends an event. Each event's `end` is the offset just past its blank line (the last
    event may end with the body instead).
    """
    events: list[Event] = []
    name: str | None = None
    data: list[str] = []
    start = 0
    for match in _LINE_END.finditer(content):
        line, start = content[start : match.start()], match.end()
        if line:
            name = _field(line, name, data)
        elif data:
            events.append(Event(start, name, "\n".join(data)))
            name, data = None, []
        else:
            name = None
    if start < len(content):
        name = _field(content[start:], name, data)
    if data:
        events.append(Event(len(content), name, "\n".join(data)))
    return events


def _field(line: bytes, name: str | None, data: list[str]) -> str | None:
    """Apply one `field: value` line: `data` lines are collected, `event` names the event."""
    field, _, value = line.decode("utf-8", errors="replace").partition(":")
    value = value.removeprefix(" ")
    if field == "event":
        return value
    if field == "data":
        data.append(value)
    return name


def _object(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one: a mis-typed optional field then
    reaches the wire module's parser as missing, or the checks below as absent."""
    return value if isinstance(value, dict) else {}


def _error_text(error: Any) -> str:
    """`type: message` of an error event's `error`, whatever its shape, printable."""
    if isinstance(error, dict):
        return f"{error.get('type') or error.get('code')}: {error.get('message')}"
    return repr(error)


def _json(event: Event) -> dict[str, Any]:
    try:
        doc: Any = json.loads(event.data)
    except ValueError as exc:
        raise ProviderProtocolError(f"stream event is not valid JSON: {exc}") from None
    except RecursionError:
        raise ProviderProtocolError("stream event is JSON nested too deeply") from None
    if not isinstance(doc, dict):
        raise ProviderProtocolError("stream event is not a JSON object")
    return doc


def assemble_openai(content: bytes) -> tuple[Reply, int | None]:
    """Chat-completion chunks -> one Reply (logprobs joined), and the first-text event's end."""
    text: list[str] = []
    entries: list[Any] = []
    first: int | None = None
    last: dict[str, Any] = {}
    finish: str | None = None
    usage: dict[str, Any] | None = None
    for event in sse_events(content):
        if event.data.strip() == "[DONE]":
            break
        doc = _json(event)
        if doc.get("error") is not None:  # how vLLM, llama.cpp and OpenAI fail mid-stream
            raise ProviderProtocolError(f"error event mid-stream: {_error_text(doc['error'])}")
        last = doc
        usage = doc.get("usage") or usage
        choices = doc.get("choices") or []
        if not isinstance(choices, list):
            raise ProviderProtocolError("stream chunk choices is not an array")
        for choice in choices:
            if not isinstance(choice, dict):
                raise ProviderProtocolError("stream chunk choice is not an object")
            delta = choice.get("delta") or {}
            content_delta = delta.get("content") if isinstance(delta, dict) else None
            if content_delta is not None and not isinstance(content_delta, str):
                raise ProviderProtocolError("choices[0].delta.content is not a string")
            if content_delta:
                text.append(content_delta)
                first = event.end if first is None else first
            logprob_entries = _object(choice.get("logprobs")).get("content") or []
            if not isinstance(logprob_entries, list):
                raise ProviderProtocolError("choices[0].logprobs.content is not an array")
            entries += logprob_entries
            finish = choice.get("finish_reason") or finish
    if finish is None:
        raise ProviderProtocolError("stream ends without a finish_reason")
    body = {
        **{k: last.get(k) for k in ("id", "model", "system_fingerprint")},
        "choices": [
            {
                "message": {"content": "".join(text)},
                "finish_reason": finish,
                "logprobs": {"content": entries} if entries else None,
            }
        ],
        "usage": usage,
    }
    return openai_chat.parse(json.dumps(body).encode()), first


def assemble_anthropic(content: bytes) -> tuple[Reply, int | None]:
    """Messages stream events -> one Reply; an `error` event mid-stream is a protocol error."""
    return anthropic_events([(event.end, _json(event)) for event in sse_events(content)])


def anthropic_events(docs: list[tuple[int, dict[str, Any]]]) -> tuple[Reply, int | None]:
    """Decoded Messages stream events, each with the byte offset just past it, -> one Reply.

    Shared by SSE (Anthropic, Vertex streamRawPredict) and Bedrock's event-stream chunks.
    """
    message: dict[str, Any] = {}
    text: list[str] = []
    first: int | None = None
    stopped = False
    for end, doc in docs:
        kind = doc.get("type")
        if kind == "error":
            raise ProviderProtocolError(f"error event mid-stream: {_error_text(doc.get('error'))}")
        if kind == "message_start":
            message = dict(_object(doc.get("message")))
        elif (
            kind == "content_block_delta" and _object(doc.get("delta")).get("type") == "text_delta"
        ):
            delta = doc["delta"].get("text", "")
            text.append(delta if isinstance(delta, str) else "")
            first = end if first is None else first
        elif kind == "message_delta":
            message["stop_reason"] = _object(doc.get("delta")).get("stop_reason")
            usage = {**_object(message.get("usage")), **_object(doc.get("usage"))}
            message["usage"] = usage
        elif kind == "message_stop":
            stopped = True
    if not message:
        raise ProviderProtocolError("stream has no message_start event")
    if not stopped:
        raise ProviderProtocolError("stream ends without message_stop")
    message["content"] = [{"type": "text", "text": "".join(text)}]
    return anthropic_messages.parse(json.dumps(message).encode()), first


def assemble_responses(content: bytes) -> tuple[Reply, int | None]:
    """Responses API events: text from `response.output_text.delta`, the rest (status, usage,
    logprobs) from the final `response.completed` or `response.incomplete` event."""
    text: list[str] = []
    first: int | None = None
    final: dict[str, Any] | None = None
    for event in sse_events(content):
        doc = _json(event)
        kind = doc.get("type")
        if kind in ("error", "response.failed"):
            error = doc.get("error") or _object(doc.get("response")).get("error") or {}
            error = error if isinstance(error, dict) else {"message": error}
            raise ProviderProtocolError(
                f"error event mid-stream: {error.get('code')}: {error.get('message')}"
            )
        if kind == "response.output_text.delta":
            delta = doc.get("delta")
            if not isinstance(delta, str):
                raise ProviderProtocolError("response.output_text.delta has no string delta")
            text.append(delta)
            first = event.end if first is None and delta else first
        elif kind in ("response.completed", "response.incomplete"):
            final = doc.get("response")
    if not isinstance(final, dict):
        raise ProviderProtocolError("stream ends without response.completed")
    reply = openai_responses.parse(json.dumps(final).encode())
    streamed = "".join(text)
    if streamed != reply.text and reply.text:
        raise ProviderProtocolError("streamed deltas differ from the completed response text")
    return replace(reply, text=streamed), first


@dataclass(frozen=True, slots=True)
class AwsEvent:
    end: int  # byte offset just past the frame
    event_type: str
    payload: dict[str, Any]


def aws_events(content: bytes) -> list[AwsEvent]:
    """The frames of an AWS event stream (`application/vnd.amazon.eventstream`), checked.

    botocore validates the prelude and message CRCs; an exception frame (throttling, a model
    stream error) mid-stream and bytes left after the last whole frame are protocol errors.
    """
    buffer = EventStreamBuffer()
    buffer.add_data(content)
    events: list[AwsEvent] = []
    end = 0
    try:
        for message in cast(Iterable[Any], buffer):  # the stubs type the iterator as int
            end += message.prelude.total_length
            headers = message.headers
            kind = headers.get(":message-type")
            if kind in ("exception", "error"):
                name = headers.get(":exception-type") or headers.get(":error-code") or "error"
                detail = message.payload.decode("utf-8", errors="replace")
                error = f"{name} mid-stream: {summarise_error(message.payload)}"
                if name in THROTTLED:
                    raise ProviderRateLimited(error, status_code=200, body=detail)
                raise ProviderProtocolError(error)
            try:
                payload: Any = json.loads(message.payload or b"{}")
            except (ValueError, RecursionError):
                raise ProviderProtocolError("event payload is not valid JSON") from None
            if not isinstance(payload, dict):
                raise ProviderProtocolError("event payload is not a JSON object")
            events.append(AwsEvent(end, str(headers.get(":event-type", "")), payload))
    except (ParserError, UnicodeDecodeError, KeyError, struct.error) as exc:
        # botocore's header decoder raises the last three on a bad header block with good CRCs
        raise ProviderProtocolError(f"malformed event stream: {type(exc).__name__}") from None
    if end != len(content):
        raise ProviderProtocolError("event stream ends inside a frame")
    return events


def assemble_converse(content: bytes) -> tuple[Reply, int | None]:
    """ConverseStream events -> one Converse body, parsed by `bedrock.parse`."""
    text: list[str] = []
    first: int | None = None
    stop: str | None = None
    usage: dict[str, Any] | None = None
    for event in aws_events(content):
        if event.event_type == "contentBlockDelta":
            delta = _object(event.payload.get("delta")).get("text")
            if isinstance(delta, str):
                text.append(delta)
                first = event.end if first is None and delta else first
        elif event.event_type == "messageStop":
            stop = event.payload.get("stopReason")
        elif event.event_type == "metadata":
            usage = event.payload.get("usage")
    if stop is None:
        raise ProviderProtocolError("stream ends without messageStop")
    body = {
        "output": {"message": {"role": "assistant", "content": [{"text": "".join(text)}]}},
        "stopReason": stop,
        "usage": usage,
    }
    return bedrock.parse(json.dumps(body).encode()), first


def assemble_invoke_stream(content: bytes) -> tuple[Reply, int | None]:
    """InvokeModelWithResponseStream: `chunk` frames whose `bytes` (base64) are Anthropic
    Messages stream events."""
    docs: list[tuple[int, dict[str, Any]]] = []
    for event in aws_events(content):
        if event.event_type != "chunk":
            continue
        raw = event.payload.get("bytes")
        if not isinstance(raw, str):
            raise ProviderProtocolError("chunk event has no bytes")
        try:
            doc: Any = json.loads(base64.b64decode(raw, validate=True))
        except (binascii.Error, ValueError, RecursionError):
            raise ProviderProtocolError("chunk bytes are not base64 JSON") from None
        if not isinstance(doc, dict):
            raise ProviderProtocolError("chunk is not a JSON object")
        docs.append((event.end, doc))
    return anthropic_events(docs)


def assemble_gemini(content: bytes) -> tuple[Reply, int | None]:
    """GenerateContentResponse chunks -> one Reply (finish and usage from the last chunk)."""
    replies: list[Reply] = []
    first: int | None = None
    for event in sse_events(content):
        reply = vertex.parse_gemini(event.data.encode())
        if reply.text and first is None:
            first = event.end
        replies.append(reply)
    if not replies:
        raise ProviderProtocolError("stream has no events")
    if replies[-1].finish_reason is None:
        raise ProviderProtocolError("stream ends without a finishReason")
    chunks = [r.logprobs for r in replies if r.logprobs is not None]
    logprobs = tuple(t for chunk in chunks for t in chunk) if chunks else None
    return replace(replies[-1], text="".join(r.text for r in replies), logprobs=logprobs), first
