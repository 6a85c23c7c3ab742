"""Streamed replies on every wire API, end to end: the real streaming adapters against the
simulated fleet (SigV4 and OAuth checked), with the vendors' own stream models as oracles."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from anthropic.types import RawMessageStreamEvent
from botocore.eventstream import EventStream
from botocore.parsers import EventStreamJSONParser
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from canary_sim import AnswerBook, SimBackend, SimFleet, run_fleet
from canary_sim.aws_sigv4 import SigV4Verifier
from canary_sim.faults import Fault
from canary_sim.google_oauth import OAuthIssuer
from canary_sim.records import ChatRequest, Generation
from canary_sim.streaming import RENDERERS
from monitor.errors import ProviderProtocolError
from monitor.providers import WIRE_SPECS, send
from monitor.providers.aws_auth import SigV4
from monitor.providers.http import build_client
from monitor.providers.stream_parse import sse_events
from monitor.types import Message, ProbeRequest
from tests.providers.fakes import (
    API_KEY,
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    aws_credentials,
    make_target,
)
from tests.sim.cloud import BEDROCK_MODEL, Clock, service_account_file
from tests.sim.conftest import CAPITAL, PROBES

BACKENDS = [
    SimBackend("openai", "default", "openai_chat"),
    SimBackend("anthropic", "default", "anthropic_messages"),
    SimBackend("openai", "responses", "openai_responses"),
    SimBackend("azure", "eastus", "azure_openai_chat"),
    SimBackend("bedrock", "us-east-1", "bedrock_converse"),
    SimBackend("bedrock", "invoke", "bedrock_invoke", region="us-east-1"),
    SimBackend("vertex", "claude", "vertex_anthropic"),
    SimBackend("vertex", "gemini", "vertex_gemini"),
]
POOL = {b.api: (b.platform, b.pool) for b in BACKENDS}
REQUEST = ProbeRequest(
    messages=(Message("user", CAPITAL),), max_tokens=32, temperature=0.0, stream=True
)


@pytest.fixture
async def fleet() -> AsyncIterator[SimFleet]:
    aws = SigV4Verifier({AWS_ACCESS_KEY_ID: AWS_SECRET_ACCESS_KEY}, now=Clock())
    oauth = OAuthIssuer(now=Clock())
    book = AnswerBook.from_probe_dir(PROBES)
    async with run_fleet(BACKENDS, book, api_key=API_KEY, aws=aws, oauth=oauth) as running:
        yield running


def target_for(fleet: SimFleet, api: str, tmp_path: Path) -> Any:
    platform, pool = POOL[api]
    fields: dict[str, Any] = {"platform": platform, "pool": pool, "model": "m"}
    fields["base_url"] = fleet.base_url(platform, pool)
    if api.startswith("bedrock_"):
        fields |= {"region": "us-east-1", "model_id": BEDROCK_MODEL}
    elif api.startswith("vertex_"):
        path, _ = service_account_file(fleet, tmp_path / "sa.json")
        fields |= {"project": "p", "location": "us-east5", "credentials_file": path}
    elif api == "azure_openai_chat":
        fields |= {"api_version": "2024-10-21"}
    return make_target(api, **fields)


@pytest.fixture(autouse=True)
def static_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bedrock adapters sign with the fake key pair the fleet trusts."""

    async def credentials() -> Any:
        return aws_credentials()

    monkeypatch.setattr("monitor.providers.bedrock.chain_for", lambda profile: credentials)


@pytest.mark.parametrize("api", sorted(WIRE_SPECS))
async def test_stream_matches_plain_reply(fleet: SimFleet, api: str, tmp_path: Path) -> None:
    """The streamed text, finish reason and usage equal the non-streamed reply's, and the
    stream's timings are measured."""
    target = target_for(fleet, api, tmp_path)
    async with build_client(target) as client:
        streamed = await send(client, target, REQUEST)
        plain = await WIRE_SPECS[api].send(client, target, REQUEST, stream=False)
    assert streamed.text == plain.text and "Paris" in streamed.text
    assert streamed.finish_reason == plain.finish_reason
    assert streamed.output_tokens == plain.output_tokens
    assert plain.time_to_first_token_s is None
    assert streamed.time_to_first_token_s is not None
    assert 0 < streamed.time_to_first_token_s <= streamed.latency_s
    assert streamed.output_tokens_per_s is not None and streamed.output_tokens_per_s > 0


@pytest.mark.parametrize("api", ["openai_chat", "anthropic_messages", "bedrock_converse"])
@pytest.mark.parametrize("mode", ["truncated", "wrong_shape"])
async def test_broken_stream_is_protocol_error(
    fleet: SimFleet, api: str, mode: str, tmp_path: Path
) -> None:
    """A stream cut mid-event or ended before its final event is a protocol error, not a
    short reply that happens to pass."""
    fleet.set_fault(*POOL[api], Fault("malformed", rate=1.0, mode=mode))
    target = target_for(fleet, api, tmp_path)
    async with build_client(target) as client:
        with pytest.raises(ProviderProtocolError):
            await WIRE_SPECS[api].send(client, target, REQUEST, stream=True)


async def test_latency_fault_shows_in_time_to_first_token(fleet: SimFleet, tmp_path: Path) -> None:
    """The injected delay comes before the first byte, so it bounds the TTFT from below."""
    fleet.set_fault("anthropic", "default", Fault("latency", rate=1.0, delay_s=0.3))
    target = target_for(fleet, "anthropic_messages", tmp_path)
    async with build_client(target) as client:
        reply = await WIRE_SPECS["anthropic_messages"].send(client, target, REQUEST, stream=True)
    assert reply.time_to_first_token_s is not None and reply.time_to_first_token_s >= 0.3


def _generation() -> tuple[ChatRequest, Generation]:
    chat = ChatRequest(
        model="m",
        messages=(Message("user", "hi"),),
        max_tokens=8,
        logprobs=True,
        top_logprobs=2,
        stream=True,
    )
    return chat, Generation(tokens=["Par", "is", "."], fingerprint="fp_x", input_tokens=5)


def _sse_docs(chunks: list[bytes]) -> list[dict[str, Any]]:
    events = sse_events(b"".join(chunks))
    return [json.loads(e.data) for e in events if e.data != "[DONE]"]


def test_openai_chunks_validate_with_the_sdk() -> None:
    chat, gen = _generation()
    render, content_type = RENDERERS["openai_chat"]
    docs = _sse_docs(render(chat, gen, "chatcmpl-1"))
    chunks = [ChatCompletionChunk.model_validate(d) for d in docs]
    assert content_type == "text/event-stream"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Paris."
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3


@pytest.mark.parametrize("api", ["anthropic_messages", "vertex_anthropic"])
def test_anthropic_events_validate_with_the_sdk(api: str) -> None:
    chat, gen = _generation()
    render, _ = RENDERERS[api]
    adapter: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)
    docs = _sse_docs(render(chat, gen, "msg_1"))
    # The SDK's stream reader drops `ping` keep-alives before validating events.
    events = [adapter.validate_python(d) for d in docs if d["type"] != "ping"]
    assert events[0].type == "message_start"
    assert events[-1].type == "message_stop"


def test_responses_events_validate_with_the_sdk() -> None:
    chat, gen = _generation()
    render, _ = RENDERERS["openai_responses"]
    adapter: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
    events = [adapter.validate_python(d) for d in _sse_docs(render(chat, gen, "resp_1"))]
    assert events[-1].type == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))


def _botocore_events(operation: str, member: str, body: bytes) -> list[dict[str, Any]]:
    """Decode frames with botocore's own bedrock-runtime event-stream parser."""
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    shape = model.operation_model(operation).output_shape.members[member]

    class Raw:
        def stream(self) -> Any:
            yield from iter([body])

        def close(self) -> None:
            pass

    return list(EventStream(Raw(), shape, EventStreamJSONParser(), operation))


def test_converse_frames_parse_with_botocore() -> None:
    chat, gen = _generation()
    render, content_type = RENDERERS["bedrock_converse"]
    events = _botocore_events("ConverseStream", "stream", b"".join(render(chat, gen, "x")))
    assert content_type == "application/vnd.amazon.eventstream"
    assert list(events[0]) == ["messageStart"]
    text = "".join(
        e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e
    )
    assert text == "Paris."
    assert events[-1]["metadata"]["usage"]["outputTokens"] == 3


def test_invoke_frames_parse_with_botocore() -> None:
    chat, gen = _generation()
    render, _ = RENDERERS["bedrock_invoke"]
    events = _botocore_events(
        "InvokeModelWithResponseStream", "body", b"".join(render(chat, gen, "msg_1"))
    )
    inner = [json.loads(e["chunk"]["bytes"]) for e in events]
    assert inner[0]["type"] == "message_start" and inner[-1]["type"] == "message_stop"


async def test_signing_covers_the_streaming_route(fleet: SimFleet, tmp_path: Path) -> None:
    """ConverseStream is SigV4-checked like Converse: a wrong secret is refused."""
    target = target_for(fleet, "bedrock_converse", tmp_path)

    async def wrong() -> Any:
        return aws_credentials().__class__(AWS_ACCESS_KEY_ID, "wrong-secret", None)

    async with build_client(target) as client:
        with pytest.raises(Exception, match="403"):
            await WIRE_SPECS["bedrock_converse"].send(
                client, target, REQUEST, stream=True, auth=SigV4("us-east-1", wrong)
            )
