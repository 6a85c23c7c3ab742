"""Streamed replies in each vendor's wire format: SSE events or AWS event-stream frames.

Each renderer turns a `Generation` into the list of byte chunks the server writes one at a
time, one token per delta as real servers do, so the daemon's time to first token and
output rate are measured on a real stream. The final non-streamed body (`wire.render`) is
the source of truth for ids, finish reasons and usage, so a streamed and a plain reply of
the same generation carry the same facts. Shapes are those of the official SDKs' stream
event models and botocore's bedrock-runtime event-stream shapes (the tests check both).
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Callable
from typing import Any

from canary_sim import anthropic_wire, bedrock_wire, openai_wire, responses_wire, vertex_wire
from canary_sim.records import ChatRequest, Generation

SSE = "text/event-stream"
EVENT_STREAM = "application/vnd.amazon.eventstream"

Renderer = Callable[[ChatRequest, Generation, str], list[bytes]]


def sse(data: dict[str, Any] | str, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message: prelude, CRC, string headers, payload, message CRC."""
    encoded = b"".join(
        struct.pack(">B", len(name))
        + name.encode()
        + b"\x07"
        + struct.pack(">H", len(value))
        + value.encode()
        for name, value in headers.items()
    )
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    head = prelude + struct.pack(">I", zlib.crc32(prelude))
    body = head + encoded + payload
    return body + struct.pack(">I", zlib.crc32(body))


def aws_event(event_type: str, payload: dict[str, Any]) -> bytes:
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return frame(headers, json.dumps(payload, ensure_ascii=False).encode())


def openai_chat(request: ChatRequest, gen: Generation, response_id: str) -> list[bytes]:
    """`chat.completion.chunk`s: role, one token each (with its logprobs), finish, usage."""
    full = openai_wire.render(request, gen, response_id)
    head = {k: full[k] for k in ("id", "created", "model", "system_fingerprint", "service_tier")}
    logprobs = (full["choices"][0]["logprobs"] or {}).get("content") or []

    def chunk(delta: dict[str, Any], finish: str | None = None, entry: Any = None) -> bytes:
        choice = {
            "index": 0,
            "delta": delta,
            "logprobs": None if entry is None else {"content": [entry], "refusal": None},
            "finish_reason": finish,
        }
        return sse({**head, "object": "chat.completion.chunk", "choices": [choice]})

    chunks = [chunk({"role": "assistant", "content": ""})]
    for i, token in enumerate(gen.tokens):
        chunks.append(chunk({"content": token}, entry=logprobs[i] if logprobs else None))
    chunks.append(chunk({}, full["choices"][0]["finish_reason"]))
    chunks.append(
        sse({**head, "object": "chat.completion.chunk", "choices": [], "usage": full["usage"]})
    )
    chunks.append(sse("[DONE]"))
    return chunks


def _anthropic_events(
    request: ChatRequest, gen: Generation, response_id: str
) -> list[dict[str, Any]]:
    full = anthropic_wire.render(request, gen, response_id)
    usage = full["usage"]
    start = {**full, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**usage, "output_tokens": 1}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
    ]
    events += [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}
        for t in gen.tokens
    ]
    events += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": full["stop_reason"], "stop_sequence": full["stop_sequence"]},
            "usage": {"output_tokens": usage["output_tokens"]},
        },
        {"type": "message_stop"},
    ]
    return events


def anthropic(request: ChatRequest, gen: Generation, response_id: str) -> list[bytes]:
    """Messages stream events, each named in its `event:` line."""
    return [sse(e, e["type"]) for e in _anthropic_events(request, gen, response_id)]


def gemini(request: ChatRequest, gen: Generation, response_id: str) -> list[bytes]:
    """GenerateContentResponse chunks; the last carries finishReason and usage."""
    full = vertex_wire.render_gemini(request, gen, response_id)
    candidate = full["candidates"][0]
    logprobs = candidate.get("logprobsResult")
    chunks = []
    for i, token in enumerate(gen.tokens):
        part: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": token}]}}
        if logprobs is not None:
            part["logprobsResult"] = {
                "topCandidates": logprobs["topCandidates"][i : i + 1],
                "chosenCandidates": logprobs["chosenCandidates"][i : i + 1],
            }
        if i == len(gen.tokens) - 1:
            part["finishReason"] = candidate["finishReason"]
        body = {"candidates": [part], "modelVersion": full["modelVersion"]}
        body["responseId"] = response_id
        if i == len(gen.tokens) - 1:
            body["usageMetadata"] = full["usageMetadata"]
        chunks.append(sse(body))
    if not gen.tokens:
        chunks.append(sse(full))
    return chunks


def responses(request: ChatRequest, gen: Generation, response_id: str) -> list[bytes]:
    """Responses API events, numbered, ending in `response.completed` (or `.incomplete`)."""
    full = responses_wire.render_responses(request, gen, response_id)
    item = full["output"][0]
    text = item["content"][0]
    pending = {**full, "status": "in_progress", "output": [], "usage": None}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": pending},
        {"type": "response.in_progress", "response": pending},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**item, "status": "in_progress", "content": []},
        },
        {
            "type": "response.content_part.added",
            "item_id": item["id"],
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": []},
        },
    ]
    where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
    for i, token in enumerate(gen.tokens):
        delta: dict[str, Any] = {"type": "response.output_text.delta", **where, "delta": token}
        delta["logprobs"] = text["logprobs"][i : i + 1] if "logprobs" in text else []
        events.append(delta)
    events += [
        {
            "type": "response.output_text.done",
            **where,
            "text": gen.text,
            "logprobs": text.get("logprobs", []),
        },
        {"type": "response.content_part.done", **where, "part": text},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {
            "type": "response.completed"
            if full["status"] == "completed"
            else "response.incomplete",
            "response": full,
        },
    ]
    return [sse({**e, "sequence_number": n}, e["type"]) for n, e in enumerate(events)]


def converse(request: ChatRequest, gen: Generation, response_id: str) -> list[bytes]:
    """ConverseStream frames: messageStart, a delta per token, stops, metadata."""
    full = bedrock_wire.render_converse(request, gen, response_id)
    frames = [aws_event("messageStart", {"role": "assistant"})]
    frames += [
        aws_event("contentBlockDelta", {"delta": {"text": t}, "contentBlockIndex": 0})
        for t in gen.tokens
    ]
    frames += [
        aws_event("contentBlockStop", {"contentBlockIndex": 0}),
        aws_event("messageStop", {"stopReason": full["stopReason"]}),
        aws_event("metadata", {"usage": full["usage"], "metrics": {"latencyMs": 100}}),
    ]
    return frames


def invoke(request: ChatRequest, gen: Generation, response_id: str) -> list[bytes]:
    """InvokeModelWithResponseStream: each Anthropic stream event base64 in a `chunk` frame."""
    return [
        aws_event("chunk", {"bytes": base64.b64encode(json.dumps(e).encode()).decode()})
        for e in _anthropic_events(request, gen, response_id)
    ]


RENDERERS: dict[str, tuple[Renderer, str]] = {
    "openai_chat": (openai_chat, SSE),
    "azure_openai_chat": (openai_chat, SSE),
    "anthropic_messages": (anthropic, SSE),
    "vertex_anthropic": (anthropic, SSE),
    "vertex_gemini": (gemini, SSE),
    "openai_responses": (responses, SSE),
    "bedrock_converse": (converse, EVENT_STREAM),
    "bedrock_invoke": (invoke, EVENT_STREAM),
}


def malformed(chunks: list[bytes], mode: str) -> list[bytes]:
    """A broken stream: cut mid-chunk (`truncated`) or ended early at a chunk boundary."""
    if mode == "truncated":
        body = b"".join(chunks)
        return [body[: len(body) // 2]]
    return chunks[: max(1, len(chunks) // 2)]
