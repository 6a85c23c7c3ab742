"""Google Vertex AI: Anthropic models via `rawPredict`, Gemini via `generateContent`.

URLs are `v1/projects/{project}/locations/{location}/publishers/{anthropic|google}/models/
{model}:{method}` under `target.base_url` (default `https://{location}-aiplatform.googleapis.com/`).
Requests carry an OAuth2 bearer token from google-auth (see `google_auth`); no `credentials:`
key is used. rawPredict takes the Anthropic body without `model` and with Vertex's
`anthropic_version`, and answers with an Anthropic Message. Gemini supports seed and logprobs;
429 (RESOURCE_EXHAUSTED) is throttling on both, as is 529 overloaded from Anthropic models.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from monitor.config import Target
from monitor.errors import ProviderProtocolError
from monitor.providers import anthropic_messages
from monitor.providers.google_auth import GoogleBearer, source_for
from monitor.providers.http import (
    finish_reply,
    json_object,
    optional,
    post_json,
    probe_headers,
    required,
    summarise_error,
)
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


async def complete_anthropic(
    client: httpx.AsyncClient,
    target: Target,
    request: ProbeRequest,
    *,
    auth: httpx.Auth | None = None,
) -> Reply:
    """Send one probe to an Anthropic model through rawPredict; the reply is a Message."""
    response, content, latency_s = await post_json(
        client,
        target,
        model_path(target, "anthropic", "rawPredict"),
        build_anthropic_body(target, request),
        probe_headers(request, {}),
        rate_limit_statuses=RATE_LIMIT_STATUSES,
        auth=auth if auth is not None else bearer(target),
    )
    return finish_reply(anthropic_messages.parse, target, response, content, latency_s)


async def complete_gemini(
    client: httpx.AsyncClient,
    target: Target,
    request: ProbeRequest,
    *,
    auth: httpx.Auth | None = None,
) -> Reply:
    """Send one probe to a Gemini model through generateContent."""
    response, content, latency_s = await post_json(
        client,
        target,
        model_path(target, "google", "generateContent"),
        build_gemini_body(target, request),
        probe_headers(request, {}),
        auth=auth if auth is not None else bearer(target),
    )
    return finish_reply(parse_gemini, target, response, content, latency_s)


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
