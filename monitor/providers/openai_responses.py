"""OpenAI Responses API (`POST v1/responses`).

`target.base_url` is the server root without `/v1`; see `http.api_path`. The system prompt is
`instructions`; `store: false` so probes leave nothing behind. The API has no seed or stop
sequences: those probe settings are not sent. The finish reason comes from `status` and
`incomplete_details.reason` (`max_output_tokens` is a length stop); text is every
`output_text` part of every `message` item (reasoning items are skipped). Streamed, the text
comes from the deltas and the rest from the final `response.completed` event.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from monitor.config.model import Target
from monitor.errors import ProviderProtocolError
from monitor.providers.http import (
    api_path,
    json_object,
    optional,
    required,
    summarise_error,
)
from monitor.providers.openai_chat import build_headers
from monitor.providers.stream_parse import as_object, event_json, sse_events
from monitor.providers.wire import Capabilities, WireSpec
from monitor.types import FinishReason, ProbeRequest, Reply, TokenLogprob

PATH = "v1/responses"
# The Responses API refuses `max_output_tokens` below 16; a probe asking for fewer (a
# one-word answer with max_tokens 8) is sent 16 rather than refused. Answers that short stop
# on their own, and the length checks read the reply, not the request.
MIN_OUTPUT_TOKENS = 16
INCOMPLETE_REASONS: dict[str, FinishReason] = {
    "max_output_tokens": FinishReason.LENGTH,
    "content_filter": FinishReason.CONTENT_FILTER,
}


def build_body(target: Target, request: ProbeRequest) -> dict[str, Any]:
    """The JSON request; optional fields only when the probe sets them."""
    body: dict[str, Any] = {
        "model": target.wire_model,
        "input": [{"role": m.role, "content": m.content} for m in request.messages],
        "max_output_tokens": max(request.max_tokens, MIN_OUTPUT_TOKENS),
        "temperature": request.temperature,
        "store": False,
    }
    if request.system is not None:
        body["instructions"] = request.system
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.top_logprobs is not None:
        body["top_logprobs"] = request.top_logprobs
        body["include"] = ["message.output_text.logprobs"]
    if request.json_mode:
        body["text"] = {"format": {"type": "json_object"}}
    return body


def path(target: Target) -> str:
    return api_path(target, PATH)


def parse(content: bytes) -> Reply:
    """The reply in a Response object (no HTTP fields); ProviderProtocolError if malformed."""
    doc = json_object(content)
    if doc.get("error") is not None:
        raise ProviderProtocolError(f"error body on a 2xx: {summarise_error(content)}")
    status = required(doc, "status", str, "")
    if status not in ("completed", "incomplete"):
        raise ProviderProtocolError(f"status is {status!r}, not 'completed' or 'incomplete'")
    texts: list[str] = []
    logprobs: list[TokenLogprob] = []
    seen_logprobs = False
    for i, item in enumerate(required(doc, "output", list, "")):
        if not isinstance(item, dict):
            raise ProviderProtocolError(f"output[{i}] is not an object")
        if optional(item, "type", str, f"output[{i}].") != "message":
            continue
        for j, part in enumerate(required(item, "content", list, f"output[{i}].")):
            where = f"output[{i}].content[{j}]"
            if not isinstance(part, dict):
                raise ProviderProtocolError(f"{where} is not an object")
            if required(part, "type", str, f"{where}.") != "output_text":
                continue
            texts.append(required(part, "text", str, f"{where}."))
            entries = optional(part, "logprobs", list, f"{where}.")
            if entries:
                seen_logprobs = True
                logprobs.extend(_entry(e, f"{where}.logprobs[{k}]") for k, e in enumerate(entries))
    details = optional(doc, "incomplete_details", dict, "") or {}
    reason = optional(details, "reason", str, "incomplete_details.")
    if status == "completed":
        finish, raw = FinishReason.STOP, status
    else:
        finish = INCOMPLETE_REASONS.get(reason or "", FinishReason.OTHER)
        raw = reason or status
    usage = optional(doc, "usage", dict, "") or {}
    return Reply(
        text="".join(texts),
        finish_reason=finish,
        raw_finish_reason=raw,
        model=optional(doc, "model", str, ""),
        response_id=optional(doc, "id", str, ""),
        input_tokens=optional(usage, "input_tokens", int, "usage."),
        output_tokens=optional(usage, "output_tokens", int, "usage."),
        logprobs=tuple(logprobs) if seen_logprobs else None,
    )


def _entry(entry: Any, where: str) -> TokenLogprob:
    token, logprob = _token(entry, where)
    alternatives = optional(entry, "top_logprobs", list, f"{where}.") or []
    top = tuple(_token(alt, f"{where}.top_logprobs[{j}]") for j, alt in enumerate(alternatives))
    return TokenLogprob(token=token, logprob=logprob, top=top)


def _token(entry: Any, where: str) -> tuple[str, float]:
    if not isinstance(entry, dict):
        raise ProviderProtocolError(f"{where} is not an object")
    return required(entry, "token", str, f"{where}."), required(
        entry, "logprob", float, f"{where}."
    )


def assemble_stream(content: bytes) -> tuple[Reply, int | None]:
    """Responses API events: text from `response.output_text.delta`, the rest (status, usage,
    logprobs) from the final `response.completed` or `response.incomplete` event."""
    text: list[str] = []
    first: int | None = None
    final: dict[str, Any] | None = None
    for event in sse_events(content):
        doc = event_json(event)
        kind = doc.get("type")
        if kind in ("error", "response.failed"):
            error = doc.get("error") or as_object(doc.get("response")).get("error") or {}
            error = error if isinstance(error, dict) else {"message": error}
            raise ProviderProtocolError(
                f"error event mid-stream: {error.get('code')}: {error.get('message')}"
            )
        if kind == "response.output_text.delta":
            delta = doc.get("delta")
            if not isinstance(delta, str):
                raise ProviderProtocolError("response.output_text.delta has no string delta")
            text.append(delta)
            first = event.end if first is None and delta else first
        elif kind in ("response.completed", "response.incomplete"):
            final = doc.get("response")
    if not isinstance(final, dict):
        raise ProviderProtocolError("stream ends without response.completed")
    reply = parse(json.dumps(final).encode())
    streamed = "".join(text)
    if streamed != reply.text and reply.text:
        raise ProviderProtocolError("streamed deltas differ from the completed response text")
    return replace(reply, text=streamed), first


SPEC = WireSpec(
    name="openai_responses",
    path=path,
    build_body=build_body,
    headers=build_headers,
    parse=parse,
    assemble_stream=assemble_stream,
    capabilities=Capabilities(logprobs=True, seed=False, stop_sequences=False, json_mode=True),
    stream_fields={"stream": True},
)
