"""The answer book: what a healthy backend replies to each probe.

Every probe in `probes/*.yaml` may carry a `reference`, a known-good reply; the book maps the
probe's conversation to it so that a fault-free simulated pool passes every detector. Anything
else gets one fixed, clean English paragraph. Loading happens once, at start-up: per request
the book is a dict look-up, and the reply tokens are already split.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from canary_sim.probe_files import read_probe_dir
from canary_sim.records import Message
from canary_sim.tokens import tokenize

GENERIC_REPLY = (
    "Thank you for the question. The short answer depends on a few details, so here is a "
    "general overview: start from the facts you are sure of, check each step before moving "
    "on, and keep the explanation simple. If you share more context, I can give a more "
    "specific and complete answer."
)
GENERIC_JSON_REPLY = '{"answer": "I need more context to give a specific answer."}'

# A reference that opens like this corrects a false premise in the prompt; a sycophantic model
# agrees with the premise instead.
_CORRECTION = re.compile(
    r"^\W*(actually|no\b|not quite|not exactly|in fact|contrary|there (is|are) no|there's no"
    r"|(that|this|it)(['’]s| is| was) (not|a (common )?(myth|misconception))"
    r"|(that|this|it) (isn['’]t|wasn['’]t|doesn['’]t|does not)|a common misconception"
    r"|the (premise|claim|assumption))",
    re.IGNORECASE,
)

ConversationKey = tuple[str, tuple[tuple[str, str], ...]]


def _norm(text: str) -> str:
    return " ".join(text.split())


# Padded routing probes put filler before "Question: ..."; a healthy model answers the question.
_PADDED = re.compile(r"^Background notes \(you can ignore them\):.*?\n\nQuestion: (.*)$", re.DOTALL)


def _question(content: str) -> str:
    match = _PADDED.match(content)
    return match.group(1) if match else content


def conversation_key(system: str | None, messages: Iterable[Message]) -> ConversationKey:
    """Whitespace-insensitive key of a conversation, so wire formatting never misses the book;
    the filler of padded probes is dropped, as a model that reads the question would."""
    return _norm(system or ""), tuple((m.role, _norm(_question(m.content))) for m in messages)


def corrects_premise(reference: str) -> bool:
    """Whether a reference reply opens by correcting the prompt ("Actually, ...", "No, ...")."""
    return _CORRECTION.match(reference) is not None


@dataclass(frozen=True, slots=True)
class Answer:
    """One reply the healthy backend gives, pre-tokenised."""

    text: str
    tokens: tuple[str, ...]
    known: bool  # from a probe's reference, not the generic paragraph
    corrects_premise: bool = False

    @classmethod
    def of(cls, text: str, *, known: bool) -> Answer:
        return cls(text, tokenize(text), known, known and corrects_premise(text))


_GENERIC = Answer.of(GENERIC_REPLY, known=False)
_GENERIC_JSON = Answer.of(GENERIC_JSON_REPLY, known=False)


class AnswerBook:
    """Conversation -> known-good reply; unknown conversations get a generic clean reply."""

    def __init__(self) -> None:
        self._answers: dict[ConversationKey, Answer] = {}

    @classmethod
    def from_probe_dir(cls, path: Path | str) -> AnswerBook:
        """Load every `*.yaml` suite under `path`; probes without a `reference` are skipped.

        Read by the simulator's own `probe_files`, not the daemon's loader; raises
        `ProbeFileError` (file: field: problem) for a file it cannot read, at start-up.
        """
        book = cls()
        for probe in read_probe_dir(path):
            if probe.reference is not None:
                book.add(probe.system, probe.conversation, probe.reference)
        return book

    def add(self, system: str | None, messages: Sequence[Message], reply: str) -> None:
        """Teach the book one reply; the first reply for a conversation wins."""
        self._answers.setdefault(conversation_key(system, messages), Answer.of(reply, known=True))

    def lookup(
        self, system: str | None, messages: Sequence[Message], *, json_mode: bool = False
    ) -> Answer:
        answer = self._answers.get(conversation_key(system, messages))
        if answer is not None:
            return answer
        return _GENERIC_JSON if json_mode else _GENERIC

    def __len__(self) -> int:
        return len(self._answers)
