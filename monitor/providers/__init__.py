"""One module per wire API, one signature, one registry.

Each module exposes `async def complete(client, target, request) -> Reply` and raises only
`ProviderError` subclasses. Nothing outside this package knows a wire format.
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
