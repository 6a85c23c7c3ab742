"""Google Vertex AI: Anthropic models via `rawPredict`, Gemini via `generateContent`.

URLs are `v1/projects/{project}/locations/{location}/publishers/{anthropic|google}/models/
{model}:{method}` under `target.base_url` (default `https://{location}-aiplatform.googleapis.com/`).
Requests carry an OAuth2 bearer token from google-auth (see `google_auth`); no `credentials:`
key is used. rawPredict takes the Anthropic body without `model` and with Vertex's
`anthropic_version`, and answers with an Anthropic Message. Gemini supports seed and logprobs;
429 (RESOURCE_EXHAUSTED) is throttling on both, as is 529 overloaded from Anthropic models.
Streamed: streamRawPredict (Anthropic SSE events) and streamGenerateContent with `alt=sse`.
Two wire APIs, two specs: `ANTHROPIC` and `GEMINI`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import quote

from monitor.config.model import Target
from monitor.errors import ProviderProtocolError
from monitor.providers import anthropic_messages
from monitor.providers.google_auth import GoogleBearer, source_for
from monitor.providers.http import (
    json_object,
    optional,
    probe_headers,
    required,
    summarise_error,
)
from monitor.providers.stream_parse import sse_events
from monitor.providers.wire import Capabilities, WireSpec
from monitor.types import FinishReason, ProbeRequest, Reply, TokenLogprob

ANTHROPIC_VERSION = "vertex-2023-10-16"
RATE_LIMIT_STATUSES = frozenset({429, 529})

FINISH_REASONS: dict[str, FinishReason] = {
    "STOP": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    "SAFETY": FinishReason.CONTENT_FILTER,
    "RECITATION": FinishReason.CONTENT_FILTER,
    "BLOCKLIST": FinishReason.CONTENT_FILTER,
    "PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
    "SPII": FinishReason.CONTENT_FILTER,
    "MALFORMED_FUNCTION_CALL": FinishReason.TOOL_CALLS,
}


def model_path(target: Target, publisher: str, method: str) -> str:
    """The publisher-model method path (project and location are validated to be set)."""
    model = quote(target.wire_model, safe="@.-_")
    return (
        f"v1/projects/{target.project}/locations/{target.location}"
        f"/publishers/{publisher}/models/{model}:{method}"
    )


def bearer(target: Target) -> GoogleBearer:
    return GoogleBearer(source_for(target.credentials_file))


def build_anthropic_body(target: Target, request: ProbeRequest) -> dict[str, Any]:
    """The Anthropic Messages body without `model`, with Vertex's `anthropic_version`."""
    body = anthropic_messages.build_body(target, request)
    del body["model"]
    return {"anthropic_version": ANTHROPIC_VERSION, **body}


def build_gemini_body(target: Target, request: ProbeRequest) -> dict[str, Any]:
    """`contents` (assistant turns are role `model`), `systemInstruction`, `generationConfig`."""
    del target  # the model is in the path
    config: dict[str, Any] = {
        "maxOutputTokens": request.max_tokens,
        "temperature": request.temperature,
    }
    if request.top_p is not None:
        config["topP"] = request.top_p
    if request.seed is not None:
        config["seed"] = request.seed
    if request.stop:
        config["stopSequences"] = list(request.stop)
    if request.top_logprobs is not None:
        config["responseLogprobs"] = True
        config["logprobs"] = request.top_logprobs
    if request.json_mode:
        config["responseMimeType"] = "application/json"
    body: dict[str, Any] = {
        "contents": [
            {"role": "model" if m.role == "assistant" else m.role, "parts": [{"text": m.content}]}
            for m in request.messages
        ],
        "generationConfig": config,
    }
    if request.system is not None:
        body["systemInstruction"] = {"parts": [{"text": request.system}]}
    return body


def headers(target: Target, request: ProbeRequest) -> dict[str, str]:
    """Probe headers only: the bearer token is added by `bearer`."""
    del target
    return probe_headers(request, {})


def anthropic_path(target: Target) -> str:
    return model_path(target, "anthropic", "rawPredict")


def anthropic_stream_path(target: Target) -> str:
    return model_path(target, "anthropic", "streamRawPredict")


def gemini_path(target: Target) -> str:
    return model_path(target, "google", "generateContent")


def gemini_stream_path(target: Target) -> str:
    return model_path(target, "google", "streamGenerateContent") + "?alt=sse"


def parse_gemini(content: bytes) -> Reply:
    """The first candidate of a GenerateContentResponse; ProviderProtocolError if malformed.

    A prompt blocked before generation has no candidates: that is an empty, filtered reply.
    """
    doc = json_object(content)
    if doc.get("error") is not None:
        raise ProviderProtocolError(f"error body on a 2xx: {summarise_error(content)}")
    usage = optional(doc, "usageMetadata", dict, "") or {}
    common: dict[str, Any] = {
        "model": optional(doc, "modelVersion", str, ""),
        "response_id": optional(doc, "responseId", str, ""),
        "input_tokens": optional(usage, "promptTokenCount", int, "usageMetadata."),
        "output_tokens": optional(usage, "candidatesTokenCount", int, "usageMetadata."),
    }
    candidates = optional(doc, "candidates", list, "")
    if not candidates:
        feedback = optional(doc, "promptFeedback", dict, "") or {}
        blocked = optional(feedback, "blockReason", str, "promptFeedback.")
        if blocked is None:
            raise ProviderProtocolError("candidates is missing")
        return Reply(
            text="", finish_reason=FinishReason.CONTENT_FILTER, raw_finish_reason=blocked, **common
        )
    candidate = candidates[0]
    if not isinstance(candidate, dict):
        raise ProviderProtocolError("candidates[0] is not an object")
    texts: list[str] = []
    body = optional(candidate, "content", dict, "candidates[0].") or {}
    for i, part in enumerate(optional(body, "parts", list, "candidates[0].content.") or []):
        where = f"candidates[0].content.parts[{i}]"
        if not isinstance(part, dict):
            raise ProviderProtocolError(f"{where} is not an object")
        if not part.get("thought"):
            texts.append(optional(part, "text", str, f"{where}.") or "")
    raw = optional(candidate, "finishReason", str, "candidates[0].")
    return Reply(
        text="".join(texts),
        finish_reason=None if raw is None else FINISH_REASONS.get(raw, FinishReason.OTHER),
        raw_finish_reason=raw,
        logprobs=_logprobs(candidate),
        **common,
    )


def _logprobs(candidate: dict[str, Any]) -> tuple[TokenLogprob, ...] | None:
    """`logprobsResult`: chosen tokens with the top candidates at each step."""
    result = optional(candidate, "logprobsResult", dict, "candidates[0].")
    if result is None:
        return None
    where = "candidates[0].logprobsResult."
    chosen = required(result, "chosenCandidates", list, where)
    tops = optional(result, "topCandidates", list, where) or []
    tokens: list[TokenLogprob] = []
    for i, entry in enumerate(chosen):
        token, logprob = _token(entry, f"{where}chosenCandidates[{i}]")
        step = tops[i] if i < len(tops) and isinstance(tops[i], dict) else {}
        alternatives = optional(step, "candidates", list, f"{where}topCandidates[{i}].") or []
        top = tuple(
            _token(alt, f"{where}topCandidates[{i}].candidates[{j}]")
            for j, alt in enumerate(alternatives)
        )
        tokens.append(TokenLogprob(token=token, logprob=logprob, top=top))
    return tuple(tokens)


def _token(entry: Any, where: str) -> tuple[str, float]:
    if not isinstance(entry, dict):
        raise ProviderProtocolError(f"{where} is not an object")
    return required(entry, "token", str, f"{where}."), required(
        entry, "logProbability", float, f"{where}."
    )


def assemble_gemini_stream(content: bytes) -> tuple[Reply, int | None]:
    """GenerateContentResponse chunks -> one Reply (finish and usage from the last chunk)."""
    replies: list[Reply] = []
    first: int | None = None
    for event in sse_events(content):
        reply = parse_gemini(event.data.encode())
        if reply.text and first is None:
            first = event.end
        replies.append(reply)
    if not replies:
        raise ProviderProtocolError("stream has no events")
    if replies[-1].finish_reason is None:
        raise ProviderProtocolError("stream ends without a finishReason")
    chunks = [r.logprobs for r in replies if r.logprobs is not None]
    logprobs = tuple(t for chunk in chunks for t in chunk) if chunks else None
    return replace(replies[-1], text="".join(r.text for r in replies), logprobs=logprobs), first


ANTHROPIC = WireSpec(
    name="vertex_anthropic",
    path=anthropic_path,
    stream_path=anthropic_stream_path,
    build_body=build_anthropic_body,
    headers=headers,
    parse=anthropic_messages.parse,
    assemble_stream=anthropic_messages.assemble_stream,
    capabilities=Capabilities(logprobs=False, seed=False),
    auth=bearer,
    stream_fields={"stream": True},
    rate_limit_statuses=RATE_LIMIT_STATUSES,
)

GEMINI = WireSpec(
    name="vertex_gemini",
    path=gemini_path,
    stream_path=gemini_stream_path,
    build_body=build_gemini_body,
    headers=headers,
    parse=parse_gemini,
    assemble_stream=assemble_gemini_stream,
    capabilities=Capabilities(logprobs=True, seed=True, json_mode=True),
    auth=bearer,
)
