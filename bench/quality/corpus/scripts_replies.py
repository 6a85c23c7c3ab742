"""Clean replies shaped like a model's answers, assembled from real text on this machine.

An English reply is a window of consecutive blocks from one man page, README or module
docstring (headings, paragraphs, lists), often with a fenced code block of real source
(standard-library Python, C headers, the page's own examples). A reply in another language is
a run of messages from that locale's gettext catalogs or a window of a translated man page,
sometimes with a code block. A hygiene filter based on character names (not the detector)
drops any block with a letter outside the language's scripts, a control character or U+FFFD.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

import regex

from bench.quality.corpus import scripts_sources
from bench.quality.corpus.scripts_naive import foreign_letters
from monitor.detectors.scripts_sets import language_scripts

#: gettext locale -> BCP 47 tag of the non-English replies (14 scripts, 28 languages).
LOCALES: dict[str, str] = {
    "ja": "ja", "zh_CN": "zh-CN", "zh_TW": "zh-TW", "ko": "ko", "ru": "ru", "uk": "uk",
    "bg": "bg", "sr": "sr", "th": "th", "el": "el", "ar": "ar", "fa": "fa", "he": "he",
    "hi": "hi", "bn": "bn", "ta": "ta", "ka": "ka", "hy": "hy", "am": "am", "km": "km",
    "de": "de", "fr": "fr", "es": "es", "pl": "pl", "tr": "tr", "vi": "vi", "cs": "cs",
    "pt_BR": "pt-BR",
}  # fmt: skip
#: Locales that also have translated man pages under /usr/share/man.
MAN_LOCALES = ("de", "fr", "es", "ja", "ko", "pl", "ru", "tr", "uk", "zh_CN", "zh_TW")
_BROKEN = regex.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffd\p{Cn}\p{Co}\p{Cs}]")
_FENCE_LANGS = ("", "text", "sh", "console")


@dataclass(frozen=True, slots=True)
class BaseReply:
    """One clean reply, where it came from, and the BCP 47 language it is written in."""

    text: str
    source: str
    language: str


@cache
def _clean(text: str, language: str) -> bool:
    scripts = frozenset(language_scripts(language) or ("Latin",))
    return not _BROKEN.search(text) and not foreign_letters(text, scripts) and "```" not in text


def _render(blocks: list[scripts_sources.Block], rng: random.Random) -> str:
    out: list[str] = []
    items: list[str] = []
    for kind, text in blocks:
        if kind != "li" and items:
            out.append("\n".join(items))
            items = []
        if kind == "h":
            out.append(f"{rng.choice(['##', '###'])} {text.strip().title()}")
        elif kind.startswith("code"):
            fence = kind.partition(":")[2] or rng.choice(_FENCE_LANGS)
            out.append(f"```{fence}\n{text.rstrip()}\n```")
        elif kind == "li":
            items.append(f"{rng.choice(['-', '*', '1.'])} {text}")
        else:
            out.append(text)
    if items:
        out.append("\n".join(items))
    return "\n\n".join(out)


def _window(
    blocks: list[scripts_sources.Block], rng: random.Random, language: str, size: tuple[int, int]
) -> list[scripts_sources.Block]:
    usable = [(k, t) for k, t in blocks if _clean(t, language) and len(t) < 2500]
    if not usable:
        return []
    count = rng.randint(*size)
    start = rng.randrange(0, max(1, len(usable) - count + 1))
    window = usable[start : start + count]
    if rng.random() < 0.3:  # short paragraphs read as a bullet list
        window = [("li", t) if k == "p" and len(t) < 160 else (k, t) for k, t in window]
    return window


def _code_pool(rng: random.Random) -> list[tuple[str, str]]:
    pool: list[tuple[str, str]] = []
    for _, _, functions in scripts_sources.python_sources(60, rng):
        pool.extend(("python", f) for f in functions[:4] if _clean(f, "en"))
    pool.extend(("c", c) for c in scripts_sources.c_snippets(80, rng) if _clean(c, "en"))
    return pool


def english_replies(count: int, rng: random.Random) -> list[BaseReply]:
    """`count` English replies from man pages, READMEs and docstrings, about a third with code."""
    code = _code_pool(rng)
    docs: list[tuple[str, list[scripts_sources.Block]]] = []
    docs += [("man", b) for _, b in scripts_sources.man_pages(None, max(60, count // 2), rng)]
    docs += [("readme", b) for _, b in scripts_sources.readmes(max(30, count // 8), rng)]
    for _, docstrings, _ in scripts_sources.python_sources(120, rng):
        for doc in docstrings[:3]:
            docs.append(("docstring", [("p", p) for p in regex.split(r"\n\s*\n", doc) if p]))
    replies: list[BaseReply] = []
    while len(replies) < count:
        source, blocks = docs[rng.randrange(len(docs))]
        window = _window(blocks, rng, "en", (2, 6))
        if not window:
            continue
        if code and rng.random() < 0.35:
            lang, snippet = code[rng.randrange(len(code))]
            window.insert(rng.randint(1, len(window)), (f"code:{lang}", snippet))
            source += "+code"
        text = _render(window, rng)
        if 150 <= len(text) <= 6000:
            replies.append(BaseReply(text, source, "en"))
    return replies


def _message_blocks(
    messages: list[str], rng: random.Random, tag: str
) -> list[scripts_sources.Block]:
    chosen = [m for m in rng.sample(messages, min(len(messages), 40)) if 12 <= len(m) <= 400]
    chosen = [m for m in chosen if _clean(m, tag)][: rng.randint(4, 14)]
    blocks: list[scripts_sources.Block] = []
    while chosen:
        size = rng.randint(1, 4)
        take, chosen = chosen[:size], chosen[size:]
        if rng.random() < 0.3:
            blocks.extend(("li", m.replace("\n", " ")) for m in take)
        else:
            blocks.append(("p", " ".join(m.replace("\n", " ") for m in take)))
    return blocks


def intl_replies(per_language: int, rng: random.Random) -> list[BaseReply]:
    """`per_language` replies in each of `LOCALES` from catalogs and translated man pages."""
    code = [c for _, c in _code_pool(rng)]
    replies: list[BaseReply] = []
    for locale, tag in LOCALES.items():
        messages = scripts_sources.catalog_messages(locale)
        pages = list(scripts_sources.man_pages(locale, 40, rng)) if locale in MAN_LOCALES else []
        made = attempts = 0
        while made < per_language and attempts < per_language * 20 and (messages or pages):
            attempts += 1
            if pages and (not messages or rng.random() < 0.5):
                blocks = _window(pages[rng.randrange(len(pages))][1], rng, tag, (2, 5))
                source = f"man-{locale}"
            else:
                blocks = _message_blocks(messages, rng, tag)
                source = f"gettext-{locale}"
            if code and rng.random() < 0.2:
                blocks.append(("code:python", code[rng.randrange(len(code))]))
            text = _render(blocks, rng)
            if 60 <= len(text) <= 6000:
                replies.append(BaseReply(text, source, tag))
                made += 1
    return replies
