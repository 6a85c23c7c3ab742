"""Amazon Bedrock: Converse (`POST model/{id}/converse`) and InvokeModel with the Anthropic body.

`target.base_url` defaults to `https://bedrock-runtime.{region}.amazonaws.com/`. Requests are
SigV4-signed for `target.region` with botocore's credential chain (see `aws_auth`); no
`credentials:` key is used. Converse has no seed, logprobs or JSON mode, so those probe
settings are not sent. Errors carry their type in `x-amzn-ErrorType`: ThrottlingException
(429) is `rate_limited`, ValidationException (400) and the rest are HTTP errors. Streamed
(ConverseStream, InvokeModelWithResponseStream), the reply is AWS event-stream frames.
Two wire APIs, two specs: `CONVERSE` and `INVOKE`.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import quote

from monitor.config.model import Target
from monitor.errors import ProviderProtocolError
from monitor.providers import anthropic_messages
from monitor.providers.aws_auth import SigV4, chain_for
from monitor.providers.http import (
    json_object,
    optional,
    probe_headers,
    required,
    summarise_error,
)
from monitor.providers.stream_parse import as_object, aws_events
from monitor.providers.wire import Capabilities, WireSpec
from monitor.types import FinishReason, ProbeRequest, Reply

ERROR_TYPE_HEADER = "x-amzn-ErrorType"
EVENT_STREAM = "application/vnd.amazon.eventstream"
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


def headers(target: Target, request: ProbeRequest) -> dict[str, str]:
    """Probe headers asking for JSON (a streamed request asks for the event stream instead)."""
    del target  # signed by `signer`, not a key header
    return probe_headers(request, {"Accept": "application/json"})


def converse_path(target: Target) -> str:
    return model_path(target, "converse")


def converse_stream_path(target: Target) -> str:
    return model_path(target, "converse-stream")


def invoke_path(target: Target) -> str:
    return model_path(target, "invoke")


def invoke_stream_path(target: Target) -> str:
    return model_path(target, "invoke-with-response-stream")


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


def assemble_converse_stream(content: bytes) -> tuple[Reply, int | None]:
    """ConverseStream events -> one Converse body, parsed by `bedrock.parse`."""
    text: list[str] = []
    first: int | None = None
    stop: str | None = None
    usage: dict[str, Any] | None = None
    for event in aws_events(content):
        if event.event_type == "contentBlockDelta":
            delta = as_object(event.payload.get("delta")).get("text")
            if isinstance(delta, str):
                text.append(delta)
                first = event.end if first is None and delta else first
        elif event.event_type == "messageStop":
            stop = event.payload.get("stopReason")
        elif event.event_type == "metadata":
            usage = event.payload.get("usage")
    if stop is None:
        raise ProviderProtocolError("stream ends without messageStop")
    body = {
        "output": {"message": {"role": "assistant", "content": [{"text": "".join(text)}]}},
        "stopReason": stop,
        "usage": usage,
    }
    return parse(json.dumps(body).encode()), first


def assemble_invoke_stream(content: bytes) -> tuple[Reply, int | None]:
    """InvokeModelWithResponseStream: `chunk` frames whose `bytes` (base64) are Anthropic
    Messages stream events."""
    docs: list[tuple[int, dict[str, Any]]] = []
    for event in aws_events(content):
        if event.event_type != "chunk":
            continue
        raw = event.payload.get("bytes")
        if not isinstance(raw, str):
            raise ProviderProtocolError("chunk event has no bytes")
        try:
            doc: Any = json.loads(base64.b64decode(raw, validate=True))
        except (binascii.Error, ValueError, RecursionError):
            raise ProviderProtocolError("chunk bytes are not base64 JSON") from None
        if not isinstance(doc, dict):
            raise ProviderProtocolError("chunk is not a JSON object")
        docs.append((event.end, doc))
    return anthropic_messages.message_events(docs)


CONVERSE = WireSpec(
    name="bedrock_converse",
    path=converse_path,
    stream_path=converse_stream_path,
    build_body=build_body,
    headers=headers,
    stream_headers={"Accept": EVENT_STREAM},
    parse=parse,
    assemble_stream=assemble_converse_stream,
    capabilities=Capabilities(logprobs=False, seed=False),
    auth=signer,
    error_type_header=ERROR_TYPE_HEADER,
)

INVOKE = WireSpec(
    name="bedrock_invoke",
    path=invoke_path,
    stream_path=invoke_stream_path,
    build_body=build_invoke_body,
    headers=headers,
    stream_headers={"Accept": EVENT_STREAM},
    parse=anthropic_messages.parse,
    assemble_stream=assemble_invoke_stream,
    capabilities=Capabilities(logprobs=False, seed=False),
    auth=signer,
    error_type_header=ERROR_TYPE_HEADER,
)
