"""What each wire API can serve, so a probe it cannot serve is skipped with a reason.

A probe that asks for logprobs from Bedrock Converse would otherwise "fail" its top-token
check on every run, which is a config mistake rather than a platform fault. `unsupported`
returns the reason a request cannot be served as written, or None.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.types import ProbeRequest


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Request features a wire API honours; `max_context_tokens` None means not enforced here."""

    logprobs: bool
    seed: bool
    system_prompt: bool = True
    stop_sequences: bool = True
    json_mode: bool = False
    max_context_tokens: int | None = None


CAPABILITIES: dict[str, Capabilities] = {
    "openai_chat": Capabilities(logprobs=True, seed=True, json_mode=True),
    "azure_openai_chat": Capabilities(logprobs=True, seed=True, json_mode=True),
    "openai_responses": Capabilities(
        logprobs=True, seed=False, stop_sequences=False, json_mode=True
    ),
    "anthropic_messages": Capabilities(logprobs=False, seed=False),
    "bedrock_converse": Capabilities(logprobs=False, seed=False),
    "bedrock_invoke": Capabilities(logprobs=False, seed=False),
    "vertex_anthropic": Capabilities(logprobs=False, seed=False),
    "vertex_gemini": Capabilities(logprobs=True, seed=True, json_mode=True),
}


def unsupported(api: str, request: ProbeRequest) -> str | None:
    """Why `api` cannot serve `request` as written (e.g. "bedrock_converse has no logprobs")."""
    caps = CAPABILITIES.get(api)
    if caps is None:
        return None
    if request.top_logprobs is not None and not caps.logprobs:
        return f"{api} has no logprobs"
    if request.seed is not None and not caps.seed:
        return f"{api} has no seed"
    if request.system is not None and not caps.system_prompt:
        return f"{api} has no system prompt"
    if request.stop and not caps.stop_sequences:
        return f"{api} has no stop sequences"
    return None
