"""Amazon Bedrock: Converse (`POST model/{id}/converse`) and InvokeModel with the Anthropic body.

`target.base_url` defaults to `https://bedrock-runtime.{region}.amazonaws.com/`. Requests are
SigV4-signed for `target.region` with botocore's credential chain (see `aws_auth`); no
`credentials:` key is used. Converse has no seed, logprobs or JSON mode, so those probe
settings are not sent. Errors carry their type in `x-amzn-ErrorType`: ThrottlingException
(429) is `rate_limited`, ValidationException (400) and the rest are HTTP errors.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from monitor.config import Target
from monitor.errors import ProviderProtocolError
from monitor.providers import anthropic_messages
from monitor.providers.aws_auth import SigV4, chain_for
from monitor.providers.http import (
    finish_reply,
    json_object,
    optional,
    post_json,
    probe_headers,
    required,
    summarise_error,
)
from monitor.types import FinishReason, ProbeRequest, Reply

ERROR_TYPE_HEADER = "x-amzn-ErrorType"
INVOKE_ANTHROPIC_VERSION = "bedrock-2023-05-31"

STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "content_filtered": FinishReason.CONTENT_FILTER,
    "guardrail_intervened": FinishReason.CONTENT_FILTER,
    "tool_use": FinishReason.TOOL_CALLS,
}


def model_path(target: Target, action: str) -> str:
    """`model/{id}/{action}`, the id percent-encoded (`:` in `...-v1:0`) as the AWS SDKs do."""
    return f"model/{quote(target.wire_model, safe='')}/{action}"


def signer(target: Target) -> SigV4:
    """A SigV4 signer for the target's region and profile (validated: region is set)."""
    assert target.region is not None
    return SigV4(target.region, chain_for(target.aws_profile))


def build_body(target: Target, request: ProbeRequest) -> dict[str, Any]:
    """The Converse request: content blocks, `system` blocks, `inferenceConfig`."""
    del target  # the model is in the path
    config: dict[str, Any] = {"maxTokens": request.max_tokens, "temperature": request.temperature}
    if request.top_p is not None:
        config["topP"] = request.top_p
    if request.stop:
        config["stopSequences"] = list(request.stop)
    body: dict[str, Any] = {
        "messages": [{"role": m.role, "content": [{"text": m.content}]} for m in request.messages],
        "inferenceConfig": config,
    }
    if request.system is not None:
        body["system"] = [{"text": request.system}]
    return body


def build_invoke_body(target: Target, request: ProbeRequest) -> dict[str, Any]:
    """The Anthropic Messages body without `model`, with Bedrock's `anthropic_version`."""
    body = anthropic_messages.build_body(target, request)
    del body["model"]
    return {"anthropic_version": INVOKE_ANTHROPIC_VERSION, **body}


async def _post(
    client: httpx.AsyncClient,
    target: Target,
    request: ProbeRequest,
    *,
    action: str,
    body: dict[str, Any],
    auth: httpx.Auth | None,
) -> tuple[httpx.Response, bytes, float]:
    return await post_json(
        client,
        target,
        model_path(target, action),
        body,
        probe_headers(request, {"Accept": "application/json"}),
        auth=auth if auth is not None else signer(target),
        error_type_header=ERROR_TYPE_HEADER,
    )


async def complete(
    client: httpx.AsyncClient,
    target: Target,
    request: ProbeRequest,
    *,
    auth: httpx.Auth | None = None,
) -> Reply:
    """Send one probe through Converse; `auth` overrides the signer (tests inject a clock)."""
    body = build_body(target, request)
    response, content, latency_s = await _post(
        client, target, request, action="converse", body=body, auth=auth
    )
    return finish_reply(parse, target, response, content, latency_s)


async def complete_invoke(
    client: httpx.AsyncClient,
    target: Target,
    request: ProbeRequest,
    *,
    auth: httpx.Auth | None = None,
) -> Reply:
    """Send one probe through InvokeModel with the Anthropic body; the reply is a Message."""
    body = build_invoke_body(target, request)
    response, content, latency_s = await _post(
        client, target, request, action="invoke", body=body, auth=auth
    )
    return finish_reply(anthropic_messages.parse, target, response, content, latency_s)


def parse(content: bytes) -> Reply:
    """The reply in a Converse body (no HTTP fields); ProviderProtocolError if malformed."""
    doc = json_object(content)
    if "output" not in doc and isinstance(doc.get("message"), str):
        raise ProviderProtocolError(f"error body on a 2xx: {summarise_error(content)}")
    output = required(doc, "output", dict, "")
    message = required(output, "message", dict, "output.")
    blocks = required(message, "content", list, "output.message.")
    texts: list[str] = []
    for i, block in enumerate(blocks):
        where = f"output.message.content[{i}]"
        if not isinstance(block, dict):
            raise ProviderProtocolError(f"{where} is not an object")
        text = optional(block, "text", str, f"{where}.")
        if text is not None:
            texts.append(text)
    raw_stop = optional(doc, "stopReason", str, "")
    usage = optional(doc, "usage", dict, "") or {}
    return Reply(
        text="".join(texts),
        finish_reason=None if raw_stop is None else STOP_REASONS.get(raw_stop, FinishReason.OTHER),
        raw_finish_reason=raw_stop,
        input_tokens=optional(usage, "inputTokens", int, "usage."),
        output_tokens=optional(usage, "outputTokens", int, "usage."),
    )
