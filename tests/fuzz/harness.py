"""Run a fuzz target under Hypothesis and count what happened: inputs, failures, slowest input.

A *target* is a function that must either return or raise one of its documented error types
(`ConfigError`, `ProviderProtocolError`...); anything else is a failure, and so is an input that
takes more than `BOUND_MS` of CPU time. Each call is timed with `process_time` (the bound: CPU
spent by this process, which a busy shared machine does not inflate) and `perf_counter` (wall
time, reported), so the bound is a check on the code, not a sleep. `run_target(stop_on_failure=True)` (the tests) lets the first
failure propagate so that Hypothesis shrinks it; `False` (bench/fuzz.py) counts every failure.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

BOUND_MS = 1000.0  # no single input may take longer than this
DEFAULT_EXAMPLES = 300  # per target in CI; bench/fuzz.py runs the long form


def examples_from_env(default: int = DEFAULT_EXAMPLES) -> int:
    """Inputs per target: CANARY_FUZZ_EXAMPLES, else `default`."""
    return int(os.environ.get("CANARY_FUZZ_EXAMPLES", default))


@dataclass(frozen=True)
class FuzzTarget:
    """A function under fuzz, its input strategy and the exceptions it may raise by contract."""

    name: str
    strategy: st.SearchStrategy[Any]
    run: Callable[[Any], object]
    allowed: tuple[type[BaseException], ...] = ()


@dataclass
class Stats:
    """What one run of a target saw."""

    target: str
    inputs: int = 0
    rejected: int = 0  # raised an allowed (documented) error
    failures: int = 0
    max_ms: float = 0.0  # the most CPU time an input took, the first one excepted
    max_wall_ms: float = 0.0
    first_ms: float = 0.0
    slowest: str = ""
    first_failure: str = ""
    wall_s: float = 0.0
    failed_inputs: list[str] = field(default_factory=list)


class SlowInput(AssertionError):
    """One input took longer than BOUND_MS."""


def run_target(
    target: FuzzTarget,
    examples: int,
    *,
    stop_on_failure: bool = True,
    seed: int | None = None,
    bound_ms: float = BOUND_MS,
) -> Stats:
    """Feed `examples` generated inputs to `target`; return the counts (see the module doc)."""
    stats = Stats(target.name)
    phases = [Phase.explicit, Phase.generate]
    if stop_on_failure:
        phases.append(Phase.shrink)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        derandomize=seed is None and stop_on_failure,
        print_blob=False,
    )
    @given(value=target.strategy)
    def body(value: Any) -> None:
        stats.inputs += 1
        started, cpu_started = time.perf_counter(), time.process_time()
        failure: BaseException | None = None
        try:
            target.run(value)
        except target.allowed:
            stats.rejected += 1
        except Exception as exc:  # the point: anything undocumented is a finding
            failure = exc
        elapsed_ms = (time.process_time() - cpu_started) * 1000
        wall_ms = (time.perf_counter() - started) * 1000
        if stats.inputs == 1:
            stats.first_ms = elapsed_ms  # pays one-off lazy imports and grammar loads
        else:
            stats.max_wall_ms = max(stats.max_wall_ms, wall_ms)
            if elapsed_ms > stats.max_ms:
                stats.max_ms, stats.slowest = elapsed_ms, _short(value)
        if failure is None and elapsed_ms > bound_ms * (5 if stats.inputs == 1 else 1):
            failure = SlowInput(f"{elapsed_ms:.0f} ms of CPU > {bound_ms:.0f} ms")
        if failure is not None:
            stats.failures += 1
            described = f"{type(failure).__name__}: {failure} <- {_short(value)}"
            stats.first_failure = stats.first_failure or described
            if len(stats.failed_inputs) < 5:
                stats.failed_inputs.append(described)
            if stop_on_failure:
                raise failure

    if seed is not None:
        body = hypothesis_seed(seed)(body)
    started = time.perf_counter()
    body()
    stats.wall_s = time.perf_counter() - started
    return stats


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"
