"""Probe suites: fixed prompts or conversations with sampling parameters and expectations.

A suite is one YAML file with a name and a version; bumping the version tells the drift
engine that the baseline learned for the old wording no longer applies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from monitor.config.expectation import Expectation, Strict
from monitor.config.yamlsource import load_document, validate
from monitor.errors import ConfigError
from monitor.types import Message, ProbeRequest

# The largest context window any served model has (2M tokens): a cut-over or padding past it
# is a typo, and `context_cutover_tokens: 1e12` would build a terabyte prompt.
MAX_CONTEXT_TOKENS = 2_000_000

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]


class SamplingParams(Strict):
    """Sampling parameters; unset fields inherit the suite's `defaults`."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=65536)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)  # int64 on every API
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    stop: list[str] | None = None
    json_mode: bool | None = None
    # Streamed replies take their own code path on the server (SSE, the AWS event stream),
    # where truncation and corruption show up on their own; the same detectors judge them.
    stream: bool | None = None

    def over(self, base: SamplingParams) -> SamplingParams:
        """These params with unset fields taken from `base`."""
        merged = base.model_dump()
        merged.update({k: v for k, v in self.model_dump().items() if v is not None})
        return SamplingParams.model_validate(merged)


class PadSpec(Strict):
    """Pad the prompt to just below or just above the suite's context cut-over.

    Guards the misrouting incident: requests past a length threshold go to a long-context pool,
    so a probe padded to either side of the cut-over exercises both routes.
    """

    side: Literal["below", "above"]
    margin_tokens: int = Field(default=64, ge=0, le=MAX_CONTEXT_TOKENS)


class Turn(Strict):
    role: Literal["user", "assistant"]
    content: str = Field(min_length=1)


class Probe(Strict):
    """One fixed prompt (or conversation) and what its reply must satisfy."""

    name: Name
    reason: str = Field(min_length=1)  # one line naming the failure this probe guards
    prompt: str | None = Field(default=None, min_length=1)
    messages: list[Turn] | None = None
    system: str | None = None
    params: SamplingParams = Field(default_factory=SamplingParams)
    expect: Expectation = Field(default_factory=Expectation)
    sticky: bool = False  # reuse one affinity key so routing stickiness is exercised
    pad: PadSpec | None = None  # needs `context_cutover_tokens` on the suite or its binding
    # A known-good reply: the yardstick for similarity scores and what the simulated fleet says.
    reference: str | None = None

    @model_validator(mode="after")
    def _prompt_or_messages(self) -> Probe:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("set `prompt` or `messages`, not both")
        if self.messages is not None and (not self.messages or self.messages[-1].role != "user"):
            raise ValueError("`messages` must end with a user turn")
        return self

    def conversation(self) -> tuple[Message, ...]:
        if self.prompt is not None:
            return (Message("user", self.prompt),)
        assert self.messages is not None
        return tuple(Message(t.role, t.content) for t in self.messages)


_BUILTIN_DEFAULTS = SamplingParams(temperature=0.0, max_tokens=256)


class ProbeSuite(Strict):
    """A named, versioned set of probes: one `probes/*.yaml` file."""

    suite: Name
    version: int = Field(ge=1, le=2**31 - 1)
    description: str = ""
    defaults: SamplingParams = Field(default_factory=SamplingParams)
    context_cutover_tokens: int | None = Field(default=None, ge=64, le=MAX_CONTEXT_TOKENS)
    probes: list[Probe] = Field(min_length=1)

    def request(
        self,
        probe: Probe,
        affinity_key: str,
        *,
        cutover_tokens: int | None = None,
        stream: bool | None = None,
    ) -> ProbeRequest:
        """The wire-independent request for `probe`, defaults resolved and padding applied.

        `stream` (a binding's override) wins over the probe's and the suite's `stream`.
        """
        params = probe.params.over(self.defaults.over(_BUILTIN_DEFAULTS))
        assert params.max_tokens is not None and params.temperature is not None
        messages = probe.conversation()
        cutover = cutover_tokens or self.context_cutover_tokens
        if probe.pad is not None and cutover is not None:
            messages = pad_conversation(messages, probe.pad, cutover)
        return ProbeRequest(
            messages=messages,
            system=probe.system,
            max_tokens=params.max_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            seed=params.seed,
            top_logprobs=params.top_logprobs,
            stop=tuple(params.stop or ()),
            json_mode=bool(params.json_mode),
            affinity_key=affinity_key,
            stream=bool(params.stream) if stream is None else stream,
        )

    def probe(self, name: str) -> Probe:
        for probe in self.probes:
            if probe.name == name:
                return probe
        raise KeyError(name)


#: Neutral filler for padded probes; about 4 characters per token for English BPE vocabularies.
FILLER = (
    "The station log records the wind, the temperature and the cloud cover every hour. "
    "Nothing unusual happened on any of these days, and the notes repeat the same routine. "
)
CHARS_PER_TOKEN = 4


def pad_conversation(
    messages: tuple[Message, ...], pad: PadSpec, cutover_tokens: int
) -> tuple[Message, ...]:
    """The conversation with filler before the last user turn, sized to one side of the cut-over."""
    target = (
        cutover_tokens - pad.margin_tokens
        if pad.side == "below"
        else cutover_tokens + pad.margin_tokens
    )
    used = sum(len(m.content) for m in messages) // CHARS_PER_TOKEN
    filler_chars = max(0, target - used) * CHARS_PER_TOKEN
    filler = (FILLER * (filler_chars // len(FILLER) + 1))[:filler_chars]
    last = messages[-1]
    padded = f"Background notes (you can ignore them):\n{filler}\n\nQuestion: {last.content}"
    return (*messages[:-1], Message(last.role, padded))


def load_suite(path: Path) -> ProbeSuite:
    """Load one probe file; raises `ConfigError` with file:line: field: message."""
    doc = load_document(path, substitute_env=False)
    suite = validate(ProbeSuite, doc)
    seen: set[str] = set()
    problems = []
    for index, probe in enumerate(suite.probes):
        if probe.name in seen:
            problems.append(
                doc.problem(("probes", index, "name"), f"probe name {probe.name!r} is used twice")
            )
        seen.add(probe.name)
    if problems:
        raise ConfigError(problems)
    return suite


def suite_summary(suite: ProbeSuite) -> dict[str, Any]:
    return {
        "suite": suite.suite,
        "version": suite.version,
        "probes": [p.name for p in suite.probes],
    }
