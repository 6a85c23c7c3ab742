"""Corruptions, one function per kind, applied to clean replies at random places.

They model what the output-corruption incident put into transcripts: single stray letters of
another script, sub-word pieces glued to words, whole foreign words, several scripts at once,
Cyrillic or Greek look-alikes inside Latin words, and broken text (U+FFFD, control
characters, ANSI escapes). Foreign text is drawn from real frequency word lists
(`scripts_wordlists`), never from a script the reply's expectation allows. Each function returns the
corrupted text and a description, or None when the reply offers no place (no code block for
a code kind).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import regex

from bench.quality.corpus.scripts_wordlists import WordList, graphemes

Corruption = tuple[str, dict[str, object]]
Span = tuple[int, int]

_FENCED = regex.compile(r"^```[^\n]*\n(.*?)^```", regex.M | regex.S)
_LATIN_WORD = regex.compile(r"[A-Za-z]{3,}")
_STRING = regex.compile(r"\"[^\"\n]{2,}\"|'[^'\n]{2,}'")
_COMMENT = regex.compile(r"(?:#|//|/\*) ?[^\n]{3,}")
_BOUNDARY = regex.compile(r"(?<=\w) (?=\w)")
#: Latin letters and the Cyrillic and Greek letters that look like them (UTS #39 confusables).
HOMOGLYPHS: dict[str, dict[str, str]] = {
    "Cyrillic": dict(zip("aceopxyijshABCEHKMOPTXYIJS", "асеорхуіјѕһАВСЕНКМОРТХУІЈЅ", strict=True)),
    "Greek": dict(zip("oviuABEHIKMNOPTXYZapykntx", "ονιυΑΒΕΗΙΚΜΝΟΡΤΧΥΖαργκητχ", strict=True)),
}
CONTROLS = [
    chr(c) for c in (*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), *range(0x7F, 0xA0)) if c != 0x1B
]
ANSI = (
    "\x1b[31m",
    "\x1b[1m",
    "\x1b[0m",
    "\x1b[1;32m",
    "\x1b[38;5;208m",
    "\x1b[2K",
    "\x1b[1A",
    "\x1b[4m",
)


def code_spans(text: str) -> list[Span]:
    return [m.span(1) for m in _FENCED.finditer(text) if m.end(1) > m.start(1)]


def prose_spans(text: str) -> list[Span]:
    spans, prev = [], 0
    for found in _FENCED.finditer(text):
        if found.start() > prev:
            spans.append((prev, found.start()))
        prev = found.end()
    if prev < len(text):
        spans.append((prev, len(text)))
    return [(a, b) for a, b in spans if b > a]


def _point(spans: Sequence[Span], rng: random.Random) -> int | None:
    """A uniformly random insertion point inside the spans (end points excluded)."""
    total = sum(b - a for a, b in spans)
    if total <= 0:
        return None
    k = rng.randrange(total)
    for a, b in spans:
        if k < b - a:
            return a + k
        k -= b - a
    return None


def _insert(text: str, at: int, piece: str) -> str:
    return text[:at] + piece + text[at:]


def _pick(lists: Sequence[WordList], rng: random.Random) -> WordList:
    return lists[rng.randrange(len(lists))]


def letter(lists: Sequence[WordList], rng: random.Random) -> tuple[str, str]:
    """One grapheme of a frequency-weighted word of a random script."""
    wl = _pick(lists, rng)
    return rng.choice(graphemes(wl.word(rng))), wl.script


def piece(lists: Sequence[WordList], rng: random.Random) -> tuple[str, str]:
    """Two or three graphemes from inside a word (a sub-word token)."""
    wl = _pick(lists, rng)
    for _ in range(20):
        chars = graphemes(wl.word(rng))
        if len(chars) >= 3:
            size = rng.randint(2, min(3, len(chars) - 1))
            start = rng.randrange(len(chars) - size + 1)
            return "".join(chars[start : start + size]), wl.script
    return wl.words[0], wl.script


def _where(text: str, where: str) -> list[Span]:
    return code_spans(text) if where == "code" else prose_spans(text)


def letter_at(where: str) -> Callable[[str, Sequence[WordList], random.Random], Corruption | None]:
    def corrupt(text: str, lists: Sequence[WordList], rng: random.Random) -> Corruption | None:
        at = _point(_where(text, where), rng)
        if at is None:
            return None
        char, script = letter(lists, rng)
        return _insert(text, at, char), {"scripts": [script], "at": at, "inserted": char}

    return corrupt


def subword_glued(text: str, lists: Sequence[WordList], rng: random.Random) -> Corruption | None:
    words = list(_LATIN_WORD.finditer(text))
    if not words:
        return None
    word = rng.choice(words)
    chunk, script = piece(lists, rng)
    at = rng.choice([word.start(), word.end(), rng.randint(word.start() + 1, word.end() - 1)])
    return _insert(text, at, chunk), {"scripts": [script], "at": at, "inserted": chunk}


def word_prose(text: str, lists: Sequence[WordList], rng: random.Random) -> Corruption | None:
    spans = prose_spans(text)
    gaps = [
        m.start() for m in _BOUNDARY.finditer(text) if any(a <= m.start() < b for a, b in spans)
    ]
    if not gaps:
        return None
    at = rng.choice(gaps)
    wl = _pick(lists, rng)
    word = wl.word(rng)
    return _insert(text, at, " " + word), {"scripts": [wl.script], "at": at + 1, "inserted": word}


def word_code(text: str, lists: Sequence[WordList], rng: random.Random) -> Corruption | None:
    spans = code_spans(text)
    if not spans:
        return None
    places: list[int] = []
    for a, b in spans:
        body = text[a:b]
        places += [
            a + m.start() + rng.randint(1, len(m.group()) - 1) for m in _STRING.finditer(body)
        ]
        places += [a + m.end() for m in _COMMENT.finditer(body)]
        places += [a + m.end() for m in _LATIN_WORD.finditer(body)]
    if not places:
        return None
    at = rng.choice(places)
    wl = _pick(lists, rng)
    word = wl.word(rng)
    return _insert(text, at, word), {"scripts": [wl.script], "at": at, "inserted": word}


def word_anywhere(text: str, lists: Sequence[WordList], rng: random.Random) -> Corruption | None:
    """A whole word at any point of the prose: scripts like Thai or Japanese have no spaces."""
    at = _point(prose_spans(text), rng)
    if at is None:
        return None
    wl = _pick(lists, rng)
    word = wl.word(rng)
    return _insert(text, at, word), {"scripts": [wl.script], "at": at, "inserted": word}


def multi_script(text: str, lists: Sequence[WordList], rng: random.Random) -> Corruption | None:
    chosen = rng.sample(list(lists), min(len(lists), rng.randint(2, 4)))
    spans = [(0, len(text))]
    scripts = []
    for wl in chosen:
        at = _point(spans, rng)
        if at is None:
            return None
        words = graphemes(wl.word(rng))
        chunk = "".join(words) if rng.random() < 0.5 else rng.choice(words)
        text = _insert(text, at, chunk)
        spans = [(0, len(text))]
        scripts.append(wl.script)
    return text, {"scripts": scripts}


def homoglyph(text: str, lists: Sequence[WordList], rng: random.Random) -> Corruption | None:
    script = rng.choice(sorted(HOMOGLYPHS))
    table = HOMOGLYPHS[script]
    words = [m for m in _LATIN_WORD.finditer(text) if any(c in table for c in m.group())]
    if not words:
        return None
    word = rng.choice(words)
    slots = [i for i in range(word.start(), word.end()) if text[i] in table]
    chars = list(text)
    for i in rng.sample(slots, min(len(slots), rng.choice([1, 1, 2]))):
        chars[i] = table[text[i]]
    return "".join(chars), {"scripts": [script], "at": word.start(), "word": word.group()}


def replacement(text: str, lists: Sequence[WordList], rng: random.Random) -> Corruption | None:
    at = rng.randrange(len(text) + 1)
    run = "\ufffd" * rng.randint(1, 3)
    return _insert(text, at, run), {"scripts": ["Replacement"], "at": at}


def control(text: str, lists: Sequence[WordList], rng: random.Random) -> Corruption | None:
    at = rng.randrange(len(text) + 1)
    chars = "".join(rng.choice(CONTROLS) for _ in range(rng.randint(1, 2)))
    return _insert(text, at, chars), {"scripts": ["Control"], "at": at, "inserted": chars}


def ansi_escape(text: str, lists: Sequence[WordList], rng: random.Random) -> Corruption | None:
    words = list(_LATIN_WORD.finditer(text))
    if words and rng.random() < 0.7:
        word = rng.choice(words)
        wrapped = rng.choice(ANSI[:5]) + word.group() + "\x1b[0m"
        return text[: word.start()] + wrapped + text[word.end() :], {"scripts": ["Control"]}
    at = rng.randrange(len(text) + 1)
    return _insert(text, at, rng.choice(ANSI)), {"scripts": ["Control"], "at": at}


#: Kind -> (corruption, which base replies it applies to: "en" or "intl").
KINDS: dict[
    str, tuple[Callable[[str, Sequence[WordList], random.Random], Corruption | None], str]
] = {
    "letter_prose": (letter_at("prose"), "en"),
    "letter_code": (letter_at("code"), "en"),
    "subword_glued": (subword_glued, "en"),
    "word_prose": (word_prose, "en"),
    "word_code": (word_code, "en"),
    "multi_script": (multi_script, "en"),
    "homoglyph": (homoglyph, "en"),
    "replacement": (replacement, "en"),
    "control": (control, "en"),
    "ansi_escape": (ansi_escape, "en"),
    "letter_intl": (letter_at("prose"), "intl"),
    "word_intl": (word_anywhere, "intl"),
}
