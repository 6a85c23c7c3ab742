"""A registry of wire specs: one module per wire API (or family), one table, one `send`.

Each module declares a `wire.WireSpec` per API it speaks (request path, body and header
builders, reply parser, stream assembler, capabilities, auth); `WIRE_SPECS` lists them by the
config's `api:` name, and `send` sends a probe on its target's API, streamed when the request
asks for it. Every spec raises only `ProviderError` subclasses. Nothing outside this package
knows a wire format.
"""

from __future__ import annotations

import httpx

from monitor.config.model import Target
from monitor.providers import (
    anthropic_messages,
    azure_openai,
    bedrock,
    openai_chat,
    openai_responses,
    vertex,
)
from monitor.providers.wire import WireSpec
from monitor.types import ProbeRequest, Reply

#: Every wire API by its `api:` name; the same names as `config_model.API_NAMES` (a test
#: holds the two together, so the config need not import this package to check `api:`).
WIRE_SPECS: dict[str, WireSpec] = {
    spec.name: spec
    for spec in (
        openai_chat.SPEC,
        anthropic_messages.SPEC,
        openai_responses.SPEC,
        azure_openai.SPEC,
        bedrock.CONVERSE,
        bedrock.INVOKE,
        vertex.ANTHROPIC,
        vertex.GEMINI,
    )
}


async def send(client: httpx.AsyncClient, target: Target, request: ProbeRequest) -> Reply:
    """Send `request` on `target.api` and return the normalised reply (streamed when
    `request.stream`); raises only `ProviderError`s."""
    return await WIRE_SPECS[target.api].send(client, target, request)
