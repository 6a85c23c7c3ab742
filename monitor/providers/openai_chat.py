"""OpenAI Chat Completions (`POST v1/chat/completions`), as spoken by OpenAI, vLLM and llama.cpp.

`target.base_url` is the server root without `/v1` (`https://api.openai.com/`,
`http://vllm:8000/`); see `http.api_path`. Only non-streaming requests are sent: a probe wants
the whole reply, its finish reason and logprobs in one body. The parser is strict about the
fields we read and ignores the rest (llama.cpp adds `timings`, and `id`/`bytes` per logprob),
because a reply of the wrong shape is itself a serving fault worth an outcome of its own.
"""

from __future__ import annotations

from typing import Any

import httpx

from monitor.config import Target
from monitor.errors import ProviderProtocolError
from monitor.providers.http import (
    api_path,
    finish_reply,
    json_object,
    optional,
    post_json,
    probe_headers,
    required,
    summarise_error,
)
from monitor.types import FinishReason, ProbeRequest, Reply, TokenLogprob

PATH = "v1/chat/completions"

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "content_filter": FinishReason.CONTENT_FILTER,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
}


def build_body(target: Target, request: ProbeRequest) -> dict[str, Any]:
    """The JSON request; optional sampling fields are sent only when the probe sets them."""
    messages = [{"role": "system", "content": request.system}] if request.system is not None else []
    messages += [{"role": m.role, "content": m.content} for m in request.messages]
    body: dict[str, Any] = {
        "model": target.wire_model,
        "messages": messages,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stream": False,
    }
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.seed is not None:
        body["seed"] = request.seed
    if request.stop:
        body["stop"] = list(request.stop)
    if request.top_logprobs is not None:
        body["logprobs"] = True
        body["top_logprobs"] = request.top_logprobs
    if request.json_mode:
        body["response_format"] = {"type": "json_object"}
    return body


def build_headers(target: Target, request: ProbeRequest) -> dict[str, str]:
    """Probe headers plus `Authorization: Bearer` when the target has a key."""
    auth = {}
    if target.api_key is not None:
        auth["Authorization"] = f"Bearer {target.api_key.get_secret_value()}"
    return probe_headers(request, auth)


async def complete(client: httpx.AsyncClient, target: Target, request: ProbeRequest) -> Reply:
    """Send one probe and return the normalised reply; raises only `ProviderError`s."""
    response, content, latency_s = await post_json(
        client,
        target,
        api_path(target, PATH),
        build_body(target, request),
        build_headers(target, request),
    )
    return finish_reply(parse, target, response, content, latency_s)


def parse(content: bytes) -> Reply:
    """The reply in a chat completion body (no HTTP fields); ProviderProtocolError if malformed."""
    doc = json_object(content)
    if doc.get("error") is not None:
        raise ProviderProtocolError(f"error body on a 2xx: {summarise_error(content)}")
    choices = required(doc, "choices", list, "")
    if not choices:
        raise ProviderProtocolError("choices is empty")
    choice = choices[0]
    if not isinstance(choice, dict):
        raise ProviderProtocolError("choices[0] is not an object")
    message = required(choice, "message", dict, "choices[0].")
    raw_finish = optional(choice, "finish_reason", str, "choices[0].")
    finish = None if raw_finish is None else FINISH_REASONS.get(raw_finish, FinishReason.OTHER)
    usage = optional(doc, "usage", dict, "") or {}
    return Reply(
        text=optional(message, "content", str, "choices[0].message.") or "",
        finish_reason=finish,
        raw_finish_reason=raw_finish,
        model=optional(doc, "model", str, ""),
        response_id=optional(doc, "id", str, ""),
        system_fingerprint=optional(doc, "system_fingerprint", str, ""),
        input_tokens=optional(usage, "prompt_tokens", int, "usage."),
        output_tokens=optional(usage, "completion_tokens", int, "usage."),
        logprobs=_logprobs(choice),
    )


def _logprobs(choice: dict[str, Any]) -> tuple[TokenLogprob, ...] | None:
    """`choices[0].logprobs.content`; None when absent (llama.cpp omits it, OpenAI sends null)."""
    logprobs = optional(choice, "logprobs", dict, "choices[0].")
    if logprobs is None:
        return None
    entries = optional(logprobs, "content", list, "choices[0].logprobs.")
    if entries is None:
        return None
    tokens: list[TokenLogprob] = []
    for i, entry in enumerate(entries):
        where = f"choices[0].logprobs.content[{i}]"
        token, logprob = _token(entry, where)
        alternatives = optional(entry, "top_logprobs", list, f"{where}.") or []
        top = tuple(_token(alt, f"{where}.top_logprobs[{j}]") for j, alt in enumerate(alternatives))
        tokens.append(TokenLogprob(token=token, logprob=logprob, top=top))
    return tuple(tokens)


def _token(entry: Any, where: str) -> tuple[str, float]:
    """(token, logprob) of one logprobs entry; extra keys (llama.cpp `id`, `bytes`) are ignored."""
    if not isinstance(entry, dict):
        raise ProviderProtocolError(f"{where} is not an object")
    return required(entry, "token", str, f"{where}."), required(
        entry, "logprob", float, f"{where}."
    )
