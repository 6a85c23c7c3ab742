"""Azure-style OpenAI deployments: Chat Completions at a deployment URL with an `api-key`.

`POST {base_url}/openai/deployments/{deployment}/chat/completions?api-version=...`; the
deployment is `model_id` (default `model`), the version `target.api_version` (default
DEFAULT_API_VERSION). Body and reply are OpenAI Chat Completions (see `openai_chat`); Azure
answers a filtered prompt with 400 `content_filter`, which stays an HTTP error. Streamed, the
chunks are Chat Completions chunks on the same path.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from monitor.config.model import Target
from monitor.providers import openai_chat
from monitor.providers.http import probe_headers
from monitor.providers.wire import WireSpec
from monitor.types import ProbeRequest

DEFAULT_API_VERSION = "2024-10-21"


def deployment_path(target: Target) -> str:
    version = quote(target.api_version or DEFAULT_API_VERSION, safe="-")
    deployment = quote(target.wire_model, safe="")
    return f"openai/deployments/{deployment}/chat/completions?api-version={version}"


def build_headers(target: Target, request: ProbeRequest) -> dict[str, str]:
    """Probe headers plus `api-key` when the target has a key (Azure does not take Bearer)."""
    extra = {}
    if target.api_key is not None:
        extra["api-key"] = target.api_key.get_secret_value()
    return probe_headers(request, extra)


def build_body(target: Target, request: ProbeRequest) -> dict[str, Any]:
    """The Chat Completions body without `model`: the deployment names the model."""
    body = openai_chat.build_body(target, request)
    del body["model"]
    return body


SPEC = WireSpec(
    name="azure_openai_chat",
    path=deployment_path,
    build_body=build_body,
    headers=build_headers,
    parse=openai_chat.parse,
    assemble_stream=openai_chat.assemble_stream,
    capabilities=openai_chat.SPEC.capabilities,
    stream_fields=openai_chat.SPEC.stream_fields,
)
