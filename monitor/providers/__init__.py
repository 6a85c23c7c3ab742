"""One module per wire API, one signature, one registry.

Each module exposes `async def complete(client, target, request) -> Reply` and raises only
`ProviderError` subclasses. Nothing outside this package knows a wire format.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from monitor.providers import anthropic_messages, openai_chat

if TYPE_CHECKING:
    import httpx

    from monitor.config import Target
    from monitor.types import ProbeRequest, Reply

CompleteFn = Callable[["httpx.AsyncClient", "Target", "ProbeRequest"], Awaitable["Reply"]]

PROVIDERS: dict[str, CompleteFn] = {
    "openai_chat": openai_chat.complete,
    "anthropic_messages": anthropic_messages.complete,
}
