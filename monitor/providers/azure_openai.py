"""Azure-style OpenAI deployments: Chat Completions at a deployment URL with an `api-key`.

`POST {base_url}/openai/deployments/{deployment}/chat/completions?api-version=...`; the
deployment is `model_id` (default `model`), the version `target.api_version` (default
DEFAULT_API_VERSION). Body and reply are OpenAI Chat Completions (see `openai_chat`); Azure
answers a filtered prompt with 400 `content_filter`, which stays an HTTP error.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from monitor.config import Target
from monitor.providers import openai_chat
from monitor.providers.http import finish_reply, post_json, probe_headers
from monitor.types import ProbeRequest, Reply

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


async def complete(client: httpx.AsyncClient, target: Target, request: ProbeRequest) -> Reply:
    """Send one probe and return the normalised reply; raises only `ProviderError`s."""
    body = openai_chat.build_body(target, request)
    del body["model"]  # the deployment names the model
    response, content, latency_s = await post_json(
        client, target, deployment_path(target), body, build_headers(target, request)
    )
    return finish_reply(openai_chat.parse, target, response, content, latency_s)
