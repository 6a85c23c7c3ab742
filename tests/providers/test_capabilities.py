"""Capability flags: every registered API has a row, and unsupported requests name a reason."""

from __future__ import annotations

from dataclasses import replace

import pytest

from monitor.providers import PROVIDERS
from monitor.providers.capabilities import CAPABILITIES, unsupported
from monitor.types import Message, ProbeRequest

PLAIN = ProbeRequest(messages=(Message("user", "hi"),), max_tokens=4, temperature=0.0)


def test_every_api_has_capabilities() -> None:
    """A new wire API cannot be registered without saying what it can serve."""
    assert sorted(CAPABILITIES) == sorted(PROVIDERS)


@pytest.mark.parametrize(
    ("api", "request_", "reason"),
    [
        ("openai_chat", replace(PLAIN, top_logprobs=5, seed=1, stop=("x",)), None),
        ("bedrock_converse", replace(PLAIN, top_logprobs=5), "bedrock_converse has no logprobs"),
        ("vertex_anthropic", replace(PLAIN, seed=3), "vertex_anthropic has no seed"),
        ("openai_responses", replace(PLAIN, stop=("x",)), "openai_responses has no stop sequences"),
        ("vertex_gemini", replace(PLAIN, top_logprobs=2, seed=3, system="s"), None),
        ("unknown", replace(PLAIN, seed=3), None),
    ],
)
def test_unsupported(api: str, request_: ProbeRequest, reason: str | None) -> None:
    """The first feature the API lacks is the reason; a servable request has none."""
    assert unsupported(api, request_) == reason
