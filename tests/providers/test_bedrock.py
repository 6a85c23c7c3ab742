"""Amazon Bedrock: Converse and InvokeModel bodies, SigV4 headers, replies and errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import (
    ProviderError,
    ProviderHTTPError,
    ProviderProtocolError,
    ProviderRateLimited,
)
from monitor.providers import WIRE_SPECS, bedrock
from monitor.providers.aws_auth import CredentialChain
from monitor.providers.http import build_client
from monitor.types import FinishReason, Message, ProbeRequest, Reply
from tests.providers.fakes import (
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN,
    Endpoint,
    fixture_bytes,
    fixture_json,
    make_target,
    static_sigv4,
)

MODEL_ID = "anthropic.claude-3-5-haiku-20241022-v1:0"
QUESTION = Message("user", "What is the capital of France?")
PLAIN = ProbeRequest(messages=(QUESTION,), max_tokens=16, temperature=0.0, affinity_key="aff-1")
THROTTLED = {
    "x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"
}


async def complete(
    endpoint: Endpoint, request: ProbeRequest = PLAIN, *, invoke: bool = False, **target: Any
) -> Reply:
    tgt = make_target(
        api="bedrock_invoke" if invoke else "bedrock_converse",
        api_key=None,
        **{"region": "us-east-1", "model_id": MODEL_ID, **target},
    )
    spec = bedrock.INVOKE if invoke else bedrock.CONVERSE
    async with build_client(tgt, transport=endpoint.transport) as client:
        return await spec.send(
            client, tgt, request, stream=False, auth=static_sigv4(tgt.region or "")
        )


def test_registered() -> None:
    """Converse and InvokeModel are the `bedrock_converse` and `bedrock_invoke` entries."""
    assert WIRE_SPECS["bedrock_converse"] is bedrock.CONVERSE
    assert WIRE_SPECS["bedrock_invoke"] is bedrock.INVOKE


def test_region_defaults_base_url() -> None:
    """A bedrock target without base_url gets the regional bedrock-runtime endpoint."""
    target = make_target(
        api="bedrock_converse", api_key=None, base_url=None, region="eu-west-3", model_id=MODEL_ID
    )
    assert target.base_url == "https://bedrock-runtime.eu-west-3.amazonaws.com/"


async def test_converse_request() -> None:
    """POST model/{id}/converse with content blocks, system blocks and inferenceConfig."""
    endpoint = Endpoint(body=fixture_bytes("bedrock_converse"))
    request = replace(PLAIN, system="One word.", top_p=0.9, stop=("END",), seed=7, top_logprobs=3)
    await complete(endpoint, request)
    sent = endpoint.request
    assert (
        sent.url.raw_path.decode() == "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"
    )
    assert endpoint.sent_json == {
        "messages": [{"role": "user", "content": [{"text": "What is the capital of France?"}]}],
        "inferenceConfig": {
            "maxTokens": 16,
            "temperature": 0.0,
            "topP": 0.9,
            "stopSequences": ["END"],
        },
        "system": [{"text": "One word."}],
    }


async def test_sigv4_headers() -> None:
    """The request is SigV4-signed for the target's region, with the session token attached."""
    endpoint = Endpoint(body=fixture_bytes("bedrock_converse"))
    await complete(endpoint, region="eu-central-1")
    headers = endpoint.request.headers
    assert headers["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={AWS_ACCESS_KEY_ID}/20250501/eu-central-1/bedrock/aws4_request, "
    )
    assert "x-canary-affinity" in headers["authorization"]
    assert headers["x-amz-date"] == "20250501T120000Z"
    assert headers["x-amz-security-token"] == AWS_SESSION_TOKEN
    assert AWS_SECRET_ACCESS_KEY not in str(endpoint.request.headers)


async def test_invoke_request_and_reply() -> None:
    """InvokeModel sends the Anthropic body with Bedrock's version and no model; reads a Message."""
    endpoint = Endpoint(body=fixture_bytes("anthropic_message"))
    reply = await complete(endpoint, invoke=True)
    assert endpoint.request.url.raw_path.decode().endswith("v1%3A0/invoke")
    assert endpoint.sent_json == {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "temperature": 0.0,
    }
    assert (reply.text, reply.finish_reason) == ("Paris.", FinishReason.STOP)


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "bedrock_converse",
            Reply(
                text="Paris.",
                finish_reason=FinishReason.STOP,
                raw_finish_reason="end_turn",
                input_tokens=21,
                output_tokens=4,
            ),
        ),
        (
            "bedrock_converse_guardrail",
            Reply(
                text="Sorry, the model cannot answer this question.",
                finish_reason=FinishReason.CONTENT_FILTER,
                raw_finish_reason="guardrail_intervened",
                input_tokens=30,
                output_tokens=0,
            ),
        ),
    ],
)
async def test_parse_success(fixture: str, expected: Reply) -> None:
    """Text blocks are joined; stopReason and usage are read; the request id header is kept."""
    endpoint = Endpoint(body=fixture_bytes(fixture), headers={"x-amzn-RequestId": "r-1"})
    reply = await complete(endpoint, keep_headers=["x-amzn-RequestId"])
    assert replace(reply, latency_s=0.0, raw_body="", headers={}) == expected
    assert reply.headers == {"x-amzn-requestid": "r-1"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("max_tokens", FinishReason.LENGTH),
        ("stop_sequence", FinishReason.STOP),
        ("content_filtered", FinishReason.CONTENT_FILTER),
        ("tool_use", FinishReason.TOOL_CALLS),
        ("something_new", FinishReason.OTHER),
    ],
)
async def test_stop_reason_mapping(raw: str, expected: FinishReason) -> None:
    """Converse stop reasons map onto the shared vocabulary."""
    body = json.dumps({**fixture_json("bedrock_converse"), "stopReason": raw}).encode()
    assert (await complete(Endpoint(body=body))).finish_reason == expected


def converse(**fields: Any) -> bytes:
    return json.dumps({**fixture_json("bedrock_converse"), **fields}).encode()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            b"{",
            "body is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        (converse(output=None), "output is missing"),
        (
            converse(output={"message": {"content": "Paris."}}),
            "output.message.content is not an array",
        ),
        (
            converse(output={"message": {"content": ["Paris."]}}),
            "output.message.content[0] is not an object",
        ),
        (converse(usage={"inputTokens": "21"}), "usage.inputTokens is not an integer"),
        (
            fixture_bytes("bedrock_error_500"),
            "error body on a 2xx: The server encountered an internal error while processing the request.",
        ),
    ],
)
async def test_malformed_reply(raw: bytes, message: str) -> None:
    """A 2xx body of the wrong shape is a protocol error naming the first bad field."""
    with pytest.raises(ProviderProtocolError) as caught:
        await complete(Endpoint(body=raw))
    assert str(caught.value) == message and caught.value.status_code == 200


@pytest.mark.parametrize(
    ("status", "fixture", "headers", "kind", "message"),
    [
        (
            429,
            "bedrock_error_429_throttling",
            THROTTLED,
            ProviderRateLimited,
            "HTTP 429: ThrottlingException: Too many requests, please wait before trying again.",
        ),
        (
            400,
            "bedrock_error_400_validation",
            {
                "x-amzn-ErrorType": "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"
            },
            ProviderHTTPError,
            "HTTP 400: ValidationException: The provided model identifier is invalid.",
        ),
        (
            500,
            "bedrock_error_500",
            {"x-amzn-ErrorType": "InternalServerException"},
            ProviderHTTPError,
            "HTTP 500: InternalServerException: The server encountered an internal error while processing the request.",
        ),
    ],
)
async def test_vendor_errors(
    status: int, fixture: str, headers: dict[str, str], kind: type[ProviderError], message: str
) -> None:
    """ThrottlingException is rate limiting; the error type from x-amzn-ErrorType prefixes it."""
    with pytest.raises(ProviderError) as caught:
        await complete(Endpoint(status, fixture_bytes(fixture), headers))
    assert type(caught.value) is kind
    assert (str(caught.value), caught.value.status_code) == (message, status)


async def test_credential_chain_reads_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """botocore's chain picks up env credentials, session token included, without the network."""
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", AWS_SESSION_TOKEN)
    credentials = await CredentialChain()()
    assert (credentials.access_key, credentials.token) == (AWS_ACCESS_KEY_ID, AWS_SESSION_TOKEN)


async def test_missing_profile_is_an_http_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown profile is a ProviderHTTPError naming the botocore error type only."""
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "absent"))
    with pytest.raises(ProviderHTTPError) as caught:
        await CredentialChain("no-such-profile")()
    assert str(caught.value) == "AWS credentials unavailable: ProfileNotFound"
