"""`load_consistency`: a greedy probe answers the same alone and inside a concurrent burst.

Guards the sampling-miscompile incident class: the approximate top-k bug appeared only at some
batch sizes, so the same prompt worked on one request and failed on the next. Sending the same
greedy probe alone and then inside a burst, and comparing, makes a batch-size-dependent fault
visible even where the platform reports no logprobs. Unlike the other detectors it judges a
pair of replies: its descriptor sets `compare`, and only bindings with a burst report it.
"""

from __future__ import annotations

from monitor.detectors.descriptor import Detector, always
from monitor.types import Check, Reply

NAME = "load_consistency"
SNIPPET_CHARS = 80


def compare(alone: Reply, loaded: Reply) -> Check:
    """Pass when the reply under load equals the reply sent alone (surrounding space ignored)."""
    a, b = alone.text.strip(), loaded.text.strip()
    if a == b:
        return Check(detector=NAME, passed=True, score=1.0, evidence={"chars": len(a)})
    offset = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    start = max(0, offset - 20)
    return Check(
        detector=NAME,
        passed=False,
        score=0.0,
        evidence={
            "first_difference": offset,
            "alone": a[start : start + SNIPPET_CHARS],
            "under_load": b[start : start + SNIPPET_CHARS],
        },
    )


DETECTOR = Detector(
    name=NAME,
    incident="sampling miscompile",
    applies=always,
    reasons=("differs_under_load",),
    compare=compare,
)
