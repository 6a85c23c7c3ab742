"""OpenAI Chat Completions (`POST v1/chat/completions`), as spoken by OpenAI, vLLM and llama.cpp.

`target.base_url` is the server root without `/v1` (`https://api.openai.com/`,
`http://vllm:8000/`); see `http.api_path`. Streamed, the request adds `stream: true` with usage
in the last chunk, and the chunks are assembled into the body `parse` reads. The parser is
strict about the fields we read and ignores the rest (llama.cpp adds `timings`, and
`id`/`bytes` per logprob), because a reply of the wrong shape is itself a serving fault worth
an outcome of its own.
"""

from __future__ import annotations

import json
from typing import Any

from monitor.config.model import Target
from monitor.errors import ProviderProtocolError
from monitor.providers.http import (
    api_path,
    json_object,
    optional,
    probe_headers,
    required,
    summarise_error,
)
from monitor.providers.stream_parse import as_object, error_text, event_json, sse_events
from monitor.providers.wire import Capabilities, WireSpec
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


def path(target: Target) -> str:
    return api_path(target, PATH)


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


def assemble_stream(content: bytes) -> tuple[Reply, int | None]:
    """Chat-completion chunks -> one Reply (logprobs joined), and the first-text event's end."""
    text: list[str] = []
    entries: list[Any] = []
    first: int | None = None
    last: dict[str, Any] = {}
    finish: str | None = None
    usage: dict[str, Any] | None = None
    for event in sse_events(content):
        if event.data.strip() == "[DONE]":
            break
        doc = event_json(event)
        if doc.get("error") is not None:  # how vLLM, llama.cpp and OpenAI fail mid-stream
            raise ProviderProtocolError(f"error event mid-stream: {error_text(doc['error'])}")
        last = doc
        usage = doc.get("usage") or usage
        choices = doc.get("choices") or []
        if not isinstance(choices, list):
            raise ProviderProtocolError("stream chunk choices is not an array")
        for choice in choices:
            if not isinstance(choice, dict):
                raise ProviderProtocolError("stream chunk choice is not an object")
            delta = choice.get("delta") or {}
            content_delta = delta.get("content") if isinstance(delta, dict) else None
            if content_delta is not None and not isinstance(content_delta, str):
                raise ProviderProtocolError("choices[0].delta.content is not a string")
            if content_delta:
                text.append(content_delta)
                first = event.end if first is None else first
            logprob_entries = as_object(choice.get("logprobs")).get("content") or []
            if not isinstance(logprob_entries, list):
                raise ProviderProtocolError("choices[0].logprobs.content is not an array")
            entries += logprob_entries
            finish = choice.get("finish_reason") or finish
    if finish is None:
        raise ProviderProtocolError("stream ends without a finish_reason")
    body = {
        **{k: last.get(k) for k in ("id", "model", "system_fingerprint")},
        "choices": [
            {
                "message": {"content": "".join(text)},
                "finish_reason": finish,
                "logprobs": {"content": entries} if entries else None,
            }
        ],
        "usage": usage,
    }
    return parse(json.dumps(body).encode()), first


SPEC = WireSpec(
    name="openai_chat",
    path=path,
    build_body=build_body,
    headers=build_headers,
    parse=parse,
    assemble_stream=assemble_stream,
    capabilities=Capabilities(logprobs=True, seed=True, json_mode=True),
    stream_fields={"stream": True, "stream_options": {"include_usage": True}},
)
