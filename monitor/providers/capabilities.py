"""Whether a wire API can serve a request, so a probe it cannot serve is skipped with a reason.

A probe that asks for logprobs from Bedrock Converse would otherwise "fail" its top-token
check on every run, which is a config mistake rather than a platform fault. `unsupported`
returns the capability a request needs and the API lacks, with a sentence, or None; the
daemon then skips that probe on that target (`monitor.servable`) and says so in
`canary_probes_skipped`, the targets API and `canary validate`. What each API can serve is
its spec's `capabilities` (`wire.Capabilities`).
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.config.probes import CHARS_PER_TOKEN
from monitor.providers import WIRE_SPECS
from monitor.types import ProbeRequest

#: The closed set of reasons a probe is skipped: the `capability` label of
#: `canary_probes_skipped`.
CAPABILITY_NAMES = ("logprobs", "system_prompt", "stop_sequences", "streaming", "max_context")


@dataclass(frozen=True, slots=True)
class Unsupported:
    """The capability a request needs and the API lacks, and a sentence saying so."""

    capability: str  # one of CAPABILITY_NAMES
    reason: str


def estimated_tokens(request: ProbeRequest) -> int:
    """Prompt plus reply tokens, at about 4 characters per token (as padding assumes)."""
    chars = sum(len(m.content) for m in request.messages) + len(request.system or "")
    return chars // CHARS_PER_TOKEN + request.max_tokens


def unsupported(
    api: str,
    request: ProbeRequest,
    *,
    needs_logprobs: bool = True,
    max_context_tokens: int | None = None,
) -> Unsupported | None:
    """Why `api` cannot serve `request` as written (e.g. "bedrock_converse has no logprobs").

    A seed and JSON mode are hints a platform may ignore (suites set a seed for every probe);
    logprobs are a hint too unless a detector reads them (`needs_logprobs`). Stop sequences,
    a system prompt and streaming change what comes back, so lacking them skips the probe.
    `max_context_tokens` (the target's, else the API's) bounds the estimated prompt + reply.
    """
    spec = WIRE_SPECS.get(api)
    if spec is None:
        return None
    caps = spec.capabilities
    wants_logprobs = request.top_logprobs is not None and needs_logprobs
    lacking = (
        ("logprobs", wants_logprobs and not caps.logprobs, "logprobs"),
        ("system_prompt", request.system is not None and not caps.system_prompt, "system prompt"),
        ("stop_sequences", bool(request.stop) and not caps.stop_sequences, "stop sequences"),
        ("streaming", request.stream and not caps.streaming, "streaming"),
    )
    for capability, missing, words in lacking:
        if missing:
            return Unsupported(capability, f"{api} has no {words}")
    limit = max_context_tokens or caps.max_context_tokens
    if limit is not None and (needed := estimated_tokens(request)) > limit:
        return Unsupported(
            "max_context", f"needs about {needed} tokens; the target serves at most {limit}"
        )
    return None
