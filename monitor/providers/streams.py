"""Streamed replies (SSE): OpenAI chat, Anthropic Messages and Vertex (Gemini and Anthropic).

Not yet wired into probes: the runner, a `stream` probe option and the TTFT histograms belong
to runner.py, probes.py and metrics.py; `STREAMERS` is the entry point they will call.

Streaming is its own code path, where truncation and corruption show up on their own, so the
assembled text goes through the same detectors as a non-streamed reply. The whole stream is
read under the target's deadline and size cap (`http.post_json`), with a (bytes, seconds)
mark per chunk; the time to first token is the mark of the chunk that completed the first
event carrying text. Bedrock's ConverseStream (AWS event stream) is not implemented yet.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from monitor.config import Target
from monitor.providers import anthropic_messages, openai_chat, vertex
from monitor.providers.http import api_path, finish_reply, post_json, probe_headers
from monitor.providers.stream_parse import assemble_anthropic, assemble_gemini, assemble_openai
from monitor.types import ProbeRequest, Reply


@dataclass(frozen=True, slots=True)
class StreamTiming:
    """Seconds from sending the request to the first text; output tokens per second after."""

    time_to_first_token_s: float | None
    output_tokens_per_s: float | None


StreamFn = Callable[
    [httpx.AsyncClient, Target, ProbeRequest], Awaitable[tuple[Reply, StreamTiming]]
]


def _timing(
    marks: list[tuple[int, float]], first: int | None, reply: Reply, latency_s: float
) -> StreamTiming:
    ttft = None if first is None else next((t for size, t in marks if size >= first), None)
    rate = None
    if ttft is not None and reply.output_tokens and latency_s > ttft:
        rate = reply.output_tokens / (latency_s - ttft)
    return StreamTiming(ttft, rate)


async def _stream(
    client: httpx.AsyncClient,
    target: Target,
    request: ProbeRequest,
    *,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    assemble: Callable[[bytes], tuple[Reply, int | None]],
    auth: httpx.Auth | None = None,
    rate_limit_statuses: frozenset[int] = frozenset({429}),
) -> tuple[Reply, StreamTiming]:
    del request
    marks: list[tuple[int, float]] = []
    response, content, latency_s = await post_json(
        client,
        target,
        path,
        body,
        headers,
        auth=auth,
        chunk_marks=marks,
        rate_limit_statuses=rate_limit_statuses,
    )
    first: list[int | None] = []

    def parse(raw: bytes) -> Reply:
        reply, offset = assemble(raw)
        first.append(offset)
        return reply

    reply = finish_reply(parse, target, response, content, latency_s)
    return reply, _timing(marks, first[0], reply, latency_s)


async def openai_chat_stream(
    client: httpx.AsyncClient, target: Target, request: ProbeRequest
) -> tuple[Reply, StreamTiming]:
    """`stream: true` with usage in the last chunk."""
    body = {
        **openai_chat.build_body(target, request),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    return await _stream(
        client,
        target,
        request,
        path=api_path(target, openai_chat.PATH),
        body=body,
        headers=openai_chat.build_headers(target, request),
        assemble=assemble_openai,
    )


async def anthropic_stream(
    client: httpx.AsyncClient, target: Target, request: ProbeRequest
) -> tuple[Reply, StreamTiming]:
    body = {**anthropic_messages.build_body(target, request), "stream": True}
    return await _stream(
        client,
        target,
        request,
        path=api_path(target, anthropic_messages.PATH),
        body=body,
        headers=anthropic_messages.build_headers(target, request),
        assemble=assemble_anthropic,
        rate_limit_statuses=anthropic_messages.RATE_LIMIT_STATUSES,
    )


async def vertex_anthropic_stream(
    client: httpx.AsyncClient,
    target: Target,
    request: ProbeRequest,
    *,
    auth: httpx.Auth | None = None,
) -> tuple[Reply, StreamTiming]:
    """streamRawPredict: the rawPredict body with `stream: true`, answered with SSE."""
    body = {**vertex.build_anthropic_body(target, request), "stream": True}
    return await _stream(
        client,
        target,
        request,
        path=vertex.model_path(target, "anthropic", "streamRawPredict"),
        body=body,
        headers=probe_headers(request, {}),
        assemble=assemble_anthropic,
        auth=auth if auth is not None else vertex.bearer(target),
        rate_limit_statuses=vertex.RATE_LIMIT_STATUSES,
    )


async def vertex_gemini_stream(
    client: httpx.AsyncClient,
    target: Target,
    request: ProbeRequest,
    *,
    auth: httpx.Auth | None = None,
) -> tuple[Reply, StreamTiming]:
    """streamGenerateContent with `alt=sse`."""
    path = vertex.model_path(target, "google", "streamGenerateContent") + "?alt=sse"
    return await _stream(
        client,
        target,
        request,
        path=path,
        body=vertex.build_gemini_body(target, request),
        headers=probe_headers(request, {}),
        assemble=assemble_gemini,
        auth=auth if auth is not None else vertex.bearer(target),
    )


STREAMERS: dict[str, StreamFn] = {
    "openai_chat": openai_chat_stream,
    "anthropic_messages": anthropic_stream,
    "vertex_anthropic": vertex_anthropic_stream,
    "vertex_gemini": vertex_gemini_stream,
}
"""Wire APIs with a streaming path; the others (Bedrock, Responses, Azure) are not yet done."""
