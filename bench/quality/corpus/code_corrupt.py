"""Corruptions of real code, modelled on the Sep-2025 output-corruption incident.

Each corruption is one small edit at a random place, of one of `KINDS`. A rough lexer (strings,
comments, identifiers, operators, brackets) keeps the edits on code tokens, where the incident
put them; whether an edit really breaks the code is decided afterwards by the language's
reference tool, never here. Deterministic for a given `random.Random`.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass

import regex

KINDS: tuple[str, ...] = (
    "foreign_script",
    "fullwidth_punct",
    "smart_quotes",
    "drop_bracket",
    "extra_bracket",
    "drop_quote",
    "extra_quote",
    "delete_token",
    "duplicate_token",
    "swap_tokens",
    "impossible_operator",
    "split_identifier",
    "broken_indentation",
    "truncation",
)

FOREIGN_WORDS = (
    "การ",
    "ของ",
    "ที่",
    "的",
    "是",
    "数据",
    "中文",
    "返回",
    "ให้",
    "関数",
    "데이터",
    "для",
)
_FULLWIDTH = {",": "，", ":": "：", "(": "（", ")": "）", ";": "；"}
_IMPOSSIBLE = (
    "=*=",
    "=>=",
    "+*+",
    "<=>>",
    "!==!",
    "->-",
    "&|&",
    "%%=",
    "=!=",
    "*/*",
    "<<<=",
    "=:=",
)
_SMART = (("\u201c", "\u201d"), ("\u2018", "\u2019"), ("\u201d", "\u201d"))

_COMMENTS = {
    "python": r"#[^\n]*",
    "bash": r"(?<=^|\s)#[^\n]*",
    "yaml": r"(?<=^|\s)#[^\n]*",
    "sql": r"--[^\n]*|/\*(?s:.*?)\*/",
    "json": r"(?!)",
}
_C_COMMENT = r"//[^\n]*|/\*(?s:.*?)\*/"
_STRINGS = {
    "python": r"(?i:[rbuf]{0,2})(?:'''(?s:.*?)'''|\"\"\"(?s:.*?)\"\"\""
    r"|'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\")",
    "rust": r"r#*\"(?s:.*?)\"#*|b?\"(?:[^\"\\]|\\.)*\"|b?'(?:[^'\\\n]|\\.)'",
    "go": r"`[^`]*`|\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)+'",
    "bash": r"\$?'[^']*'|\"(?:[^\"\\]|\\.)*\"",
}
_DEFAULT_STRING = r"`(?:[^`\\]|\\.)*`|'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\""
_TOKEN = (
    r"(?P<ident>[^\W\d]\w*)|(?P<number>\d[\w.]*)|(?P<open>[(\[{])|(?P<close>[)\]}])"
    r"|(?P<punct>[,;])|(?P<op>[-+*/%=<>!&|^~?:.@$]+)|(?P<space>\s+)|(?P<other>.)"
)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # comment string ident number open close punct op space other
    start: int
    end: int


def tokens(code: str, language: str) -> list[Token]:
    """A rough token list: enough to aim edits at code rather than at strings and comments."""
    comment = _COMMENTS.get(language, _C_COMMENT)
    string = _STRINGS.get(language, _DEFAULT_STRING)
    pattern = regex.compile(f"(?P<comment>{comment})|(?P<string>{string})|{_TOKEN}", regex.M)
    return [Token(m.lastgroup or "other", m.start(), m.end()) for m in pattern.finditer(code)]


Edit = Callable[[str, list[Token], random.Random], str | None]


def _pick(rng: random.Random, toks: list[Token], *kinds: str) -> Token | None:
    chosen = [t for t in toks if t.kind in kinds]
    return rng.choice(chosen) if chosen else None


def _replace(code: str, tok: Token, text: str) -> str:
    return code[: tok.start] + text + code[tok.end :]


def foreign_script(code: str, toks: list[Token], rng: random.Random) -> str | None:
    tok = _pick(rng, toks, "ident", "op", "punct", "open", "close", "number")
    if tok is None:
        return None
    word = rng.choice(FOREIGN_WORDS)
    if rng.random() < 0.5:
        return _replace(code, tok, word)
    return code[: tok.end] + f" {word} " + code[tok.end :]


def fullwidth_punct(code: str, toks: list[Token], rng: random.Random) -> str | None:
    chosen = [
        t
        for t in toks
        if code[t.start : t.end] in _FULLWIDTH or (t.kind == "op" and code[t.start : t.end] == ":")
    ]
    if not chosen:
        return None
    tok = rng.choice(chosen)
    return _replace(code, tok, _FULLWIDTH[code[tok.start : tok.end]])


def smart_quotes(code: str, toks: list[Token], rng: random.Random) -> str | None:
    chosen = [
        t
        for t in toks
        if t.kind == "string" and code[t.end - 1] in "'\"" and "\n" not in code[t.start : t.end]
    ]
    if not chosen:
        return None
    tok = rng.choice(chosen)
    text = code[tok.start : tok.end]
    quote = text[-1]
    first = text.index(quote)
    left, right = rng.choice(_SMART)
    body = text[first + 1 : -1]
    return _replace(code, tok, text[:first] + left + body + right)


def drop_bracket(code: str, toks: list[Token], rng: random.Random) -> str | None:
    tok = _pick(rng, toks, "open", "close")
    return None if tok is None else _replace(code, tok, "")


def _boundary(toks: list[Token], rng: random.Random) -> int | None:
    code_toks = [t for t in toks if t.kind not in ("comment", "string", "space")]
    return rng.choice(code_toks).start if code_toks else None


def extra_bracket(code: str, toks: list[Token], rng: random.Random) -> str | None:
    at = _boundary(toks, rng)
    return None if at is None else code[:at] + rng.choice("()[]{}") + code[at:]


def drop_quote(code: str, toks: list[Token], rng: random.Random) -> str | None:
    tok = _pick(rng, toks, "string")
    if tok is None:
        return None
    text = code[tok.start : tok.end]
    quote_at = [i for i, ch in enumerate(text) if ch in "'\"`" and (i == len(text) - 1 or i <= 3)]
    if not quote_at:
        return None
    i = tok.start + rng.choice(quote_at)
    return code[:i] + code[i + 1 :]


def extra_quote(code: str, toks: list[Token], rng: random.Random) -> str | None:
    at = _boundary(toks, rng)
    return None if at is None else code[:at] + rng.choice("'\"") + code[at:]


def delete_token(code: str, toks: list[Token], rng: random.Random) -> str | None:
    tok = _pick(rng, toks, "ident", "op", "punct", "number")
    return None if tok is None else _replace(code, tok, "")


def duplicate_token(code: str, toks: list[Token], rng: random.Random) -> str | None:
    tok = _pick(rng, toks, "ident", "op", "punct", "number")
    if tok is None:
        return None
    text = code[tok.start : tok.end]
    return _replace(code, tok, text + (" " if tok.kind in ("ident", "number") else "") + text)


def swap_tokens(code: str, toks: list[Token], rng: random.Random) -> str | None:
    code_toks = [t for t in toks if t.kind not in ("space", "comment")]
    pairs = [
        (a, b)
        for a, b in itertools.pairwise(code_toks)
        if code[a.start : a.end] != code[b.start : b.end]
    ]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    return (
        code[: a.start]
        + code[b.start : b.end]
        + code[a.end : b.start]
        + code[a.start : a.end]
        + code[b.end :]
    )


def impossible_operator(code: str, toks: list[Token], rng: random.Random) -> str | None:
    tok = _pick(rng, toks, "op")
    return None if tok is None else _replace(code, tok, rng.choice(_IMPOSSIBLE))


def split_identifier(code: str, toks: list[Token], rng: random.Random) -> str | None:
    chosen = [t for t in toks if t.kind == "ident" and t.end - t.start >= 4]
    if not chosen:
        return None
    tok = rng.choice(chosen)
    cut = rng.randint(tok.start + 1, tok.end - 1)
    return code[:cut] + " " + code[cut:]


def broken_indentation(code: str, toks: list[Token], rng: random.Random) -> str | None:
    lines = code.split("\n")
    candidates = [i for i, line in enumerate(lines) if line.strip() and i > 0]
    if not candidates:
        return None
    i = rng.choice(candidates)
    line = lines[i]
    indent = len(line) - len(line.lstrip(" \t"))
    if indent and rng.random() < 0.5:
        lines[i] = line[rng.randint(1, min(indent, 3)) :]
    else:
        lines[i] = rng.choice([" ", "  ", "   ", "\t"]) + line
    return "\n".join(lines)


def truncation(code: str, toks: list[Token], rng: random.Random) -> str | None:
    """Cut the code mid-way, inside a line: the reply will end there, its fence open."""
    if len(code) < 20:
        return None
    cut = rng.randint(len(code) // 5, len(code) * 4 // 5)
    while cut < len(code) and code[cut - 1] in " \n":
        cut += 1
    return code[:cut] if cut < len(code) - 1 else None


EDITS: dict[str, Edit] = {name: globals()[name] for name in KINDS}


def corrupt(code: str, language: str, kind: str, rng: random.Random) -> str | None:
    """One corruption of `kind`, or None when the code offers no place for it."""
    edited = EDITS[kind](code, tokens(code, language), rng)
    return None if edited is None or edited == code else edited
