"""Every fuzz target: the config and probe loaders, each detector, each response parser and each
stream parser, with the only exceptions their contracts allow.

Shared by tests/fuzz/test_fuzz.py (CI, a few hundred inputs each) and bench/fuzz.py (the long
form). Loaders may raise `ConfigError`; parsers `ProviderProtocolError` (stream assemblers any
`ProviderError`: a throttling frame mid-stream is `ProviderRateLimited`); detectors, the SSE
splitter, `summarise_error`, `parse_retry_after` and `canary detect` nothing at all.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from canary_sim.streaming import frame
from monitor.commands.detect import detect_stream
from monitor.config import load_config
from monitor.config.expectation import Expectation
from monitor.config.probes import load_suite
from monitor.config.yamlsource import parse_document
from monitor.detectors import DETECTORS
from monitor.errors import ConfigError, ProviderError, ProviderProtocolError
from monitor.providers import (
    anthropic_messages,
    bedrock,
    openai_chat,
    openai_responses,
    stream_parse,
    vertex,
)
from monitor.providers.http import parse_retry_after, summarise_error
from monitor.types import Reply
from tests.fuzz.harness import FuzzTarget
from tests.fuzz.inputs import (
    ANY_CHAR,
    JSON_VALUES,
    TEXT,
    json_bodies,
    mutated,
    sse_bodies,
    truncated,
    yaml_texts,
)
from tests.strategies import code_reply_texts, expectations, replies, reply_texts

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "providers" / "fixtures"
PROBE_FILES = sorted((ROOT / "probes").glob("*.yaml"))


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _sse_fixture(name: str) -> list[Any]:
    events = stream_parse.sse_events((FIXTURES / f"{name}.sse").read_bytes())
    return [json.loads(e.data) if e.data.strip() != "[DONE]" else e.data for e in events]


# -- loaders -------------------------------------------------------------------------------------


@cache
def _workdir() -> Path:
    """A directory holding the probe files a fuzzed config may bind (kept for the process)."""
    path = Path(tempfile.mkdtemp(prefix="canary-fuzz-"))
    for probe_file in PROBE_FILES:
        (path / probe_file.name).write_text(probe_file.read_text())
    (path / "key.txt").write_text("sk-fuzz\n")
    os.environ.setdefault("CANARY_FUZZ_KEY", "sk-fuzz")
    return path


BASE_CONFIG: dict[str, Any] = {
    "server": {"listen_address": "127.0.0.1", "port": 9471, "drain_timeout_s": 5},
    "store": {"url": "sqlite:///canary.db", "retention_passed_days": 7},
    "drift": {"false_pages_per_week": 1},
    "defaults": {"timeout_s": 30, "concurrency": 2, "keep_headers": ["x-request-id"]},
    "targets": [
        {
            "platform": "vllm",
            "pool": "short",
            "model": "llama",
            "api": "openai_chat",
            "base_url": "http://vllm:8000/",
            "credentials": {"api_key_env": "CANARY_FUZZ_KEY"},
        },
        {
            "platform": "claude",
            "model": "sonnet",
            "api": "anthropic_messages",
            "base_url": "https://api.anthropic.com/",
            "credentials": {"api_key_file": "key.txt"},
        },
        {"platform": "bedrock", "model": "c", "api": "bedrock_converse", "region": "us-east-1"},
        {
            "platform": "vertex",
            "model": "gemini",
            "api": "vertex_gemini",
            "project": "p",
            "location": "us-east5",
        },
    ],
    "suites": [
        {"file": "core.yaml", "interval_s": 60},
        {"file": "top-token.yaml", "interval_s": 60, "targets": [{"platform": "vllm"}]},
    ],
}


def _load_config(text: str) -> None:
    path = _workdir() / "canary.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    load_config(path)


def _load_suite(text: str) -> None:
    path = _workdir() / "fuzzed-probes.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    load_suite(path)


def _parse_yaml(text: str) -> None:
    parse_document(text, "fuzz.yaml")


def _billion_laughs(depth: int) -> str:
    lines = ["a0: &a0 [x, x]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, depth)]
    return "\n".join(lines)


PROBE_BASES = [yaml.safe_load(p.read_text()) for p in PROBE_FILES]

# -- detectors -----------------------------------------------------------------------------------

PROBE_EXPECTS = [
    probe["expect"] for base in PROBE_BASES for probe in base["probes"] if probe.get("expect")
]


def _valid_expectation(raw: Any) -> Expectation | None:
    try:
        return Expectation.model_validate(raw)
    except Exception:  # a mutation made it invalid: the loader's problem, not the detector's
        return None


HOSTILE_TEXT = st.one_of(
    reply_texts(),
    code_reply_texts(),
    st.text(ANY_CHAR, max_size=300),
    # up to 1 MB (a reply is capped at max_response_bytes, 4 MiB by default)
    st.tuples(TEXT, st.integers(1, 2000)).map(lambda t: (t[0] * t[1])[:1_000_000]),
)
DETECTOR_INPUTS = st.tuples(
    replies(HOSTILE_TEXT),
    st.one_of(
        expectations(),
        st.sampled_from(PROBE_EXPECTS).map(Expectation.model_validate),
        st.sampled_from(PROBE_EXPECTS)
        .flatmap(mutated)
        .map(_valid_expectation)
        .filter(lambda e: e is not None),
    ),
)


def _detector(name: str) -> FuzzTarget:
    fn = DETECTORS[name]

    def run(value: tuple[Reply, Expectation]) -> None:
        check = fn(*value)
        if check is not None:
            assert 0.0 <= check.score <= 1.0 or math.isnan(check.score) is False, check
            json.dumps(check.to_dict(), default=str)

    return FuzzTarget(f"detector:{name}", DETECTOR_INPUTS, run)


# -- provider parsers ----------------------------------------------------------------------------


def _parser(name: str, parse: Any, fixtures: list[str]) -> FuzzTarget:
    bases = [_fixture(f) for f in fixtures]
    return FuzzTarget(f"parse:{name}", json_bodies(bases), parse, (ProviderProtocolError,))


def _stream(name: str, assemble: Any, fixtures: list[str]) -> FuzzTarget:
    bases = [_sse_fixture(f) for f in fixtures]
    return FuzzTarget(f"stream:{name}", sse_bodies(bases), assemble, (ProviderError,))


CONVERSE_EVENTS = [
    ("messageStart", {"role": "assistant"}),
    ("contentBlockDelta", {"delta": {"text": "Par"}, "contentBlockIndex": 0}),
    ("contentBlockDelta", {"delta": {"text": "is"}, "contentBlockIndex": 0}),
    ("contentBlockStop", {"contentBlockIndex": 0}),
    ("messageStop", {"stopReason": "end_turn"}),
    ("metadata", {"usage": {"inputTokens": 5, "outputTokens": 2}, "metrics": {"latencyMs": 9}}),
]
ANTHROPIC_EVENTS = _sse_fixture("anthropic_stream")


@st.composite
def _aws_stream(draw: st.DrawFn, invoke: bool) -> bytes:
    """An AWS event stream: events mutated, some as exception frames, maybe cut anywhere."""
    if invoke:
        events = draw(mutated(ANTHROPIC_EVENTS))
        events = events if isinstance(events, list) else [events]
        pairs = [
            ("chunk", {"bytes": base64.b64encode(json.dumps(e).encode()).decode()}) for e in events
        ]
        pairs = draw(mutated(pairs, max_edits=2))
    else:
        pairs = draw(mutated([list(p) for p in CONVERSE_EVENTS]))
    frames = b""
    for pair in pairs if isinstance(pairs, list) else [pairs]:
        if isinstance(pair, list | tuple) and len(pair) == 2 and isinstance(pair[1], dict):
            kind = pair[0] if isinstance(pair[0], str) else "x"
            kind = kind.encode("utf-8", "replace").decode()
            if draw(st.integers(0, 20)) == 0:
                frames += frame(
                    {":message-type": "exception", ":exception-type": "throttlingException"},
                    b'{"message": "slow down"}',
                )
            headers = {":event-type": kind, ":message-type": "event"}
            frames += frame(headers, json.dumps(pair[1]).encode())
        else:
            frames += frame({":message-type": "event"}, json.dumps(pair).encode())
    if draw(st.booleans()):
        frames = draw(truncated(frames))
    if draw(st.integers(0, 10)) == 0:
        frames += draw(st.binary(max_size=40))
    return frames


# -- small helpers and `canary detect` --------------------------------------------------------


def _detect_line(line: str) -> None:
    """One JSONL line through `canary detect` into a strict UTF-8 stdout, as the CLI writes."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    detect_stream([line], out, None)
    out.flush()


DETECT_LINES = st.one_of(
    st.tuples(st.text(ANY_CHAR, max_size=8), HOSTILE_TEXT, st.sampled_from(PROBE_EXPECTS)).map(
        lambda t: json.dumps({"id": t[0], "text": t[1], "expect": t[2]})
    ),
    st.sampled_from(PROBE_EXPECTS)
    .flatmap(lambda e: mutated({"id": "r1", "text": "Paris", "expect": e}))
    .map(json.dumps),
    st.text(ANY_CHAR, max_size=100),
)


def _retry_after(value: str) -> None:
    seconds = parse_retry_after(value)
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0), seconds


TARGETS: dict[str, FuzzTarget] = {
    t.name: t
    for t in [
        FuzzTarget(
            "load:config",
            st.one_of(yaml_texts(BASE_CONFIG), st.just(_billion_laughs(24))),
            _load_config,
            (ConfigError,),
        ),
        FuzzTarget(
            "load:probes",
            st.sampled_from(PROBE_BASES).flatmap(yaml_texts),
            _load_suite,
            (ConfigError,),
        ),
        FuzzTarget(
            "load:yaml",
            st.one_of(
                yaml_texts({"a": {"b": [1, "${HOME}", "${NOPE_CANARY:-x}"]}}),
                st.integers(1, 30).map(_billion_laughs),
            ),
            _parse_yaml,
            (ConfigError,),
        ),
        *(_detector(name) for name in DETECTORS),
        _parser(
            "openai_chat",
            openai_chat.parse,
            ["openai_chat_logprobs", "llamacpp_chat_logprobs", "openai_chat_content_filter"],
        ),
        _parser(
            "anthropic_messages",
            anthropic_messages.parse,
            ["anthropic_message", "anthropic_message_thinking"],
        ),
        _parser("openai_responses", openai_responses.parse, ["openai_response"]),
        _parser("bedrock_converse", bedrock.parse, ["bedrock_converse"]),
        _parser("vertex_gemini", vertex.parse_gemini, ["vertex_gemini", "vertex_gemini_blocked"]),
        FuzzTarget(
            "stream:sse_events",
            st.one_of(sse_bodies([_sse_fixture("openai_chat_stream")]), st.binary(max_size=500)),
            stream_parse.sse_events,
        ),
        _stream("openai_chat", openai_chat.assemble_stream, ["openai_chat_stream"]),
        _stream(
            "anthropic_messages",
            anthropic_messages.assemble_stream,
            ["anthropic_stream", "anthropic_stream_error"],
        ),
        _stream("vertex_gemini", vertex.assemble_gemini_stream, ["vertex_gemini_stream"]),
        FuzzTarget(
            "stream:openai_responses",
            sse_bodies([[_fixture("openai_response") | {"type": "x"}], [{"type": "error"}]])
            | sse_bodies(
                [
                    [
                        {"type": "response.output_text.delta", "delta": "Paris"},
                        {"type": "response.completed", "response": _fixture("openai_response")},
                    ]
                ]
            ),
            openai_responses.assemble_stream,
            (ProviderError,),
        ),
        FuzzTarget(
            "stream:bedrock_converse",
            st.one_of(_aws_stream(False), st.binary(max_size=200)),
            bedrock.assemble_converse_stream,
            (ProviderError,),
        ),
        FuzzTarget(
            "stream:bedrock_invoke",
            _aws_stream(True),
            bedrock.assemble_invoke_stream,
            (ProviderError,),
        ),
        FuzzTarget(
            "http:summarise_error",
            st.one_of(json_bodies([_fixture("openai_error_500")]), st.binary(max_size=300)),
            summarise_error,
        ),
        FuzzTarget("http:retry_after", st.one_of(TEXT, JSON_VALUES.map(str)), _retry_after),
        FuzzTarget("cli:detect_line", DETECT_LINES, _detect_line),
    ]
}
