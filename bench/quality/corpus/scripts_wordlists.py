"""Real frequency word lists, one per script, that corruptions draw their foreign text from.

Most come from `wordfreq` (frequencies from Wikipedia, subtitles, news, web text...). Scripts
that `wordfreq` lacks (Thai first: it is the incident's own script) get a frequency list
counted from this machine's gettext catalogs of a language written in that script, the same
way: tokens split at non-letters, ranked by count. Each list keeps only words whose every
letter is in its script by the naive (name-based) guess, so that a "Thai word" is Thai.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from functools import cache

import regex
import wordfreq

from bench.quality.corpus.scripts_naive import naive_script
from bench.quality.corpus.scripts_sources import catalog_messages

#: (script, wordfreq languages) pairs.
WORDFREQ: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Arabic", ("ar", "fa", "ur")),
    ("Hebrew", ("he",)),
    ("Devanagari", ("hi",)),
    ("Bengali", ("bn",)),
    ("Tamil", ("ta",)),
    ("Han", ("zh",)),
    ("Hiragana", ("ja",)),
    ("Katakana", ("ja",)),
    ("Hangul", ("ko",)),
    ("Cyrillic", ("ru", "uk", "bg")),
    ("Greek", ("el",)),
)
#: (script, gettext locales) for scripts that wordfreq has no list for.
CATALOGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Thai", ("th",)),
    ("Georgian", ("ka",)),
    ("Armenian", ("hy",)),
    ("Ethiopic", ("am", "ti")),
    ("Khmer", ("km",)),
    ("Sinhala", ("si",)),
    ("Gujarati", ("gu",)),
    ("Telugu", ("te",)),
    ("Kannada", ("kn",)),
    ("Malayalam", ("ml",)),
    ("Gurmukhi", ("pa",)),
    ("Oriya", ("or",)),
    ("Tibetan", ("dz",)),
    ("Myanmar", ("my",)),
)
TOP_WORDS = 1500
_TOKEN = regex.compile(r"[\p{L}\p{M}]+")
_FORMAT = regex.compile(r"%[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]|\{[^}]*\}|<[^>]*>|[_&](?=\w)")


@dataclass(frozen=True, slots=True)
class WordList:
    """Words of one script, most frequent first, and their sampling weights (Zipf, 1/rank)."""

    script: str
    source: str
    words: tuple[str, ...]
    weights: tuple[float, ...]

    def word(self, rng: random.Random) -> str:
        return rng.choices(self.words, cum_weights=self.weights)[0]


def _pure(word: str, script: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return bool(letters) and all(naive_script(c) == script for c in letters)


def _wordlist(script: str, source: str, ranked: list[str]) -> WordList:
    words = tuple(dict.fromkeys(w for w in ranked if _pure(w, script)))[:TOP_WORDS]
    total = 0.0
    cumulative = []
    for rank in range(1, len(words) + 1):
        total += 1.0 / rank
        cumulative.append(total)
    return WordList(script, source, words, tuple(cumulative))


@cache
def word_lists() -> tuple[WordList, ...]:
    """Every list with at least 50 words, in a fixed order."""
    lists = []
    for script, langs in WORDFREQ:
        ranked: list[str] = []
        for lang in langs:
            ranked.extend(wordfreq.top_n_list(lang, 4 * TOP_WORDS))
        lists.append(_wordlist(script, "wordfreq:" + ",".join(langs), ranked))
    for script, locales in CATALOGS:
        counts: Counter[str] = Counter()
        for locale in locales:
            for message in catalog_messages(locale):
                counts.update(_TOKEN.findall(_FORMAT.sub(" ", message)))
        ranked = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        lists.append(_wordlist(script, "gettext:" + ",".join(locales), ranked))
    return tuple(wl for wl in lists if len(wl.words) >= 50)


def graphemes(word: str) -> list[str]:
    """User-perceived characters (a Thai consonant with its vowel mark is one)."""
    return regex.findall(r"\X", word)
