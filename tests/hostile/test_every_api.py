"""Hostile reply classes against every wire API, through real sockets and the runner.

Compression bombs in stacked encodings, JSON nested past the parser's depth, a multi-megabyte
mixed-script reply, server-sent events with bare-CR line endings, and credentials echoed back
escaped, split across stream events or inside a broken status line. Each class gets its
closed-set outcome, no internal error, no secret anywhere it lands, and no stall of the loop.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from monitor.config import Target
from monitor.config.expectation import Expectation
from monitor.detectors import run_detectors
from monitor.providers import google_auth
from monitor.runner import SuiteOptions
from monitor.types import Outcome, Reply
from tests.hostile.cases import CAP_BYTES, DEADLINE_S, Case, body
from tests.hostile.checks import assert_clean_log, run_case
from tests.hostile.conftest import API_KEY, SUITE, MakeRunner, hostile_target
from tests.hostile.server import HostileServer, Script, chunked, raw, respond

ALL_APIS = (
    "openai_chat",
    "azure_openai_chat",
    "openai_responses",
    "anthropic_messages",
    "vertex_anthropic",
    "vertex_gemini",
    "bedrock_converse",
    "bedrock_invoke",
)
SESSION_TOKEN = "FwoGZXIvYXdzEHostileSessionToken0123456789"
OAUTH_TOKEN = "ya29.hostile-oauth-token-0123456789"
HEADER_SECRET = "tenant-secret-abcdef0123456789"
BOMB_BYTES = 2**28  # 256 MiB of spaces once inflated: a few hundred bytes on the wire


def full_body(api: str, text: str) -> dict[str, Any]:
    """A well-formed 2xx body of any wire API carrying `text`."""
    if api in ("openai_chat", "azure_openai_chat"):
        return body("openai_chat", text)
    if api in ("anthropic_messages", "vertex_anthropic", "bedrock_invoke"):
        return body("anthropic_messages", text)
    if api == "bedrock_converse":
        return body("bedrock_converse", text)
    if api == "openai_responses":
        return {
            "id": "resp_1",
            "object": "response",
            "status": "completed",
            "model": "m",
            "output": [{"type": "message", "content": [{"type": "output_text", "text": text}]}],
            "usage": {"input_tokens": 5, "output_tokens": 1},
        }
    return {
        "candidates": [{"content": {"parts": [{"text": text}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 1},
    }


def target_for(api: str, base_url: str, **update: Any) -> Target:
    """The hostile target of `api`, with a `headers:` secret and the platform's fields."""
    fields = hostile_target("openai_chat", base_url).model_dump(exclude={"api_key"})
    fields.update(api=api, headers={"X-Tenant-Token": HEADER_SECRET}, **update)
    if api.startswith("bedrock_"):
        fields["region"] = "us-east-1"
    elif api.startswith("vertex_"):
        fields.update(project="hostile", location="us-east5")
    target = Target(**fields)
    if api.startswith(("bedrock_", "vertex_")):
        return target
    return target.model_copy(update={"api_key": SecretStr(API_KEY)})


def secret_of(api: str) -> str:
    """The credential `api`'s requests carry: the key, the AWS session or the OAuth token."""
    if api.startswith("bedrock_"):
        return SESSION_TOKEN
    return OAUTH_TOKEN if api.startswith("vertex_") else API_KEY


@pytest.fixture
def cloud_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Static AWS keys with a session token; a fixed OAuth token from the Vertex token source."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDHOSTILETEST0001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hostile/secret/key/0123456789abcdefghij")
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    async def fixed_token(self: google_auth.TokenSource) -> str:
        return OAUTH_TOKEN

    monkeypatch.setattr(google_auth.TokenSource, "__call__", fixed_token)
    google_auth.reset_sources()


@functools.cache
def bomb_body(codings: str) -> bytes:
    """BOMB_BYTES of spaces compressed twice with `codings`' compressor, built in 1 MiB steps."""
    wbits = 31 if codings.startswith("gzip") else 15
    data = b" " * BOMB_BYTES
    for _ in range(2):
        packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
        data = b"".join(
            [
                *(packer.compress(data[i : i + 2**20]) for i in range(0, len(data), 2**20)),
                packer.flush(),
            ]
        )
    return data


def bomb(codings: str) -> Callable[[str], Script]:
    def script(api: str) -> Script:
        return respond(200, bomb_body(codings), headers=[("Content-Encoding", codings)])

    return script


def deep_json(api: str) -> Script:
    """A 2 KB body whose JSON nests past the parser's depth."""
    return respond(200, b'{"choices": ' + b"[" * 1000 + b"]" * 1000 + b"}")


def escaped_echo(api: str) -> Script:
    """The reply quotes our credential and `headers:` secret JSON-escaped: `\\u` and `\\/`."""
    secret = secret_of(api)
    text = f"Paris. You sent {secret[:3]}/{secret[3:]} and {HEADER_SECRET}"
    encoded = json.dumps(full_body(api, text))
    escaped = "".join(f"\\u{ord(c):04x}" for c in secret[:3]) + "\\/" + secret[3:]
    tenant = HEADER_SECRET.replace("-", "\\u002d")
    return respond(
        200,
        encoded.replace(f"{secret[:3]}/{secret[3:]}", escaped)
        .replace(HEADER_SECRET, tenant)
        .encode(),
    )


def status_line_echo(api: str) -> Script:
    """A status line no HTTP parser takes, quoting the credential."""
    return raw(f"HTTP/1.1 2OO {secret_of(api)} {HEADER_SECRET}\r\n\r\n".encode())


PLAIN_CASES = (
    Case(
        "every-valid",
        "body",
        lambda api: respond(200, json.dumps(full_body(api, "Paris")).encode()),
        Outcome.PASSED,
    ),
    Case("gzip-gzip-bomb", "body", bomb("gzip, gzip"), Outcome.PROTOCOL_ERROR, "once decoded"),
    Case(
        "deflate-deflate-bomb",
        "body",
        bomb("deflate, deflate"),
        Outcome.PROTOCOL_ERROR,
        "once decoded",
    ),
    Case("deep-json", "body", deep_json, Outcome.PROTOCOL_ERROR, "nested too deeply"),
    Case("escaped-echo", "body", escaped_echo, Outcome.FAILED),
    Case(
        "status-line-echo", "transport", status_line_echo, Outcome.HTTP_ERROR, "RemoteProtocolError"
    ),
)


def assert_no_secret(api: str, *texts: str) -> None:
    for text in texts:
        for secret in (secret_of(api), HEADER_SECRET):
            assert secret not in text
            assert json.dumps(secret)[1:-1].replace("/", "\\/") not in text


@pytest.mark.usefixtures("cloud_credentials")
@pytest.mark.parametrize(
    ("case", "api"),
    [pytest.param(c, a, id=f"{c.name}-{a}") for c in PLAIN_CASES for a in ALL_APIS],
)
async def test_hostile_class_on_every_api(
    make_runner: MakeRunner, log_output: io.StringIO, case: Case, api: str
) -> None:
    """The class gets its outcome and evidence on every wire API; no secret is kept anywhere."""
    async with HostileServer({case.name: case.script(api)}) as server:
        runner = make_runner()
        target = target_for(api, server.url(case.name))
        result = await run_case(runner, case, api, server.url(case.name), target=target)
        stored = await runner.store.get(result.id)
    assert_no_secret(api, json.dumps(stored), log_output.getvalue(), result.error or "")
    assert_clean_log(log_output.getvalue())


ENGLISH = SUITE.model_copy(
    update={
        "probes": [
            SUITE.probes[0].model_copy(
                update={
                    "expect": Expectation.model_validate(
                        {"language": "en", "answer": {"exact": "Paris"}}
                    )
                }
            )
        ]
    }
)
MIXED = "Paris ปารีส 巴黎 Париж パリ "
LARGE_TEXT = MIXED * (3_900_000 // len(MIXED.encode()))  # about 3.9 MB of UTF-8


async def _max_lag_while(work: asyncio.Future[Any]) -> float:
    """The longest the event loop was held while `work` ran, sampled every 5 ms."""
    worst = 0.0
    while not work.done():
        before = time.perf_counter()
        await asyncio.sleep(0.005)
        worst = max(worst, time.perf_counter() - before - 0.005)
    return worst


@pytest.fixture(scope="module")
def inline_judge_s() -> float:
    """How long the detectors take on LARGE_TEXT in one call: the stall an inline run causes."""
    reply = Reply(text=LARGE_TEXT, finish_reason=None)
    started = time.perf_counter()
    run_detectors(reply, ENGLISH.probes[0].expect)
    return time.perf_counter() - started


@pytest.mark.usefixtures("cloud_credentials")
@pytest.mark.parametrize("api", ALL_APIS)
async def test_large_mixed_script_reply_does_not_stall_the_loop(
    make_runner: MakeRunner, api: str, inline_judge_s: float
) -> None:
    """A ~3.9 MB mixed-script reply fails its script check while the event loop stays free:
    the longest the loop is held is a small fraction of what judging it inline takes (both
    measured here, so the bound holds on a slow machine too)."""
    payload = json.dumps(full_body(api, LARGE_TEXT), ensure_ascii=False).encode()
    assert len(payload) > 3_800_000
    script = chunked(200, [payload[i : i + 65536] for i in range(0, len(payload), 65536)])
    async with HostileServer({"large": script}) as server:
        runner = make_runner()
        target = target_for(api, server.url("large"), max_response_bytes=8 * 2**20, timeout_s=60)
        work = asyncio.ensure_future(runner.run_suite(target, ENGLISH, SuiteOptions()))
        lag_s = await _max_lag_while(work)
        (result,) = await work
    assert result.outcome is Outcome.FAILED
    assert {c.detector for c in result.checks if not c.passed} >= {"unexpected_script"}
    assert runner.metrics.registry.get_sample_value("canary_internal_errors_total") == 0
    assert inline_judge_s > 0.3, inline_judge_s  # the reply is large enough to matter
    assert lag_s < inline_judge_s / 3, (lag_s, inline_judge_s)


SSE_APIS = ("openai_chat", "azure_openai_chat", "anthropic_messages", "vertex_anthropic")


def sse_stream(api: str, texts: list[str], newline: bytes) -> bytes:
    """An SSE reply of `api` (OpenAI or Anthropic events) with `texts` as deltas."""
    if api.endswith("openai_chat"):
        docs: list[Any] = [
            {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"content": t}}]}
            for t in texts
        ]
        docs += [
            {
                "id": "c1",
                "model": "m",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            },
            "[DONE]",
        ]
    else:
        docs = [
            {
                "type": "message_start",
                "message": {
                    "id": "m1",
                    "type": "message",
                    "model": "m",
                    "content": [],
                    "usage": {"input_tokens": 5},
                },
            },
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            *(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": t},
                }
                for t in texts
            ),
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 1},
            },
            {"type": "message_stop"},
        ]
    return b"".join(
        b"data: " + (d if isinstance(d, str) else json.dumps(d)).encode() + newline * 2
        for d in docs
    )


def sse_script(data: bytes) -> Script:
    return chunked(
        200, [data[i : i + 50] for i in range(0, len(data), 50)], content_type="text/event-stream"
    )


@pytest.mark.usefixtures("cloud_credentials")
@pytest.mark.parametrize("newline", [b"\r", b"\r\n", b"\n"], ids=["cr", "crlf", "lf"])
@pytest.mark.parametrize("api", SSE_APIS)
async def test_sse_line_endings(make_runner: MakeRunner, api: str, newline: bytes) -> None:
    """Server-sent events pass with any of the three line endings the SSE spec allows."""
    script = sse_script(sse_stream(api, ["Par", "is"], newline))
    async with HostileServer({"sse": script}) as server:
        case = Case("sse", "stream", lambda _: script, Outcome.PASSED)
        target = target_for(api, server.url("sse"))
        result = await run_case(
            make_runner(),
            case,
            api,
            server.url("sse"),
            target=target,
            options=SuiteOptions(stream=True),
        )
    assert result.reply is not None and result.reply.text == "Paris"


@pytest.mark.usefixtures("cloud_credentials")
@pytest.mark.parametrize("api", SSE_APIS)
async def test_credential_split_across_stream_events(
    make_runner: MakeRunner, log_output: io.StringIO, api: str
) -> None:
    """A credential echoed in two deltas is whole only in the joined text: it is redacted
    there, and the raw body holding its pieces is not kept."""
    secret = secret_of(api)
    script = sse_script(sse_stream(api, ["Paris ", secret[:10], secret[10:]], b"\n"))
    async with HostileServer({"split": script}) as server:
        runner = make_runner()
        case = Case("split", "stream", lambda _: script, Outcome.FAILED)
        target = target_for(api, server.url("split"))
        result = await run_case(
            runner, case, api, server.url("split"), target=target, options=SuiteOptions(stream=True)
        )
        stored = await runner.store.get(result.id)
    assert result.reply is not None and result.reply.text == "Paris [REDACTED]"
    assert secret[10:] not in json.dumps(stored)
    assert_no_secret(api, json.dumps(stored), log_output.getvalue())


def test_deadline_and_cap_are_the_hostile_ones() -> None:
    """The classes above run with the hostile suite's small deadline and body cap."""
    target = target_for("openai_chat", "http://127.0.0.1:9/")
    assert (target.timeout_s, target.max_response_bytes) == (DEADLINE_S, CAP_BYTES)
