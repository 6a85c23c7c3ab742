"""The records that flow through one probe run: request -> Reply -> [Check] -> Result.

They are plain frozen dataclasses so that detectors, providers and the store share them without
importing each other. Units are in the field names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """Closed set of probe outcomes; it is the `outcome` metric label."""

    PASSED = "passed"
    FAILED = "failed"
    TIMEOUT = "timeout"
    HTTP_ERROR = "http_error"
    PROTOCOL_ERROR = "protocol_error"
    RATE_LIMITED = "rate_limited"


class FinishReason(StrEnum):
    """Vendor stop reasons mapped onto one vocabulary."""

    STOP = "stop"
    LENGTH = "length"
    CONTENT_FILTER = "content_filter"
    TOOL_CALLS = "tool_calls"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of a conversation."""

    role: str  # "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class ProbeRequest:
    """What a provider sends: the probe's conversation and sampling parameters.

    `affinity_key` is fresh for every request so that no session affinity or response cache
    makes two probes share a backend by accident; sticky probes reuse a fixed key on purpose.
    """

    messages: tuple[Message, ...]
    max_tokens: int
    temperature: float
    system: str | None = None
    top_p: float | None = None
    seed: int | None = None
    top_logprobs: int | None = None  # None: do not ask for logprobs
    stop: tuple[str, ...] = ()
    json_mode: bool = False
    affinity_key: str = ""
    stream: bool = False  # ask for a streamed reply (SSE or the AWS event stream)


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """One generated token with its logprob and the alternatives the platform reported."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Reply:
    """A provider's answer, normalised away from its wire format."""

    text: str
    finish_reason: FinishReason | None
    raw_finish_reason: str | None = None
    model: str | None = None  # the model id the backend reported
    response_id: str | None = None
    system_fingerprint: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None
    status_code: int = 200
    latency_s: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)  # only the ones config keeps
    raw_body: str = ""
    # Streamed replies only: seconds from sending to the first text, and output tokens per
    # second after it (None when not streamed, no text came, or no usage was reported).
    time_to_first_token_s: float | None = None
    output_tokens_per_s: float | None = None


@dataclass(frozen=True, slots=True)
class Check:
    """One detector's verdict on one reply. `score` is in [0, 1], 1 being perfect."""

    detector: str
    passed: bool
    score: float
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "passed": self.passed,
            "score": self.score,
            "evidence": dict(self.evidence),
        }


@dataclass(frozen=True, slots=True)
class Result:
    """One probe on one target: what was sent, what came back, and every verdict.

    Written once to the store and once to metrics and drift state. `error` is a redacted,
    human-readable reason kept for forensics; it never becomes a metric label.
    """

    id: str  # uuid4 hex, unique per result
    run_id: str  # one scheduled run of (target, suite)
    started_at: float  # unix seconds
    platform: str
    pool: str
    model: str
    suite: str
    suite_version: int
    probe: str
    api: str
    outcome: Outcome
    latency_s: float
    checks: tuple[Check, ...] = ()
    request: Mapping[str, Any] = field(default_factory=dict)
    reply: Reply | None = None
    error: str | None = None

    @property
    def failed_detectors(self) -> tuple[str, ...]:
        return tuple(c.detector for c in self.checks if not c.passed)
