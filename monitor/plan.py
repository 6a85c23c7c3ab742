"""The plan of a (re)load: every (target, suite) a config binds, with what runs and how.

One pure function turns a validated config into an immutable `Plan`; `canary run`, `once`,
`validate` and `demo`, drift pacing and the shard coordinator all read it, so the target x
binding loop is written once and a binding's options (cut-over, burst, streaming) mean the
same thing on every path (`canary once` had its own loop and ignored `burst`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from monitor.config import LoadedConfig, SuiteBinding, Target
from monitor.config.probes import ProbeSuite
from monitor.metrics import SeriesKey
from monitor.servable import Skipped, servable, streams


@dataclass(frozen=True, slots=True)
class SuiteOptions:
    """How a binding runs its suite: the context cut-over for padded probes, the burst size,
    and whether to stream (None: as each probe says)."""

    cutover_tokens: int | None = None
    burst: int = 0
    stream: bool | None = None


@dataclass(frozen=True, slots=True)
class PlannedSuite:
    """One suite bound to one target: the probes it can serve, those it skips, and how."""

    target: Target
    binding: SuiteBinding
    whole: ProbeSuite  # the suite as its file says
    runnable: ProbeSuite | None  # the probes the target's API can serve; None: none
    skipped: tuple[Skipped, ...]
    options: SuiteOptions
    streamed: bool  # any probe is sent streamed

    @property
    def key(self) -> str:
        """The job's stable name: `platform/pool/model/suite`."""
        return f"{self.target.name}/{self.whole.suite}"

    @property
    def labels(self) -> SeriesKey:
        target = self.target
        return SeriesKey(target.platform, target.pool, target.model, self.whole.suite)

    @property
    def interval_s(self) -> float:
        return self.binding.interval_s


@dataclass(frozen=True, slots=True)
class Plan:
    """Every (target, suite) of a config in config order: bindings first, then targets."""

    loaded: LoadedConfig
    suites: tuple[PlannedSuite, ...]
    # The same planned suites by target name, built once: the daemon looks a target up per
    # client build and per API call, and a scan of every suite each time is quadratic at
    # thousands of targets.
    by_target: Mapping[str, tuple[PlannedSuite, ...]] = dataclasses.field(compare=False)

    def runnable(self) -> Iterator[PlannedSuite]:
        """The planned suites with at least one probe their target can serve."""
        return (p for p in self.suites if p.runnable is not None)

    def of_target(self, name: str) -> tuple[PlannedSuite, ...]:
        return self.by_target.get(name, ())

    def models(self) -> set[str]:
        """The shards of the config: every model some suite probes."""
        return {p.target.model for p in self.suites}

    def targets_view(self) -> list[dict[str, Any]]:
        """Each configured target with the suites bound to it and the probes it skips, as
        `/api/v1/targets` shows them."""
        return [
            {
                "name": t.name,
                "platform": t.platform,
                "pool": t.pool,
                "model": t.model,
                "api": t.api,
                "base_url": t.base_url,
                "timeout_s": t.timeout_s,
                "concurrency": t.concurrency,
                "labels": dict(t.labels),
                "suites": [p.whole.suite for p in self.of_target(t.name)],
                "skipped": [
                    {"suite": p.whole.suite, **dataclasses.asdict(skip)}
                    for p in self.of_target(t.name)
                    for skip in p.skipped
                ],
            }
            for t in self.loaded.config.targets
        ]

    def select(self, target: str | None, suite: str | None) -> tuple[PlannedSuite, ...]:
        """The planned suites matching a target name and a suite name (None: any)."""
        return tuple(
            p
            for p in self.suites
            if target in (None, p.target.name) and suite in (None, p.whole.suite)
        )


def make_plan(loaded: LoadedConfig) -> Plan:
    """The plan of a loaded config: pure, the same for every caller of the same config."""
    planned = []
    for binding, whole in loaded.bindings:
        options = SuiteOptions(binding.context_cutover_tokens, binding.burst, binding.stream)
        for target in loaded.targets_for(binding):
            runnable, skipped = servable(target, binding, whole)
            planned.append(
                PlannedSuite(
                    target=target,
                    binding=binding,
                    whole=whole,
                    runnable=runnable,
                    skipped=skipped,
                    options=options,
                    streamed=runnable is not None and streams(binding, whole),
                )
            )
    by_target: dict[str, list[PlannedSuite]] = {}
    for entry in planned:
        by_target.setdefault(entry.target.name, []).append(entry)
    return Plan(loaded, tuple(planned), {name: tuple(p) for name, p in by_target.items()})
