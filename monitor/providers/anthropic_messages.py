"""Anthropic Messages API (`POST v1/messages`, `anthropic-version: 2023-06-01`).

`target.base_url` is the server root without `/v1` (`https://api.anthropic.com/`); see
`http.api_path`. The API has no seed, logprobs or JSON mode: those probe settings are dropped
(a JSON-mode probe is sent as written and its detectors judge the text), and `Reply.logprobs`
is None. HTTP 529 ("overloaded") counts as throttling, like 429: it is capacity, not corruption.
Streamed (`stream: true`), the SSE events are assembled into a Message by `message_events`,
which Bedrock's InvokeModelWithResponseStream and Vertex's streamRawPredict share.
"""

from __future__ import annotations

import json
from typing import Any

from monitor.config.model import Target
from monitor.errors import ProviderProtocolError
from monitor.providers.http import (
    api_path,
    json_object,
    optional,
    probe_headers,
    required,
    summarise_error,
)
from monitor.providers.stream_parse import as_object, error_text, event_json, sse_events
from monitor.providers.wire import Capabilities, WireSpec
from monitor.types import FinishReason, ProbeRequest, Reply

PATH = "v1/messages"
API_VERSION = "2023-06-01"
RATE_LIMIT_STATUSES = frozenset({429, 529})

STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "refusal": FinishReason.CONTENT_FILTER,
    "tool_use": FinishReason.TOOL_CALLS,
}


def build_body(target: Target, request: ProbeRequest) -> dict[str, Any]:
    """The JSON request; `system` is a top-level string, optional fields only when set."""
    body: dict[str, Any] = {
        "model": target.wire_model,
        "max_tokens": request.max_tokens,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "temperature": request.temperature,
    }
    if request.system is not None:
        body["system"] = request.system
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    return body


def build_headers(target: Target, request: ProbeRequest) -> dict[str, str]:
    """Probe headers, the API version, and `x-api-key` when the target has a key."""
    extra = {"anthropic-version": API_VERSION}
    if target.api_key is not None:
        extra["x-api-key"] = target.api_key.get_secret_value()
    return probe_headers(request, extra)


def path(target: Target) -> str:
    return api_path(target, PATH)


def parse(content: bytes) -> Reply:
    """The reply in a Messages body (no HTTP fields); ProviderProtocolError if malformed."""
    doc = json_object(content)
    kind = optional(doc, "type", str, "")
    if kind == "error" or doc.get("error") is not None:
        raise ProviderProtocolError(f"error body on a 2xx: {summarise_error(content)}")
    if kind is None:
        raise ProviderProtocolError("type is missing")
    if kind != "message":
        raise ProviderProtocolError(f"type is {kind!r}, not 'message'")
    blocks = required(doc, "content", list, "")
    texts: list[str] = []
    for i, block in enumerate(blocks):
        if not isinstance(block, dict):
            raise ProviderProtocolError(f"content[{i}] is not an object")
        if required(block, "type", str, f"content[{i}].") == "text":
            texts.append(required(block, "text", str, f"content[{i}]."))
    raw_stop = optional(doc, "stop_reason", str, "")
    usage = optional(doc, "usage", dict, "") or {}
    return Reply(
        text="".join(texts),
        finish_reason=None if raw_stop is None else STOP_REASONS.get(raw_stop, FinishReason.OTHER),
        raw_finish_reason=raw_stop,
        model=optional(doc, "model", str, ""),
        response_id=optional(doc, "id", str, ""),
        input_tokens=optional(usage, "input_tokens", int, "usage."),
        output_tokens=optional(usage, "output_tokens", int, "usage."),
    )


def assemble_stream(content: bytes) -> tuple[Reply, int | None]:
    """Messages stream events -> one Reply; an `error` event mid-stream is a protocol error."""
    return message_events([(event.end, event_json(event)) for event in sse_events(content)])


def message_events(docs: list[tuple[int, dict[str, Any]]]) -> tuple[Reply, int | None]:
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
            raise ProviderProtocolError(f"error event mid-stream: {error_text(doc.get('error'))}")
        if kind == "message_start":
            message = dict(as_object(doc.get("message")))
        elif kind == "content_block_delta" and (
            as_object(doc.get("delta")).get("type") == "text_delta"
        ):
            delta = doc["delta"].get("text", "")
            text.append(delta if isinstance(delta, str) else "")
            first = end if first is None else first
        elif kind == "message_delta":
            message["stop_reason"] = as_object(doc.get("delta")).get("stop_reason")
            usage = {**as_object(message.get("usage")), **as_object(doc.get("usage"))}
            message["usage"] = usage
        elif kind == "message_stop":
            stopped = True
    if not message:
        raise ProviderProtocolError("stream has no message_start event")
    if not stopped:
        raise ProviderProtocolError("stream ends without message_stop")
    message["content"] = [{"type": "text", "text": "".join(text)}]
    return parse(json.dumps(message).encode()), first


SPEC = WireSpec(
    name="anthropic_messages",
    path=path,
    build_body=build_body,
    headers=build_headers,
    parse=parse,
    assemble_stream=assemble_stream,
    capabilities=Capabilities(logprobs=False, seed=False),
    stream_fields={"stream": True},
    rate_limit_statuses=RATE_LIMIT_STATUSES,
)
