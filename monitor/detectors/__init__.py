"""One module per detector family, one descriptor each, one registry.

Each detector is pure: `check(reply, expect) -> Check | None` (or, for a detector of a reply
under load, `compare(alone, loaded) -> Check`), with no I/O, clock, logging or mutable
globals, so the daemon and `canary detect` judge a reply identically, today and when it is
re-scored from the store. A detector with nothing to judge (its expectation unset, no code
block...) returns None rather than a pass, so pass rates count only real verdicts.

Each module declares a `DETECTOR` (`descriptor.Detector`): name, incident class, the
expectation it needs, the reasons it can give and the metric families it owns. `REGISTRY`
lists them in a fixed order (the order checks are run and reported in); everything else (the
metrics, the drift plans, the runner) reads it. Adding a detector is one module, its tests, and
its line in the tuple below.

The names are stable identifiers: they are the `detector` metric label, the names
`canary detect --detectors` takes, and the drift series keys. Never rename one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable

from monitor.config.expectation import Expectation
from monitor.detectors import (
    code_syntax,
    finish_reason,
    format_chars,
    json_schema,
    known_answer,
    length,
    load_consistency,
    scripts,
    sycophancy,
    top_token,
)
from monitor.detectors.descriptor import CheckFn, Detector
from monitor.types import Check, Reply

DetectorFn = CheckFn

#: Every detector by name, in the order checks are run and reported in.
REGISTRY: dict[str, Detector] = {}
#: The detectors of one reply, name -> check: what `canary detect` and `run_detectors` run.
DETECTORS: dict[str, DetectorFn] = {}


def register(detector: Detector) -> None:
    """Add a detector after the others (and, if it judges one reply, to `DETECTORS`)."""
    if detector.name in REGISTRY:
        raise ValueError(f"detector {detector.name} is registered twice")
    REGISTRY[detector.name] = detector
    if detector.check is not None:
        DETECTORS[detector.name] = detector.check


for _detector in (
    scripts.DETECTOR,  # output corruption: Thai/Chinese in English
    format_chars.DETECTOR,  # zero-width and bidi characters (lower severity)
    code_syntax.DETECTOR,  # syntax errors and truncated code
    known_answer.DETECTOR,
    json_schema.DETECTOR,
    top_token.DETECTOR,  # top-k miscompile seen in logprobs
    sycophancy.DETECTOR,  # behaviour drift
    length.DETECTOR,
    finish_reason.DETECTOR,
    load_consistency.DETECTOR,  # a burst copy against the reply sent alone
):
    register(_detector)


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


def _contained(name: str, exc: Exception) -> Check:
    """A raising detector's verdict: failed, naming the exception type only (messages may
    quote the reply, and evidence can reach logs)."""
    error = f"detector raised {type(exc).__name__}"
    return Check(detector=name, passed=False, score=0.0, evidence={"error": error})


def run_detectors(
    reply: Reply, expect: Expectation, only: Collection[str] | None = None
) -> tuple[Check, ...]:
    """Run every detector (or the `only` subset) in registry order; collect the checks.

    A detector that raises is a bug, but it must not take the probe run down with it: it
    becomes a failed check whose evidence names the exception type only.
    """
    checks: list[Check] = []
    for name in select(only):
        try:
            result = DETECTORS[name](reply, expect)
        except Exception as exc:  # containment is the point: see the docstring
            checks.append(_contained(name, exc))
            continue
        if result is not None:
            checks.append(result)
    return tuple(checks)


def compare_replies(alone: Reply, loaded: Reply, expect: Expectation) -> tuple[Check, ...]:
    """Every pair detector's verdict on a burst copy against the reply sent alone, in registry
    order; a detector that raises is contained as in `run_detectors`."""
    checks: list[Check] = []
    for name, detector in REGISTRY.items():
        if detector.compare is None or not detector.applies(expect):
            continue
        try:
            checks.append(detector.compare(alone, loaded))
        except Exception as exc:  # containment, as in run_detectors
            checks.append(_contained(name, exc))
    return tuple(checks)


def reports(expectations: Iterable[Expectation], burst: int = 0) -> dict[str, int]:
    """Detector name -> how many checks one run of probes with these expectations reports,
    each probe sent alone and, with `burst`, in that many concurrent copies; registry order,
    detectors that report nothing left out."""
    counts: Counter[str] = Counter()
    for expect in expectations:
        for name, detector in REGISTRY.items():
            if detector.applies(expect):
                counts[name] += detector.reports_per_probe(burst)
    return {name: counts[name] for name in REGISTRY if counts[name] > 0}
