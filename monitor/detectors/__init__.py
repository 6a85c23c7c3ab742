"""One module per detector family, one signature, one registry.

Each detector is a pure `check(reply, expect) -> Check | None`: no I/O, clock, logging or
mutable globals, so the daemon and `canary detect` judge a reply identically, today and when it
is re-scored from the store. A detector with nothing to judge (its expectation unset, no code
block...) returns None rather than a pass, so pass rates count only real verdicts.

The keys of `DETECTORS` are stable identifiers: they are the `detector` metric label, the names
`canary detect --detectors` takes, and the drift series keys. Never rename one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from monitor.detectors import (
    code_syntax,
    finish_reason,
    format_chars,
    json_schema,
    known_answer,
    length,
    scripts,
    sycophancy,
    top_token,
)
from monitor.expectation import Expectation
from monitor.types import Check, Reply

DetectorFn = Callable[[Reply, Expectation], Check | None]

DETECTORS: dict[str, DetectorFn] = {
    scripts.NAME: scripts.check,  # output corruption: Thai/Chinese in English
    format_chars.NAME: format_chars.check,  # zero-width and bidi characters (lower severity)
    code_syntax.NAME: code_syntax.check,  # syntax errors and truncated code
    known_answer.NAME: known_answer.check,
    json_schema.NAME: json_schema.check,
    top_token.NAME: top_token.check,  # top-k miscompile seen in logprobs
    sycophancy.NAME: sycophancy.check,  # behaviour drift
    length.NAME: length.check,
    finish_reason.NAME: finish_reason.check,
}


def select(only: Collection[str] | None) -> tuple[str, ...]:
    """The detector names to run, in registry order; every detector when `only` is None.

    Raises ValueError naming the unknown and the known detectors: a typo must not silently
    turn a detector off.
    """
    if only is None:
        return tuple(DETECTORS)
    unknown = sorted(set(only) - DETECTORS.keys())
    if unknown:
        raise ValueError(f"unknown detector(s) {', '.join(unknown)}; known: {', '.join(DETECTORS)}")
    return tuple(name for name in DETECTORS if name in only)


def run_detectors(
    reply: Reply, expect: Expectation, only: Collection[str] | None = None
) -> tuple[Check, ...]:
    """Run every detector (or the `only` subset) in registry order; collect the checks.

    A detector that raises is a bug, but it must not take the probe run down with it: it
    becomes a failed check whose evidence names the exception type only (messages may quote
    the reply, and evidence can reach logs).
    """
    checks: list[Check] = []
    for name in select(only):
        try:
            result = DETECTORS[name](reply, expect)
        except Exception as exc:  # containment is the point: see the docstring
            error = f"detector raised {type(exc).__name__}"
            checks.append(Check(detector=name, passed=False, score=0.0, evidence={"error": error}))
            continue
        if result is not None:
            checks.append(result)
    return tuple(checks)
