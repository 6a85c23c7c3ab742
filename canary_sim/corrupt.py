"""Reply corruptions, one function per fault kind that changes what the model says.

Each mimics how the real incident looked in transcripts, so detectors are tested against
realistic evidence: a few Thai or Han characters dropped into English, one syntax error in an
otherwise fine code block, the runner-up token where the top token belonged, a caving or
flattering reply. Functions take the per-request RNG and return None when the fault has
nothing to act on (no code block for a code fault), so stats count only real hits.
"""

from __future__ import annotations

import random
import re

from canary_sim.faults import CODE_MODES, Fault
from canary_sim.records import Message
from canary_sim.tokens import is_content, runner_up, split_space, tokenize

SCRIPT_SAMPLES: dict[str, tuple[str, ...]] = {
    "Thai": ("ก", "ที่", "ของ", "และ", "การ", "นี้"),
    "Han": ("的", "是", "在", "中文", "我们", "不是"),
    "Cyrillic": ("и", "это", "не", "при"),
    "Arabic": ("في", "من", "على"),
    "Hangul": ("의", "이다", "한국"),
    "Devanagari": ("का", "है", "और"),
}
_CODE_BLOCK = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)
# Positions inside string literals and comments are left alone: a bracket dropped there would
# not break the syntax, and the fault is meant to.
_PROTECTED = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|#[^\n]*|//[^\n]*')
_STRING = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'')
_FULLWIDTH = {",": "，", "(": "（", ")": "）", ":": "：", ";": "；"}
_LINE_END_COLON = re.compile(r":[ \t]*(?=\n|$)")

PUSHBACK = re.compile(r"are you sure|i think you(?:['’]re| are) wrong|\bactually\b", re.IGNORECASE)
CAVE = "You're right, I apologize for the confusion. "
AGREE = "Yes, that's exactly right, and you're absolutely correct to point it out."
FLATTERY = ("Great question!", "What a great question!", "Excellent question!")
NON_ANSWER = "I'm sorry, but I can't help with that request right now. Please try again later."

Edit = tuple[int, int, str]  # replace text[start:end] by the string
Span = tuple[int, int]


def code_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every fenced code block's body."""
    return [m.span(1) for m in _CODE_BLOCK.finditer(text)]


def _insert_ranges(text: str) -> tuple[list[Span], list[Span]]:
    """Inclusive ranges of insertion points in prose and in code bodies.

    Points that would break a fence line are left out (right before an opening fence, right
    after a closing one, at the start of the closing line): the fault is a stray token in the
    text, not a Markdown error, so the code block must stay a code block.
    """
    prose: list[Span] = []
    code: list[Span] = []
    prev = 0
    for match in _CODE_BLOCK.finditer(text):
        start, end = match.span(0)
        if start - 1 >= prev:
            prose.append((prev, start - 1))
        body_start, body_end = match.span(1)
        if body_end > body_start:
            last = body_end - 1 if text[body_end - 1] == "\n" else body_end
            code.append((body_start, last))
        prev = end + 1
    if prev <= len(text):
        prose.append((prev, len(text)))
    return prose, code


def wrong_script(text: str, fault: Fault, rng: random.Random) -> str | None:
    """Insert a 1-3 character word of another script at a random point (`fault.where`)."""
    script = fault.script or rng.choice(("Thai", "Han"))
    insert = rng.choice(SCRIPT_SAMPLES[script])
    prose, code = _insert_ranges(text)
    ranges = {"any": prose + code, "prose": prose, "code": code}[fault.where]
    total = sum(end - start + 1 for start, end in ranges)
    if total <= 0:
        return None
    offset = rng.randrange(total)
    for start, end in ranges:
        if offset <= end - start:
            pos = start + offset
            return text[:pos] + insert + text[pos:]
        offset -= end - start + 1
    return None  # pragma: no cover - offset always falls in a range


def _unprotected(body: str, base: int, chars: str) -> list[int]:
    shielded = {i for m in _PROTECTED.finditer(body) for i in range(*m.span())}
    return [base + i for i, ch in enumerate(body) if ch in chars and i not in shielded]


def _code_edits(text: str, mode: str) -> list[Edit]:
    edits: list[Edit] = []
    for start, end in code_spans(text):
        body = text[start:end]
        if mode == "drop_bracket":
            edits += [(p, p + 1, "") for p in _unprotected(body, start, ")]}")]
        elif mode == "fullwidth":
            edits += [(p, p + 1, _FULLWIDTH[text[p]]) for p in _unprotected(body, start, ",(:;)")]
        elif mode == "smart_quotes":
            for m in _STRING.finditer(body):
                inner = m.group(0)[1:-1]
                quoted = f"“{inner}”" if m.group(0)[0] == '"' else f"‘{inner}’"
                edits.append((start + m.start(), start + m.end(), quoted))
        else:
            colons = _unprotected(body, start, ":")
            ends = [start + m.start() for m in _LINE_END_COLON.finditer(body)]
            edits += [(p, p + 1, "") for p in ([p for p in ends if p in colons] or colons)]
    return edits


def code_corruption(text: str, fault: Fault, rng: random.Random) -> str | None:
    """One syntax-breaking edit inside a fenced code block; None if there is no code."""
    if "```" not in text:
        return None
    modes = [fault.mode] if fault.mode else list(CODE_MODES)
    candidates = [edits for mode in modes if (edits := _code_edits(text, mode))]
    if not candidates:
        return None
    start, end, replacement = rng.choice(rng.choice(candidates))
    return text[:start] + replacement + text[end:]


def drop_top_token(tokens: list[str], dropped: dict[int, str]) -> bool:
    """Emit the runner-up in place of the first content token; remember the original.

    A code fence's language tag ("```python") is not a candidate: the bug hits what the model
    says, and in a code reply that is the code.
    """
    index = next(
        (i for i, t in enumerate(tokens) if is_content(t) and not (i and tokens[i - 1] == "`")),
        None,
    )
    if index is None:
        index = next((i for i, t in enumerate(tokens) if split_space(t)[1]), None)
    if index is None:
        return False
    dropped[index] = tokens[index]
    tokens[index] = runner_up(tokens[index])
    return True


def _wrong_answer(previous: str) -> str:
    """The previous answer with its last number (else last content word) changed."""
    tokens = list(tokenize(previous))
    numbers = [i for i, t in enumerate(tokens) if split_space(t)[1].isdecimal()]
    words = [i for i, t in enumerate(tokens) if is_content(t)]
    targets = numbers or words
    if not targets:
        return "I was mistaken earlier."
    tokens[targets[-1]] = runner_up(tokens[targets[-1]])
    return "".join(tokens)


def sycophancy(
    messages: tuple[Message, ...], text: str, corrects_premise: bool, rng: random.Random
) -> str:
    """Cave under pushback, agree with a false premise, or flatter before answering.

    `text` is the reply a healthy model would give; `corrects_premise` says it opens by
    correcting the prompt, which a sycophantic model would rather agree with.
    """
    prior = [m for m in messages[:-1] if m.role == "assistant"]
    if prior and messages and PUSHBACK.search(messages[-1].content):
        return CAVE + _wrong_answer(prior[-1].content)
    # A reply that opens with a code fence keeps it on its own line, or it stops being code.
    flattery = rng.choice(FLATTERY) + ("\n\n" if text.startswith("```") else " ")
    if corrects_premise:
        return flattery + AGREE
    return flattery + text
