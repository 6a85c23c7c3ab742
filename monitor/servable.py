"""Which probes of a suite a target can serve, and why the others are skipped.

A probe that needs a feature its target's wire API lacks (logprobs for a top-token check on
Bedrock, stop sequences on the Responses API, a prompt past the target's context) would fail
on every run: a config mistake, not a platform fault. Such probes are left out of that
target's schedule and its drift series, and reported with a reason instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.config.model import SuiteBinding, Target
from monitor.config.probes import ProbeSuite
from monitor.providers.capabilities import unsupported


@dataclass(frozen=True, slots=True)
class Skipped:
    """One probe left out on one target: the capability it needs and a sentence why."""

    probe: str
    capability: str  # one of capabilities.CAPABILITY_NAMES
    reason: str


def streams(binding: SuiteBinding, suite: ProbeSuite) -> bool:
    """Whether any probe of `suite` is sent streamed under `binding`."""
    if binding.stream is not None:
        return binding.stream
    return any(p.params.over(suite.defaults).stream for p in suite.probes)


def servable(
    target: Target, binding: SuiteBinding, suite: ProbeSuite
) -> tuple[ProbeSuite | None, tuple[Skipped, ...]]:
    """`suite` reduced to the probes `target` can serve (None if none), and the skipped ones."""
    keep = []
    skipped: list[Skipped] = []
    for probe in suite.probes:
        request = suite.request(
            probe, "", cutover_tokens=binding.context_cutover_tokens, stream=binding.stream
        )
        why = unsupported(
            target.api,
            request,
            needs_logprobs=probe.expect.top_token is not None,
            max_context_tokens=target.max_context_tokens,
        )
        if why is None:
            keep.append(probe)
        else:
            skipped.append(Skipped(probe.name, why.capability, why.reason))
    if not keep:
        return None, tuple(skipped)
    if not skipped:
        return suite, ()
    return suite.model_copy(update={"probes": keep}), tuple(skipped)
