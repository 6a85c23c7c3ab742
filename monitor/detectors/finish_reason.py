"""`finish_reason`: a probe must stop for an expected reason, usually "stop".

Guards truncation from a misrouted long-context pool or a wrong max-tokens setting: the reply
may read plausibly yet end with `length`, and content-filter stops that appear on one platform
only. A platform that reports no reason at all fails too: the canary cannot vouch for it.
"""

from __future__ import annotations

from typing import Any

from monitor.config.expectation import Expectation
from monitor.detectors.descriptor import Detector
from monitor.types import Check, Reply

NAME = "finish_reason"


def check(reply: Reply, expect: Expectation) -> Check | None:
    """Judge `reply.finish_reason` against `expect.finish_reason`; None when not expected.

    An empty allowed list is taken literally (nothing is allowed) rather than as "unset", so a
    mistaken probe is loud rather than silently unjudged.
    """
    allowed = expect.finish_reason
    if allowed is None:
        return None
    got = reply.finish_reason
    evidence: dict[str, Any] = {
        "got": None if got is None else got.value,
        "allowed": list(allowed),
        "raw": reply.raw_finish_reason,
    }
    if got is None:
        evidence["reason"] = "no finish reason"
        return Check(detector=NAME, passed=False, score=0.0, evidence=evidence)
    passed = got.value in allowed
    return Check(detector=NAME, passed=passed, score=1.0 if passed else 0.0, evidence=evidence)


DETECTOR = Detector(
    name=NAME,
    incident="truncation",
    applies=lambda expect: expect.finish_reason is not None,
    reasons=("unexpected_reason", "no_finish_reason"),
    check=check,
)
