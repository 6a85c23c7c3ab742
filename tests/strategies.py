"""Hypothesis strategies shared by the tests: replies, expectations and texts that look like them.

Texts mix arbitrary Unicode with the shapes detectors parse (fences, JSON, Markdown emphasis),
so properties reach the parsing branches rather than only the "no match" path.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import regex
from hypothesis import strategies as st

from monitor.config.expectation import Expectation
from monitor.types import FinishReason, Reply, TokenLogprob

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def reply_texts(draw: st.DrawFn) -> str:
    """Arbitrary text, JSON, fenced blocks (closed or cut short) and emphasised answers."""
    plain = st.text(max_size=200)
    as_json = _json_values.map(json.dumps)
    fenced = st.tuples(
        st.sampled_from(["```", "```json", "~~~", "```python", "````JSON"]),
        plain | as_json,
        st.sampled_from(["\n```", "\n~~~", "\n````", ""]),
    ).map(lambda t: f"prefix\n{t[0]}\n{t[1]}{t[2]}")
    emphasised = st.tuples(st.sampled_from(["**", '"', "_", "`", ""]), plain).map(
        lambda t: f"{t[0]}{t[1]}{t[0]}."
    )
    return draw(st.one_of(plain, as_json, fenced, emphasised))


def replies(text: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Reply]:
    """A Reply with the given (default: `reply_texts()`) text, any finish reason and logprobs."""
    logprobs = st.lists(
        st.builds(
            TokenLogprob,
            token=st.text(max_size=4),
            logprob=st.floats(max_value=0, allow_nan=False),
            top=st.lists(st.tuples(st.text(max_size=4), st.floats(max_value=0)), max_size=3).map(
                tuple
            ),
        ),
        max_size=4,
    ).map(tuple)
    return st.builds(
        Reply,
        text=text if text is not None else reply_texts(),
        finish_reason=st.none() | st.sampled_from(FinishReason),
        raw_finish_reason=st.none() | st.text(max_size=10),
        logprobs=st.none() | logprobs,
    )


# Fixed patterns only: a generated one could be pathological, which the timeout turns into a
# failed check, making a determinism property flaky. test_known_answer covers the timeout.
_answers = st.one_of(
    st.builds(lambda v: {"exact": v}, st.text(max_size=20)),
    st.builds(lambda v: {"contains": v}, st.text(max_size=10)),
    st.builds(lambda v: {"one_of": v}, st.lists(st.text(max_size=10), min_size=1, max_size=3)),
    st.builds(
        lambda v: {"regex": v},
        st.sampled_from([r"\bParis\b", r"^\d+$", r"(?i)yes|no", r"[\p{Thai}]", ""]),
    ),
).flatmap(lambda a: st.booleans().map(lambda cs: {**a, "case_sensitive": cs}))

_schemas = st.sampled_from(
    [
        None,
        {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}},
        {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        {"anyOf": [{"type": "string"}, {"type": "number", "minimum": 0}]},
        {"type": "string", "format": "email"},
    ]
)


@st.composite
def _lengths(draw: st.DrawFn) -> dict[str, int]:
    bounds: dict[str, int] = {}
    for unit in ("chars", "words"):
        low = draw(st.none() | st.integers(0, 50))
        high = draw(st.none() | st.integers(max(low or 1, 1), 200))
        if low is not None:
            bounds[f"min_{unit}"] = low
        if high is not None:
            bounds[f"max_{unit}"] = high
    return bounds


@st.composite
def expectations(draw: st.DrawFn) -> Expectation:
    """A valid Expectation with any subset of answer, json, length and finish_reason set."""
    raw: dict[str, Any] = {}
    if draw(st.booleans()):
        raw["answer"] = draw(_answers)
    if draw(st.booleans()):
        schema = draw(_schemas)
        raw["json"] = {} if schema is None else {"schema": schema}
    if draw(st.booleans()):
        raw["length"] = draw(_lengths())
    if draw(st.booleans()):
        raw["finish_reason"] = draw(st.lists(st.sampled_from([r.value for r in FinishReason])))
    return Expectation.model_validate(raw)


# --- code_syntax: fenced code in any supported (or unsupported) language ---------------------

CODE_LANGUAGES = (
    "python", "javascript", "typescript", "json", "yaml", "sql", "bash", "go", "rust",
    "py", "tsx", "jsonc", "postgres", "sqlite", "mysql", "sh", "cobol",
)  # fmt: skip
_code_tags = st.sampled_from(
    ["", "python", "py", "js", "ts", "tsx", "json", "jsonc", "jsonl", "yaml", "sql",
     "postgres", "sqlite", "mysql", "bash", "sh", "go", "rust", "text", "console", "{.py}"]
)  # fmt: skip
_code_bits = st.sampled_from(
    ["(", ")", "[", "]", "{", "}", "'", '"', "`", "：", "，", "“", "”", "การ", "的", "\n",
     "    ", "\t", "def f(x):", "fn main() {", "SELECT * FROM t", "- a: 1", "key: [", "#",
     "//", "/*", "*/", "$$", "<<EOF\n", "EOF\n", "${{ x }}", "&a", "*a", "!tag", "\\",
     "\x00", "\ud800", "x = 1", "return", "let", "=>", "::", ";", "```", "~~~", ">>> "]
)  # fmt: skip


@st.composite
def code_reply_texts(draw: st.DrawFn) -> str:
    """Prose and fenced blocks (closed, unclosed, nested fences) of code-like fragments."""
    parts: list[str] = [draw(st.text(max_size=30))]
    for _ in range(draw(st.integers(0, 3))):
        body = "".join(draw(st.lists(_code_bits | st.text(max_size=6), max_size=25)))
        fence = draw(st.sampled_from(["```", "~~~", "````", "   ```"]))
        close = draw(st.sampled_from([f"\n{fence.strip()}\n", "\n", ""]))
        parts.append(f"\n{fence}{draw(_code_tags)}\n{body}{close}{draw(st.text(max_size=10))}")
    return "".join(parts)


@st.composite
def code_expectations(draw: st.DrawFn) -> Expectation:
    """An Expectation with a code language and, sometimes, a Python version or SQL dialects."""
    raw: dict[str, Any] = {"code_language": draw(st.sampled_from(CODE_LANGUAGES))}
    if draw(st.booleans()):
        raw["python_version"] = draw(
            st.sampled_from(["3.7", "3.8", "3.10", "3.11", "3.12", "3.13"])
        )
    if draw(st.booleans()):
        raw["sql_dialects"] = draw(
            st.lists(
                st.sampled_from(["postgres", "sqlite", "ansi", "mysql"]), min_size=1, max_size=2
            )
        )
    return Expectation.model_validate(raw)


# --- unexpected_script: texts in allowed scripts, and letters of other scripts -----------------

#: Allowed sets the script properties range over: alphabets, abugidas, and CJK.
SCRIPT_SETS: tuple[tuple[str, ...], ...] = (
    ("Latin",),
    ("Cyrillic", "Latin"),
    ("Greek", "Latin"),
    ("Han", "Hiragana", "Katakana", "Latin"),
    ("Hangul", "Han", "Latin"),
    ("Thai", "Latin"),
    ("Arabic", "Latin"),
    ("Devanagari", "Latin"),
)
#: Scripts whose letters the insertion property draws from (Greek has its own property: its
#: letters are symbols in English, "α = 0.05", except inside a word).
FOREIGN_SCRIPTS = (
    "Latin", "Cyrillic", "Han", "Hiragana", "Katakana", "Hangul", "Thai", "Arabic", "Hebrew",
    "Devanagari", "Bengali", "Tamil", "Georgian", "Armenian", "Ethiopic", "Khmer", "Lao",
    "Myanmar", "Sinhala", "Tibetan", "Gujarati", "Telugu", "Kannada", "Malayalam", "Cherokee",
)  # fmt: skip
_BROKEN_CHARS = regex.compile(r"[\p{Cc}\p{Cs}\p{Noncharacter_Code_Point}\ufffd]")


@functools.cache
def script_chars(script: str, letters_only: bool = False) -> tuple[str, ...]:
    """Every assigned character of one Script value (letters only, if asked), in order."""
    from monitor.detectors.scripts_sets import all_code_points

    wanted = r"\p{L}" if letters_only else r"[^\p{Cn}]"
    pattern = regex.compile(rf"(?V1)[\p{{Script={script}}}&&{wanted}]")
    return tuple(c for c in pattern.findall(all_code_points()) if not _BROKEN_CHARS.match(c))


def allowed_texts(scripts: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Any text of the allowed scripts, Common and Inherited (no controls, U+FFFD or broken
    code points), one script per word when Latin shares the set with Greek or Cyrillic
    (a word mixing them is a homoglyph suspect by design)."""
    common = st.sampled_from(script_chars("Common") + script_chars("Inherited")) | st.sampled_from(
        " \n\t.,"
    )
    words = [
        st.lists(st.sampled_from(script_chars(s)), min_size=1, max_size=8).map("".join)
        for s in scripts
    ]
    pieces = st.one_of(*words) | st.lists(common, max_size=3).map("".join)
    return st.lists(pieces, max_size=40).map(" ".join)


def prose_texts(scripts: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Words of the allowed scripts' letters with spaces, digits, full stops and commas."""
    letters = st.one_of(*(st.sampled_from(script_chars(s, letters_only=True)) for s in scripts))
    word = st.lists(letters, min_size=1, max_size=10).map("".join)
    glue = st.sampled_from([" ", " ", "\n", ". ", ", ", " 42 "])
    return st.lists(st.tuples(word, glue).map("".join), min_size=1, max_size=30).map("".join)
