"""One module per wire API, one signature, two registries (plain and streamed).

Each module exposes `async def complete(client, target, request) -> Reply` and raises only
`ProviderError` subclasses; `streams` has the streamed twin of each. `sender` picks one for a
request. Nothing outside this package knows a wire format.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from monitor.providers import (
    anthropic_messages,
    azure_openai,
    bedrock,
    openai_chat,
    openai_responses,
    streams,
    vertex,
)

if TYPE_CHECKING:
    import httpx

    from monitor.config import Target
    from monitor.types import ProbeRequest, Reply

CompleteFn = Callable[["httpx.AsyncClient", "Target", "ProbeRequest"], Awaitable["Reply"]]

PROVIDERS: dict[str, CompleteFn] = {
    "openai_chat": openai_chat.complete,
    "anthropic_messages": anthropic_messages.complete,
    "openai_responses": openai_responses.complete,
    "azure_openai_chat": azure_openai.complete,
    "bedrock_converse": bedrock.complete,
    "bedrock_invoke": bedrock.complete_invoke,
    "vertex_anthropic": vertex.complete_anthropic,
    "vertex_gemini": vertex.complete_gemini,
}

STREAMERS: dict[str, CompleteFn] = {
    "openai_chat": streams.openai_chat_stream,
    "anthropic_messages": streams.anthropic_stream,
    "openai_responses": streams.openai_responses_stream,
    "azure_openai_chat": streams.azure_openai_stream,
    "bedrock_converse": streams.bedrock_converse_stream,
    "bedrock_invoke": streams.bedrock_invoke_stream,
    "vertex_anthropic": streams.vertex_anthropic_stream,
    "vertex_gemini": streams.vertex_gemini_stream,
}


def sender(api: str, request: ProbeRequest) -> CompleteFn:
    """The function that sends `request` on `api`: streamed when the request asks for it."""
    return (STREAMERS if request.stream else PROVIDERS)[api]
