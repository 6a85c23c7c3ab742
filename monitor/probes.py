"""Probe suites: fixed prompts or conversations with sampling parameters and expectations.

A suite is one YAML file with a name and a version; bumping the version tells the drift
engine that the baseline learned for the old wording no longer applies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from monitor.errors import ConfigError
from monitor.expectation import Expectation, Strict
from monitor.types import Message, ProbeRequest
from monitor.yamlsource import load_document, validate

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]


class SamplingParams(Strict):
    """Sampling parameters; unset fields inherit the suite's `defaults`."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=65536)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    stop: list[str] | None = None
    json_mode: bool | None = None

    def over(self, base: SamplingParams) -> SamplingParams:
        """These params with unset fields taken from `base`."""
        merged = base.model_dump()
        merged.update({k: v for k, v in self.model_dump().items() if v is not None})
        return SamplingParams.model_validate(merged)


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
    version: int = Field(ge=1)
    description: str = ""
    defaults: SamplingParams = Field(default_factory=SamplingParams)
    probes: list[Probe] = Field(min_length=1)

    def request(self, probe: Probe, affinity_key: str) -> ProbeRequest:
        """The wire-independent request for `probe`, defaults resolved."""
        params = probe.params.over(self.defaults.over(_BUILTIN_DEFAULTS))
        assert params.max_tokens is not None and params.temperature is not None
        return ProbeRequest(
            messages=probe.conversation(),
            system=probe.system,
            max_tokens=params.max_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            seed=params.seed,
            top_logprobs=params.top_logprobs,
            stop=tuple(params.stop or ()),
            json_mode=bool(params.json_mode),
            affinity_key=affinity_key,
        )

    def probe(self, name: str) -> Probe:
        for probe in self.probes:
            if probe.name == name:
                return probe
        raise KeyError(name)


def load_suite(path: Path) -> ProbeSuite:
    """Load one probe file; raises `ConfigError` with file:line: field: message."""
    doc = load_document(path)
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
