"""Capability flags: every registered API has a row, unsupported requests name a reason, and
a suite is reduced to the probes a target can serve."""

from __future__ import annotations

from dataclasses import replace

import pytest

from monitor.config.model import SuiteBinding
from monitor.config.probes import ProbeSuite
from monitor.providers import WIRE_SPECS
from monitor.providers.capabilities import CAPABILITY_NAMES, unsupported
from monitor.providers.wire import Capabilities
from monitor.servable import Skipped, servable
from monitor.types import Message, ProbeRequest
from tests.providers.fakes import make_target

PLAIN = ProbeRequest(messages=(Message("user", "hi"),), max_tokens=4, temperature=0.0)


def test_every_api_has_capabilities() -> None:
    """A new wire API cannot be registered without saying what it can serve."""
    assert all(isinstance(spec.capabilities, Capabilities) for spec in WIRE_SPECS.values())


@pytest.mark.parametrize(
    ("api", "request_", "capability", "reason"),
    [
        ("openai_chat", replace(PLAIN, top_logprobs=5, seed=1, stop=("x",)), None, None),
        (
            "bedrock_converse",
            replace(PLAIN, top_logprobs=5),
            "logprobs",
            "bedrock_converse has no logprobs",
        ),
        # A seed and JSON mode are hints: Anthropic ignores them rather than skipping probes.
        ("vertex_anthropic", replace(PLAIN, seed=3, json_mode=True), None, None),
        (
            "openai_responses",
            replace(PLAIN, stop=("x",)),
            "stop_sequences",
            "openai_responses has no stop sequences",
        ),
        ("vertex_gemini", replace(PLAIN, top_logprobs=2, seed=3, system="s"), None, None),
        ("bedrock_invoke", replace(PLAIN, stream=True), None, None),
        ("unknown", replace(PLAIN, seed=3), None, None),
    ],
)
def test_unsupported(
    api: str, request_: ProbeRequest, capability: str | None, reason: str | None
) -> None:
    """The first feature the API lacks is the reason; a servable request has none."""
    why = unsupported(api, request_)
    assert (why and why.capability, why and why.reason) == (capability, reason)
    assert why is None or why.capability in CAPABILITY_NAMES


def test_logprobs_only_when_a_detector_reads_them() -> None:
    """Logprobs asked for as a hint (no top-token check) do not skip the probe."""
    request = replace(PLAIN, top_logprobs=5)
    assert unsupported("anthropic_messages", request, needs_logprobs=False) is None
    assert unsupported("anthropic_messages", request, needs_logprobs=True) is not None


def test_context_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A prompt estimated past the target's (or the API's) window is skipped with the numbers."""
    long = replace(PLAIN, messages=(Message("user", "x" * 4000),), max_tokens=100)
    why = unsupported("openai_chat", long, max_context_tokens=1000)
    assert why is not None and why.capability == "max_context"
    assert why.reason == "needs about 1100 tokens; the target serves at most 1000"
    assert unsupported("openai_chat", long, max_context_tokens=1100) is None
    caps = Capabilities(logprobs=True, seed=True, max_context_tokens=512)
    spec = replace(WIRE_SPECS["openai_chat"], capabilities=caps)
    monkeypatch.setitem(WIRE_SPECS, "openai_chat", spec)
    assert unsupported("openai_chat", long) is not None


def test_streaming_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    caps = Capabilities(logprobs=True, seed=True, streaming=False)
    spec = replace(WIRE_SPECS["openai_chat"], capabilities=caps)
    monkeypatch.setitem(WIRE_SPECS, "openai_chat", spec)
    why = unsupported("openai_chat", replace(PLAIN, stream=True))
    assert why is not None and why.reason == "openai_chat has no streaming"


SUITE = ProbeSuite.model_validate(
    {
        "suite": "mixed",
        "version": 1,
        "defaults": {"seed": 7},
        "probes": [
            {"name": "plain", "reason": "r", "prompt": "Capital of France?"},
            {
                "name": "top",
                "reason": "r",
                "prompt": "Say yes.",
                "params": {"top_logprobs": 5},
                "expect": {"top_token": {}},
            },
            {
                "name": "hint",
                "reason": "r",
                "prompt": "Say no.",
                "params": {"top_logprobs": 5},
            },
            {
                "name": "stops",
                "reason": "r",
                "prompt": "Count.",
                "params": {"stop": ["5"]},
            },
        ],
    }
)
BINDING = SuiteBinding(file="x.yaml")


@pytest.mark.parametrize(
    ("api", "kept", "skipped"),
    [
        ("openai_chat", ["plain", "top", "hint", "stops"], []),
        ("anthropic_messages", ["plain", "hint", "stops"], [("top", "logprobs")]),
        ("openai_responses", ["plain", "top", "hint"], [("stops", "stop_sequences")]),
    ],
)
def test_servable(api: str, kept: list[str], skipped: list[tuple[str, str]]) -> None:
    """Each target keeps what it can serve; the rest are named with their capability."""
    suite, skips = servable(make_target(api), BINDING, SUITE)
    assert suite is not None and [p.name for p in suite.probes] == kept
    assert [(s.probe, s.capability) for s in skips] == skipped
    assert all(isinstance(s, Skipped) and s.reason for s in skips)


def test_servable_whole_suite() -> None:
    """A suite none of whose probes a target can serve is not scheduled there at all."""
    only_top = SUITE.model_copy(update={"probes": [SUITE.probe("top")]})
    suite, skips = servable(make_target("bedrock_converse", region="us-east-1"), BINDING, only_top)
    assert suite is None and [s.probe for s in skips] == ["top"]
    same, none = servable(make_target("openai_chat"), BINDING, SUITE)
    assert same is SUITE and none == ()
