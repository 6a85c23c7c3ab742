"""Sans-I/O assembly of streamed (SSE) replies into one `Reply`, per wire API.

Each assembler returns the reply and the byte offset just past the first event that carried
text, from which `streams` reads the time to first token. Assembled bodies go through the
wire modules' own non-streaming parsers, so a stream and a plain reply are judged alike.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from monitor.errors import ProviderProtocolError
from monitor.providers import anthropic_messages, openai_chat, vertex
from monitor.types import Reply

_SEPARATOR = re.compile(rb"\r?\n\r?\n")


@dataclass(frozen=True, slots=True)
class Event:
    end: int  # byte offset just past the event in the body
    name: str | None
    data: str


def sse_events(content: bytes) -> list[Event]:
    """The server-sent events in a body (comments and empty blocks skipped)."""
    events: list[Event] = []
    start = 0
    blocks = [(m.start(), m.end()) for m in _SEPARATOR.finditer(content)]
    blocks.append((len(content), len(content)))
    for stop, end in blocks:
        name: str | None = None
        data: list[str] = []
        for line in content[start:stop].decode("utf-8", errors="replace").splitlines():
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        if data:
            events.append(Event(end, name, "\n".join(data)))
        start = end
    return events


def _json(event: Event) -> dict[str, Any]:
    try:
        doc: Any = json.loads(event.data)
    except ValueError as exc:
        raise ProviderProtocolError(f"stream event is not valid JSON: {exc}") from None
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
        last = doc
        usage = doc.get("usage") or usage
        for choice in doc.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                text.append(delta["content"])
                first = event.end if first is None else first
            entries += ((choice.get("logprobs") or {}).get("content")) or []
            finish = choice.get("finish_reason") or finish
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
    message: dict[str, Any] = {}
    text: list[str] = []
    first: int | None = None
    for event in sse_events(content):
        doc = _json(event)
        kind = doc.get("type")
        if kind == "error":
            error = doc.get("error") or {}
            raise ProviderProtocolError(
                f"error event mid-stream: {error.get('type')}: {error.get('message')}"
            )
        if kind == "message_start":
            message = dict(doc.get("message") or {})
        elif kind == "content_block_delta" and (doc.get("delta") or {}).get("type") == "text_delta":
            text.append(doc["delta"].get("text", ""))
            first = event.end if first is None else first
        elif kind == "message_delta":
            message["stop_reason"] = (doc.get("delta") or {}).get("stop_reason")
            usage = {**(message.get("usage") or {}), **(doc.get("usage") or {})}
            message["usage"] = usage
    if not message:
        raise ProviderProtocolError("stream has no message_start event")
    message["content"] = [{"type": "text", "text": "".join(text)}]
    return anthropic_messages.parse(json.dumps(message).encode()), first


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
    return replace(replies[-1], text="".join(r.text for r in replies), logprobs=None), first
