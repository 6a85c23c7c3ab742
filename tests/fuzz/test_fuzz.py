"""Fuzz every loader, detector and parser: only documented errors escape, each input is fast.

CANARY_FUZZ_EXAMPLES sets the inputs per target (default in tests/fuzz/harness.py); the counts
are printed per target (`-s` shows them) and bench/fuzz.py runs the long form with a table.
"""

from __future__ import annotations

import pytest

from tests.fuzz.harness import BOUND_MS, examples_from_env, run_target
from tests.fuzz.targets import TARGETS


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_target(name: str) -> None:
    """No undocumented exception and no input slower than BOUND_MS, over N generated inputs."""
    stats = run_target(TARGETS[name], examples_from_env())
    print(
        f"\nfuzz {name}: {stats.inputs} inputs, {stats.rejected} rejected as documented,"
        f" {stats.failures} failures, max {stats.max_ms:.1f} ms"
    )
    assert stats.failures == 0, stats.first_failure
    assert stats.inputs >= min(examples_from_env(), 50)  # the strategy really produced inputs
    assert stats.max_ms <= BOUND_MS, stats.slowest
