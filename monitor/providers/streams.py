"""Streamed replies: the streaming twin of every wire API, behind the same `complete` signature.

Streaming is its own code path on the server, where truncation and corruption show up on
their own, so the assembled text goes through the same detectors as a non-streamed reply, and
the reply carries two timings the non-streamed path cannot measure: time to first token and
output tokens per second after it. The whole stream is read under the target's deadline and
size cap (`http.post_json`), with a (bytes, seconds) mark per chunk; the time to first token
is the mark of the chunk that completed the first event carrying text.

SSE for OpenAI Chat (and Azure deployments), the Responses API, Anthropic Messages and both
Vertex publishers; the AWS event stream for Bedrock's ConverseStream and
InvokeModelWithResponseStream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx

from monitor.config import Target
from monitor.providers import (
    anthropic_messages,
    azure_openai,
    bedrock,
    openai_chat,
    openai_responses,
    vertex,
)
from monitor.providers.http import api_path, finish_reply, post_json, probe_headers
from monitor.providers.stream_parse import (
    assemble_anthropic,
    assemble_converse,
    assemble_gemini,
    assemble_invoke_stream,
    assemble_openai,
    assemble_responses,
)
from monitor.types import ProbeRequest, Reply

EVENT_STREAM = "application/vnd.amazon.eventstream"

Assemble = Callable[[bytes], tuple[Reply, int | None]]


def timing(
    marks: list[tuple[int, float]], first: int | None, reply: Reply, latency_s: float
) -> tuple[float | None, float | None]:
    """(time to first token, output tokens per second after it) from the chunk marks."""
    ttft = None if first is None else next((t for size, t in marks if size >= first), None)
    rate = None
    if ttft is not None and reply.output_tokens and latency_s > ttft:
        rate = reply.output_tokens / (latency_s - ttft)
    return ttft, rate


async def _stream(
    client: httpx.AsyncClient,
    target: Target,
    *,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    assemble: Assemble,
    auth: httpx.Auth | None = None,
    rate_limit_statuses: frozenset[int] = frozenset({429}),
    error_type_header: str | None = None,
) -> Reply:
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
        error_type_header=error_type_header,
    )
    first: list[int | None] = []

    def parse(raw: bytes) -> Reply:
        reply, offset = assemble(raw)
        first.append(offset)
        return reply

    reply = finish_reply(parse, target, response, content, latency_s)
    ttft, rate = timing(marks, first[0], reply, latency_s)
    return replace(reply, time_to_first_token_s=ttft, output_tokens_per_s=rate)


async def openai_chat_stream(
    client: httpx.AsyncClient, target: Target, request: ProbeRequest
) -> Reply:
    """`stream: true` with usage in the last chunk."""
    body = {
        **openai_chat.build_body(target, request),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    return await _stream(
        client,
        target,
        path=api_path(target, openai_chat.PATH),
        body=body,
        headers=openai_chat.build_headers(target, request),
        assemble=assemble_openai,
    )


async def azure_openai_stream(
    client: httpx.AsyncClient, target: Target, request: ProbeRequest
) -> Reply:
    """Chat Completions chunks on the deployment path (the deployment names the model)."""
    body = {
        **openai_chat.build_body(target, request),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    del body["model"]
    return await _stream(
        client,
        target,
        path=azure_openai.deployment_path(target),
        body=body,
        headers=azure_openai.build_headers(target, request),
        assemble=assemble_openai,
    )


async def openai_responses_stream(
    client: httpx.AsyncClient, target: Target, request: ProbeRequest
) -> Reply:
    """Responses API events; deltas give the text, `response.completed` the rest."""
    return await _stream(
        client,
        target,
        path=api_path(target, openai_responses.PATH),
        body={**openai_responses.build_body(target, request), "stream": True},
        headers=openai_chat.build_headers(target, request),
        assemble=assemble_responses,
    )


async def anthropic_stream(
    client: httpx.AsyncClient, target: Target, request: ProbeRequest
) -> Reply:
    body = {**anthropic_messages.build_body(target, request), "stream": True}
    return await _stream(
        client,
        target,
        path=api_path(target, anthropic_messages.PATH),
        body=body,
        headers=anthropic_messages.build_headers(target, request),
        assemble=assemble_anthropic,
        rate_limit_statuses=anthropic_messages.RATE_LIMIT_STATUSES,
    )


async def _bedrock(
    client: httpx.AsyncClient,
    target: Target,
    request: ProbeRequest,
    *,
    action: str,
    body: dict[str, Any],
    assemble: Assemble,
    auth: httpx.Auth | None,
) -> Reply:
    """A SigV4-signed Bedrock streaming call, answered with AWS event-stream frames."""
    return await _stream(
        client,
        target,
        path=bedrock.model_path(target, action),
        body=body,
        headers=probe_headers(request, {"Accept": EVENT_STREAM}),
        assemble=assemble,
        auth=auth if auth is not None else bedrock.signer(target),
        error_type_header=bedrock.ERROR_TYPE_HEADER,
    )


async def bedrock_converse_stream(
    client: httpx.AsyncClient,
    target: Target,
    request: ProbeRequest,
    *,
    auth: httpx.Auth | None = None,
) -> Reply:
    """ConverseStream: the Converse body; `auth` overrides the signer (tests)."""
    body = bedrock.build_body(target, request)
    return await _bedrock(
        client,
        target,
        request,
        action="converse-stream",
        body=body,
        assemble=assemble_converse,
        auth=auth,
    )


async def bedrock_invoke_stream(
    client: httpx.AsyncClient,
    target: Target,
    request: ProbeRequest,
    *,
    auth: httpx.Auth | None = None,
) -> Reply:
    """InvokeModelWithResponseStream: Anthropic stream events inside event-stream chunks."""
    body = bedrock.build_invoke_body(target, request)
    return await _bedrock(
        client,
        target,
        request,
        action="invoke-with-response-stream",
        body=body,
        assemble=assemble_invoke_stream,
        auth=auth,
    )


async def vertex_anthropic_stream(
    client: httpx.AsyncClient,
    target: Target,
    request: ProbeRequest,
    *,
    auth: httpx.Auth | None = None,
) -> Reply:
    """streamRawPredict: the rawPredict body with `stream: true`, answered with SSE."""
    body = {**vertex.build_anthropic_body(target, request), "stream": True}
    return await _stream(
        client,
        target,
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
) -> Reply:
    """streamGenerateContent with `alt=sse`."""
    path = vertex.model_path(target, "google", "streamGenerateContent") + "?alt=sse"
    return await _stream(
        client,
        target,
        path=path,
        body=vertex.build_gemini_body(target, request),
        headers=probe_headers(request, {}),
        assemble=assemble_gemini,
        auth=auth if auth is not None else vertex.bearer(target),
    )
