"""`top_token`: under greedy decoding the chosen token is always the most likely one.

Guards the sampling-miscompile incident class: an approximate top-k that sometimes dropped the
most likely token (only at some batch sizes). Exact-answer checks see it only when the dropped
token changes the answer; logprobs see it directly, because a greedy reply whose chosen token is
not the top-1 of the alternatives the platform reports is exactly what the bug produces. Where a
platform returns no logprobs there is nothing to judge and no check.
"""

from __future__ import annotations

from typing import Any

from monitor.config.expectation import Expectation
from monitor.detectors.descriptor import Detector
from monitor.types import Check, Reply, TokenLogprob

NAME = "top_token"

#: Logprobs are rounded by some servers; a chosen token this close to the best one is a tie.
TIE_TOLERANCE = 1e-3


def _best(token: TokenLogprob) -> tuple[str, float] | None:
    if not token.top:
        return None
    return max(token.top, key=lambda alternative: alternative[1])


def _first_greedy_violation(tokens: tuple[TokenLogprob, ...]) -> dict[str, Any] | None:
    for position, token in enumerate(tokens):
        best = _best(token)
        if best is not None and best[0] != token.token and best[1] > token.logprob + TIE_TOLERANCE:
            return {
                "position": position,
                "chosen": token.token,
                "chosen_logprob": token.logprob,
                "top1": best[0],
                "top1_logprob": best[1],
                "alternatives": [list(a) for a in token.top[:5]],
            }
    return None


def _first_content(tokens: tuple[TokenLogprob, ...]) -> tuple[int, TokenLogprob] | None:
    for position, token in enumerate(tokens):
        if token.token.strip():
            return position, token
    return None


def check(reply: Reply, expect: Expectation) -> Check | None:
    """Judge the reply's logprobs against `expect.top_token`; None without logprobs."""
    spec = expect.top_token
    if spec is None or not reply.logprobs:
        return None
    problems: list[str] = []
    evidence: dict[str, Any] = {"tokens": len(reply.logprobs)}
    if spec.greedy:
        violation = _first_greedy_violation(reply.logprobs)
        evidence["greedy_violation"] = violation
        if violation is not None:
            problems.append("chosen token is not the top-1")
    if spec.token is not None or spec.min_logprob is not None:
        first = _first_content(reply.logprobs)
        if first is None:
            problems.append("no content token")
        else:
            position, token = first
            runner_up = sorted((a for a in token.top if a[0] != token.token), key=lambda a: -a[1])[
                :1
            ]
            evidence["first_token"] = {
                "position": position,
                "token": token.token,
                "logprob": token.logprob,
                "runner_up": list(runner_up[0]) if runner_up else None,
            }
            content = token.token.strip()
            if spec.token is not None and not (
                spec.token.startswith(content) or content.startswith(spec.token)
            ):
                problems.append(f"first token is not the start of {spec.token!r}")
            if spec.min_logprob is not None and token.logprob < spec.min_logprob:
                problems.append(f"first token logprob below {spec.min_logprob}")
    evidence["problems"] = problems
    passed = not problems
    return Check(detector=NAME, passed=passed, score=1.0 if passed else 0.0, evidence=evidence)


DETECTOR = Detector(
    name=NAME,
    incident="sampling miscompile",
    applies=lambda expect: expect.top_token is not None,
    reasons=("not_top1", "no_content_token", "wrong_first_token", "low_first_logprob"),
    check=check,
)
