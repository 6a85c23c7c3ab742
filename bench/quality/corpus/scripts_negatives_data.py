"""Hard negatives, part 2: classes that come from packages' data rather than Unicode's.

Emoji (single, ZWJ sequences, skin tones, flags and tag sequences) from the `emoji`
package's full list; kaomoji from `kaomoji-dataset` (its core tier: faces meant for any
language, not the Japanese-text ones); IPA transcriptions of the reply's own words from
`eng-to-ipa`'s CMU-derived dictionary; accented Latin names and words from `wordfreq`'s
lists of Latin-script languages; code with \\u escapes built around real source.
"""

from __future__ import annotations

import gzip
import importlib.resources
import json
import random
import unicodedata
from functools import cache

import emoji
import regex
import wordfreq

from bench.quality.corpus.scripts_corrupt import code_spans
from bench.quality.corpus.scripts_negatives import Negative, _many, insert_phrase

_WORD = regex.compile(r"\b[a-z]{4,}\b")
_SKIN = regex.compile(r"[\U0001F3FB-\U0001F3FF]")
_FLAG = regex.compile(r"\p{Regional_Indicator}|\U0001F3F4\U000E0067")


@cache
def emoji_groups() -> dict[str, tuple[str, ...]]:
    """The emoji package's emoji by kind: zwj, skin_tone, flags and basic."""
    groups: dict[str, list[str]] = {"zwj": [], "skin_tone": [], "flags": [], "basic": []}
    for item in sorted(emoji.EMOJI_DATA):
        if _FLAG.search(item):
            groups["flags"].append(item)
        elif _SKIN.search(item):
            groups["skin_tone"].append(item)
        elif "\u200d" in item:
            groups["zwj"].append(item)
        else:
            groups["basic"].append(item)
    return {k: tuple(v) for k, v in groups.items()}


def _emoji(group: str) -> Negative:
    def negative(text: str, rng: random.Random) -> str:
        pool = emoji_groups()[group]
        return _many(
            text, rng, lambda r: r.choice([r.choice(pool), f"{r.choice(pool)} {r.choice(pool)}"])
        )

    return negative


@cache
def kaomoji_core() -> tuple[str, ...]:
    """Kaomoji of the dataset's core tier meant for every locale."""
    path = importlib.resources.files("kaomoji_dataset") / "data/kaomoji.jsonl.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as rows:
        return tuple(
            row["text"]
            for row in map(json.loads, rows)
            if row.get("tier") == "core" and row.get("locale_scope") == ["*"]
        )


def kaomoji(text: str, rng: random.Random) -> str:
    faces = kaomoji_core()
    face = rng.choice(faces)
    if rng.random() < 0.5:
        glue = "\n\n" if text.rstrip().endswith("```") else rng.choice([" ", "\n\n", "! "])
        return text.rstrip() + glue + face
    return insert_phrase(text, face, rng)


def ipa(text: str, rng: random.Random) -> str | None:
    import eng_to_ipa  # type: ignore[import-untyped]  # no stubs; imported late: slow start

    words = sorted(set(_WORD.findall(text)))
    rng.shuffle(words)
    words = words[:12]
    phrases = []
    transcriptions = eng_to_ipa.convert(" ".join(words)).split() if words else []
    for transcription in transcriptions if len(transcriptions) == len(words) else []:
        if "*" not in transcription:
            phrases.append(rng.choice([f"/{transcription}/", f"[{transcription}]", transcription]))
        if len(phrases) >= 3:
            break
    if not phrases:
        return None
    for phrase in phrases:
        text = (
            insert_phrase(text, f"({phrase})", rng)
            if rng.random() < 0.5
            else insert_phrase(text, phrase, rng)
        )
    return text


@cache
def accented_words() -> tuple[str, ...]:
    """Words with non-ASCII Latin letters from 16 Latin-script languages' frequency lists."""
    langs = [
        "de",
        "fr",
        "es",
        "pt",
        "it",
        "pl",
        "cs",
        "sk",
        "hu",
        "ro",
        "tr",
        "vi",
        "is",
        "da",
        "sv",
        "fi",
    ]
    found: list[str] = []
    for lang in langs:
        for word in wordfreq.top_n_list(lang, 3000):
            if (
                not word.isascii()
                and word.isalpha()
                and all(c.isascii() or "LATIN" in _name(c) for c in word)
            ):
                found.append(word)
    return tuple(found)


def _name(char: str) -> str:
    return unicodedata.name(char, "")


def accented_names(text: str, rng: random.Random) -> str:
    pool = accented_words()

    def name(r: random.Random) -> str:
        first, last = r.choice(pool).capitalize(), r.choice(pool).capitalize()
        return r.choice(
            [
                f"{first} {last}",
                f"{last}'s method",
                f"({first} {last}, {r.randint(1950, 2024)})",
                first,
            ]
        )

    return _many(text, rng, name)


def code_escapes(text: str, rng: random.Random) -> str:
    def escape(r: random.Random) -> str:
        cp = r.choice(
            [r.randint(0xA0, 0x2FFF), r.randint(0x3000, 0xFFFF), r.randint(0x1F300, 0x1FAFF)]
        )
        return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"

    lines = [
        f'label = "caf{escape(rng)} {escape(rng)}"',
        f"print('{escape(rng)}{escape(rng)}')",
        'RESET = "\\x1b[0m"  # ANSI reset, escaped',
        f'data = json.loads(\'{{"quote": "{escape(rng)}Hi{escape(rng)}"}}\')',
        'ALPHA = "\\N{GREEK SMALL LETTER ALPHA}"',
        f"const s = '{escape(rng)}';",
        f"char c = L'{escape(rng)}';",
    ]
    snippet = "\n".join(rng.sample(lines, rng.randint(2, 5)))
    spans = code_spans(text)
    if spans and rng.random() < 0.6:
        at = spans[0][0]
        return text[:at] + snippet + "\n" + text[at:]
    return text.rstrip() + "\n\n```python\n" + snippet + "\n```\n"


KINDS: dict[str, Negative] = {
    "emoji": _emoji("basic"),
    "emoji_zwj": _emoji("zwj"),
    "emoji_skin_tone": _emoji("skin_tone"),
    "emoji_flags": _emoji("flags"),
    "kaomoji": kaomoji,
    "ipa": ipa,
    "accented_names": accented_names,
    "code_escapes": code_escapes,
}
