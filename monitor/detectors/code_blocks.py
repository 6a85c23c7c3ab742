"""Fenced code blocks in a Markdown reply, and the language each one claims.

`code_syntax` judges the code a probe asked for; this module finds it. Fences follow
CommonMark (three or more backticks or tildes, closed by a run of the same character at least
as long, with nothing else on the line) with two allowances for how models write: a fence may
be indented any amount (code inside list items), and a reply that ends inside an open fence
yields a block marked `closed=False` (a truncated reply, judged as such by the detector).

Info strings are normalised to one canonical language name (`LANGUAGE_LABELS`, the bounded
values of the `language` metric label) plus a variant the parser needs (`tsx`, `jsonc`,
`postgres`...). Output blocks (`text`, `console`, `log`...) are not code.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

#: Canonical language names: the `language` label of `canary_code_syntax_failures_total`.
LANGUAGE_LABELS: tuple[str, ...] = (
    "bash",
    "go",
    "javascript",
    "json",
    "python",
    "rust",
    "sql",
    "typescript",
    "yaml",
)

#: Info-string words (lower case) -> (canonical language, variant). The variant is "" for the
#: language's default grammar.
_ALIASES: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("python", "py", "python3", "py3", "pyw", "gyp"), ("python", "")),
    **dict.fromkeys(
        ("javascript", "js", "mjs", "cjs", "es6", "ecmascript", "node", "nodejs"),
        ("javascript", ""),
    ),
    "jsx": ("javascript", "jsx"),
    **dict.fromkeys(("typescript", "ts", "mts", "cts"), ("typescript", "")),
    "tsx": ("typescript", "tsx"),
    "json": ("json", ""),
    **dict.fromkeys(("jsonc", "json-with-comments"), ("json", "jsonc")),
    **dict.fromkeys(("jsonl", "ndjson", "jsonlines"), ("json", "jsonl")),
    **dict.fromkeys(("yaml", "yml"), ("yaml", "")),
    **dict.fromkeys(("sql", "ansi", "ansisql"), ("sql", "")),
    **dict.fromkeys(("postgres", "postgresql", "pgsql", "psql", "pg"), ("sql", "postgres")),
    **dict.fromkeys(("sqlite", "sqlite3"), ("sql", "sqlite")),
    **dict.fromkeys(("mysql", "mariadb"), ("sql", "mysql")),
    **dict.fromkeys(("tsql", "mssql", "sqlserver"), ("sql", "tsql")),
    **dict.fromkeys(
        ("bash", "sh", "shell", "zsh", "ksh", "dash", "shellscript", "posix"), ("bash", "")
    ),
    **dict.fromkeys(("go", "golang"), ("go", "")),
    **dict.fromkeys(("rust", "rs"), ("rust", "")),
}
# Dialect tags sqlglot parses by name (those above that are neither PostgreSQL nor SQLite).
for _name in ("bigquery", "snowflake", "duckdb", "oracle"):
    _ALIASES[_name] = ("sql", _name)

#: Tags of blocks that show output or sessions, not source: never judged.
OUTPUT_TAGS = frozenset(
    {
        "text", "txt", "plain", "plaintext", "none", "nohighlight", "raw", "ansi",
        "console", "terminal", "output", "out", "stdout", "stderr", "log", "logs",
        "result", "results", "shell-session", "sh-session", "bash-session", "pycon",
        "python-repl", "pytb", "traceback", "doctest", "diff", "patch", "tree",
    }
)  # fmt: skip

#: Rust-doc style attributes that mark a block as deliberately not compilable.
_SKIP_ATTRIBUTES = frozenset({"ignore", "compile_fail", "text", "no_check"})

# An opening fence: any indentation, 3+ backticks or tildes, then the info string. A backtick
# fence's info string may not contain a backtick (CommonMark), which rules out inline code.
_OPEN = regex.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_WORD = regex.compile(r"[^\s{}.,:;]+(?:\.[^\s{}.,:;]+)*")
# Session transcripts: every non-blank line starts with a prompt, or the first one starts
# with an unmistakable shell or REPL prompt (the lines after it being output).
_PROMPT = regex.compile(r"^\s*(?:\$|#|>>>|\.\.\.|>|PS>|[\w.-]+@[\w.-]+:[^$#]*[$#])\s")
_FIRST_PROMPT = regex.compile(r"^\s*(?:\$|>>>|PS>|PS [A-Z]:\\[^>]*>|[\w.-]+@[\w.-]+:[^$#]*[$#])\s")


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced block. `first_line` is the 1-based reply line of the code's first line."""

    info: str  # the raw info string, stripped
    tag: str  # the normalised tag word ("" when untagged)
    code: str
    first_line: int
    closed: bool
    indent: int  # columns of fence indentation removed from each code line


def canonical(name: str) -> tuple[str, str] | None:
    """(language, variant) for a language name or alias, or None when not supported."""
    return _ALIASES.get(name.strip().casefold())


def _tag_word(info: str) -> tuple[str, frozenset[str]]:
    """The language word of an info string and its comma attributes, both lower-cased.

    Handles `python`, `{.python .numberLines}`, `language-python`, `python title="a.py"`,
    `python{3-5}`, `rust,no_run`, `py:main.py` and file names such as `main.py` or `app.ts`.
    """
    text = info.strip().lstrip("{").strip().lstrip(".")
    attributes = frozenset(a.strip().casefold() for a in text.split(",")[1:] if a.strip())
    match = _WORD.match(text.split(",")[0])
    if match is None:
        return "", attributes
    word = match.group().casefold().removeprefix("language-")
    if "." in word and word not in _ALIASES:  # a file name: judge by its extension
        word = word.rsplit(".", 1)[1]
    return word, attributes


def block_language(block: Block) -> tuple[str, str] | None:
    """The (language, variant) a tagged block claims; None for untagged, output or unknown."""
    if not block.tag or block.tag in OUTPUT_TAGS:
        return None
    return _ALIASES.get(block.tag)


def is_output(block: Block) -> bool:
    """True for blocks that are not source: output tags, skip attributes, prompt transcripts."""
    if block.tag in OUTPUT_TAGS:
        return True
    _, attributes = _tag_word(block.info)
    if attributes & _SKIP_ATTRIBUTES:
        return True
    lines = [line for line in block.code.split("\n") if line.strip()]
    if not lines:
        return False
    return bool(_FIRST_PROMPT.match(lines[0])) or all(_PROMPT.match(line) for line in lines)


def _dedent(line: str, indent: int) -> str:
    """Remove up to `indent` leading spaces (a tab counts as reaching the next stop of 4)."""
    col = i = 0
    while i < len(line) and col < indent and line[i] in " \t":
        col = col + 1 if line[i] == " " else (col // 4 + 1) * 4
        i += 1
    return line[i:]


def extract_blocks(text: str, max_blocks: int = 64) -> list[Block]:
    """Every fenced block of `text` in order (at most `max_blocks`), the last possibly open."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines) and len(blocks) < max_blocks:
        opened = _OPEN.match(lines[i])
        i += 1
        if opened is None:
            continue
        fence, info = opened["fence"], opened["info"].strip()
        if fence[0] == "`" and "`" in info:
            continue  # inline code such as ```x``` on one line, not a fence
        indent = len(opened["indent"].expandtabs(4))
        start, closed = i, False
        while i < len(lines):
            stripped = lines[i].strip()
            if len(stripped) >= len(fence) and not stripped.strip(fence[0]):
                closed = True
                break
            i += 1
        code = "\n".join(_dedent(line, indent) for line in lines[start:i])
        tag, _ = _tag_word(info)
        blocks.append(Block(info, tag, code, start + 1, closed, indent))
        i += 1
    return blocks
