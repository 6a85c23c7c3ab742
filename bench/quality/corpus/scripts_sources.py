"""Real text found on this machine: man pages, gettext catalogs, package READMEs, source code.

Every function reads files in sorted order and samples with the caller's seeded RNG, so a
corpus is the same on every machine built from the same image. Nothing is downloaded: the
texts are the man pages under /usr/share/man (English and translated), the gettext catalogs
under /usr/share/locale, the READMEs of installed Python distributions, docstrings and source
of the Python standard library, and C headers under /usr/include.
"""

from __future__ import annotations

import ast
import gettext
import gzip
import importlib.metadata
import random
import sysconfig
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import regex

MAN_ROOT = Path("/usr/share/man")
LOCALE_ROOT = Path("/usr/share/locale")
INCLUDE_ROOT = Path("/usr/include")

Block = tuple[str, str]  # ("p" | "h" | "li" | "code", text)

_GLYPHS = {
    "em": "—", "en": "–", "hy": "-", "bu": "•", "co": "©", "rg": "®", "tm": "™", "de": "°",
    "+-": "±", "mu": "×", "di": "÷", "<=": "≤", ">=": "≥", "!=": "≠", "->": "→", "<-": "←",
    "<>": "↔", "aq": "'", "dq": '"', "lq": "“", "rq": "”", "oq": "‘", "cq": "’", "ga": "`",
    "ha": "^", "ti": "~", "sl": "/", "rs": "\\", "ba": "|", "lB": "[", "rB": "]", "lC": "{",
    "rC": "}", "la": "⟨", "ra": "⟩", "Fo": "«", "Fc": "»", "fo": "‹", "fc": "›", "ss": "ß",
    "sc": "§", "ps": "¶", "dg": "†", "dd": "‡", "ct": "¢", "Po": "£", "Ye": "¥", "Eu": "€",
    "eu": "€", "OK": "✓", "if": "∞", "ae": "æ", "AE": "Æ", "oe": "œ", "bq": "„", "Bq": "„",
    "*a": "α", "*b": "β", "*g": "γ", "*d": "δ", "*e": "ε", "*l": "λ", "*m": "μ", "*p": "π",
    "*s": "σ", "*t": "τ", "*W": "Ω", "*D": "Δ", "*S": "Σ", "'e": "é", "`e": "è", ":u": "ü",
    ":a": "ä", ":o": "ö", ",c": "ç", "~n": "ñ", "ul": "_", "rn": "‾", "sq": "□", "ci": "○",
}  # fmt: skip
_ESCAPE = regex.compile(
    r"\\(?:f(?:\[[^]]*\]|\(..|.)|\((..)|\[([^]]*)\]|\*(?:\[([^]]*)\]|\((..)|(.))|s[-+]?\d+"
    r"|n(?:\[[^]]*\]|\(..|.)|[hvwlLDoxbXZ]'[^']*'|\"[^\n]*|(.))"
)
_ALTERNATING = {"BR", "RB", "IR", "RI", "BI", "IB"}
_BREAKS = {"PP", "LP", "P", "TP", "IP", "HP", "sp", "br", "RS", "RE", "PD", "TQ", "in"}


def _escape(found: regex.Match[str]) -> str:
    glyph = found.group(1) or found.group(2)
    if glyph:
        if glyph.startswith("u") and len(glyph) in (5, 6):
            try:
                return chr(int(glyph[1:], 16))
            except ValueError:
                return ""
        return _GLYPHS.get(glyph, "")
    string = found.group(3) or found.group(4) or found.group(5)
    if string:
        return {"lq": "“", "rq": "”", "R": "®", "Tm": "™"}.get(string, "")
    other = found.group(6)
    if other is None:
        return ""
    return {"-": "-", "e": "\\", "\\": "\\", " ": " ", "0": " ", "~": "\u00a0", "t": "\t"}.get(
        other, "" if other in "&|^%:c/,!{}" else other
    )


def _roff_text(line: str) -> str:
    return _ESCAPE.sub(_escape, line)


def _macro_args(rest: str) -> list[str]:
    args = regex.findall(r'"((?:[^"]|"")*)"|(\S+)', rest)
    return [_roff_text(quoted or bare) for quoted, bare in args]


def roff_blocks(source: str) -> list[Block]:
    """Crude man(7) to blocks: headings, paragraphs and no-fill (code-like) sections."""
    blocks: list[Block] = []
    para: list[str] = []
    code: list[str] | None = None

    def flush() -> None:
        if para:
            blocks.append(("p", " ".join(para)))
            para.clear()

    for line in source.splitlines():
        if line.startswith((".", "'")):
            name, _, rest = line[1:].strip().partition(" ")
            if name in ("nf", "EX"):
                flush()
                code = []
            elif name in ("fi", "EE"):
                if code:
                    blocks.append(("code", "\n".join(code)))
                code = None
            elif name in ("SH", "SS"):
                flush()
                blocks.append(("h", " ".join(_macro_args(rest))))
            elif name in _BREAKS:
                flush()
            elif name in _ALTERNATING or name in ("B", "I", "SM", "SB", "UR", "MT"):
                joiner = "" if name in _ALTERNATING else " "
                (code if code is not None else para).append(joiner.join(_macro_args(rest)))
            continue
        text = _roff_text(line)
        if code is not None:
            code.append(text)
        elif text.strip():
            para.append(text.strip())
    flush()
    return [(kind, text) for kind, text in blocks if text.strip()]


def man_pages(
    lang: str | None, count: int, rng: random.Random
) -> Iterator[tuple[str, list[Block]]]:
    """Up to `count` man pages (sampled) of one language (None: English), as blocks."""
    root = MAN_ROOT if lang is None else MAN_ROOT / lang
    paths = sorted(root.glob("man[1-8]/*.gz"))
    rng.shuffle(paths)
    produced = 0
    for path in paths:
        if produced >= count:
            return
        try:
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                source = handle.read(400_000)
        except (OSError, UnicodeDecodeError, EOFError):
            continue
        if source.startswith(".so "):
            continue  # a link to another page
        blocks = roff_blocks(source)
        if len(blocks) >= 3:
            produced += 1
            yield path.name, blocks


@cache
def catalog_messages(locale: str) -> list[str]:
    """Every translated message of one locale's gettext catalogs, in a stable order."""
    messages: list[str] = []
    for path in sorted((LOCALE_ROOT / locale / "LC_MESSAGES").glob("*.mo")):
        try:
            with path.open("rb") as handle:
                catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
        except (OSError, UnicodeDecodeError, ValueError, IndexError, KeyError):  # broken headers
            continue
        for key in sorted(catalog, key=repr):
            value = catalog[key]
            if key and isinstance(value, str) and value.strip():
                messages.append(value.strip())
    return messages


def markdown_blocks(text: str) -> list[Block]:
    """Split Markdown into paragraphs and fenced code blocks (headings kept as paragraphs)."""
    blocks: list[Block] = []
    parts = regex.split(r"(^```[^\n]*\n.*?^```[ \t]*$)", text, flags=regex.M | regex.S)
    for part in parts:
        if part.startswith("```"):
            body = part.split("\n", 1)[1].rsplit("```", 1)[0].rstrip("\n")
            if body.strip():
                blocks.append(("code", body))
            continue
        for para in regex.split(r"\n[ \t]*\n", part):
            if para.strip():
                blocks.append(("p", para.strip()))
    return blocks


def readmes(count: int, rng: random.Random) -> list[tuple[str, list[Block]]]:
    """READMEs (long descriptions) of installed distributions, Markdown or plain text."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.name or ""
        metadata = dist.read_text("METADATA") or ""
        body = metadata.split("\n\n", 1)[1] if "\n\n" in metadata else ""
        if name and len(body) > 500:
            found.setdefault(name.lower(), body)
    names = sorted(found)
    rng.shuffle(names)
    return [(name, markdown_blocks(found[name])) for name in names[:count]]


@cache
def _stdlib_listing() -> tuple[Path, ...]:
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"test", "tests", "site-packages", "idlelib", "encodings", "lib2to3"}
    return tuple(sorted(p for p in root.rglob("*.py") if not skip & set(p.parts)))


def _stdlib_files(rng: random.Random, count: int) -> list[Path]:
    files = list(_stdlib_listing())
    rng.shuffle(files)
    return files[:count]


@cache
def _python_file(path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(docstrings of 80+ characters, functions of 5 to 41 lines) of one module, dedented."""
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return (), ()
    docs: list[str] = []
    functions: list[str] = []
    lines = source.splitlines()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef):
            doc = ast.get_docstring(node)
            if doc and len(doc) > 80:
                docs.append(doc)
        end = node.end_lineno if isinstance(node, ast.FunctionDef) else None
        if isinstance(node, ast.FunctionDef) and end and 4 <= end - node.lineno <= 40:
            first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            segment = lines[first - 1 : end]
            indent = min(len(x) - len(x.lstrip()) for x in segment if x.strip())
            functions.append("\n".join(x[indent:] for x in segment))
    return tuple(docs), tuple(functions)


def python_sources(count: int, rng: random.Random) -> Iterator[tuple[str, list[str], list[str]]]:
    """(module, docstrings, function sources) of sampled standard-library modules."""
    for path in _stdlib_files(rng, count):
        docs, functions = _python_file(path)
        yield path.stem, list(docs), list(functions)


@cache
def _headers() -> tuple[Path, ...]:
    return tuple(sorted(INCLUDE_ROOT.rglob("*.h")))


def c_snippets(count: int, rng: random.Random) -> list[str]:
    """Chunks of 8-30 lines from C headers under /usr/include."""
    headers = list(_headers())
    rng.shuffle(headers)
    chunks: list[str] = []
    for path in headers:
        if len(chunks) >= count:
            break
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        if len(lines) < 12:
            continue
        start = rng.randrange(0, len(lines) - 10)
        chunk = "\n".join(lines[start : start + rng.randint(8, 30)]).strip("\n")
        if chunk.strip():
            chunks.append(chunk)
    return chunks
