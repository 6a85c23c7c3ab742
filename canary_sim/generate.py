"""From a parsed request and the faults drawn for it to the reply tokens, wire-neutral.

The order follows where each bug lives in a real stack: routing first (a misrouted request
is served by another backend with another fingerprint), then model behaviour (sycophancy),
then decoding (wrong-script tokens, broken code, a dropped top token), then the stop rules
(stop sequences, `max_tokens`) that every backend applies last.
"""

from __future__ import annotations

import hashlib

from canary_sim import corrupt
from canary_sim.answers import AnswerBook
from canary_sim.faults import Plan
from canary_sim.records import ChatRequest, Generation
from canary_sim.tokens import count_tokens, tokenize

# Misrouted replies shorter than this are replaced by a non-answer rather than halved, so the
# degradation is visible in the content and not only in the finish reason.
_MIN_TOKENS_TO_HALVE = 4


def fingerprint(platform: str, pool: str, *, degraded: bool = False) -> str:
    """A stable `system_fingerprint` per (platform, pool); the degraded backend has its own."""
    backend = f"{platform}/{pool}" + ("/long-context-degraded" if degraded else "")
    return "fp_" + hashlib.blake2b(backend.encode(), digest_size=5).hexdigest()


def _cut_at(tokens: list[str], at: int) -> list[str]:
    """The tokens covering `text[:at]`, the last one trimmed if the cut falls inside it."""
    out: list[str] = []
    pos = 0
    for token in tokens:
        if pos + len(token) > at:
            if at > pos:
                out.append(token[: at - pos])
            break
        out.append(token)
        pos += len(token)
    return out


def _apply_stops(gen: Generation, stops: tuple[str, ...], max_tokens: int) -> None:
    text = gen.text
    hits = [(i, s) for s in stops if s and (i := text.find(s)) >= 0]
    if hits:
        at, sequence = min(hits)
        gen.tokens = _cut_at(gen.tokens, at)
        gen.finish, gen.stop_sequence = "stop_sequence", sequence
    if len(gen.tokens) > max_tokens:
        gen.tokens = gen.tokens[:max_tokens]
        gen.finish, gen.stop_sequence = "length", None
    gen.dropped = {i: t for i, t in gen.dropped.items() if i < len(gen.tokens)}


def generate(
    book: AnswerBook, request: ChatRequest, platform: str, pool: str, plan: Plan
) -> Generation:
    """The reply `platform/pool` gives to `request` under the faults in `plan`."""
    answer = book.lookup(request.system, request.messages, json_mode=request.json_mode)
    text = answer.text
    degraded_fp = False
    halve = False
    if (fault := plan.get("misroute")) is not None:
        plan.mark("misroute")
        degraded_fp = True
        if fault.degrade == "non_answer" or len(answer.tokens) < _MIN_TOKENS_TO_HALVE:
            text = corrupt.NON_ANSWER
        else:
            halve = True
    if plan.get("sycophancy") is not None:
        text = corrupt.sycophancy(request.messages, text, answer.corrects_premise, plan.rng)
        plan.mark("sycophancy")
    if (fault := plan.get("code_corruption")) is not None:
        corrupted = corrupt.code_corruption(text, fault, plan.rng)
        if corrupted is not None:
            text = corrupted
            plan.mark("code_corruption")
    if (fault := plan.get("wrong_script")) is not None:
        inserted = corrupt.wrong_script(text, fault, plan.rng)
        if inserted is not None:
            text = inserted
            plan.mark("wrong_script")
    tokens = list(answer.tokens if text is answer.text else tokenize(text))
    gen = Generation(
        tokens=tokens,
        fingerprint=fingerprint(platform, pool, degraded=degraded_fp),
        input_tokens=count_tokens(request.system or "")
        + sum(count_tokens(m.content) for m in request.messages),
    )
    if plan.get("top_token_drop") is not None and corrupt.drop_top_token(gen.tokens, gen.dropped):
        plan.mark("top_token_drop")
    if halve:
        gen.tokens = gen.tokens[: len(gen.tokens) // 2]
        gen.finish = "length"
    _apply_stops(gen, request.stop, request.max_tokens)
    return gen
