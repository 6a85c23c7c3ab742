"""code_blocks: fenced-block extraction, info-string aliases, output blocks."""

from __future__ import annotations

import pytest

from monitor.detectors import code_blocks
from monitor.detectors.code_blocks import LANGUAGE_LABELS, Block, extract_blocks


@pytest.mark.parametrize(
    ("text", "tag", "code", "first_line", "closed"),
    [
        ("```python\nx = 1\n```", "python", "x = 1", 2, True),
        ("Intro:\n\n~~~py\nx = 1\n~~~\nafter", "py", "x = 1", 4, True),
        ("````\n```\nx\n```\n````", "", "```\nx\n```", 2, True),
        ("```js\nlet a = 1;", "js", "let a = 1;", 2, False),
        (
            "1. Run:\n   ```bash\n   echo hi\n     nested\n   ```",
            "bash",
            "echo hi\n  nested",
            3,
            True,
        ),
        ("```{.python .numberLines}\nx\n```", "python", "x", 2, True),
        ('```python title="app.py"\nx\n```', "python", "x", 2, True),
        ("```language-ts\nx\n```", "ts", "x", 2, True),
        ("```rust,no_run\nfn main() {}\n```", "rust", "fn main() {}", 2, True),
        ("```main.go\npackage main\n```", "go", "package main", 2, True),
        ("```python{3-5}\nx\n```", "python", "x", 2, True),
        ("```Python\r\nx = 1\r\n```\r\n", "python", "x = 1", 2, True),
        ("```\n\n```", "", "", 2, True),
    ],
)
def test_extracts_one_block(text: str, tag: str, code: str, first_line: int, closed: bool) -> None:
    """Each fence shape yields its code, normalised tag, first code line and closed flag."""
    [block] = extract_blocks(text)
    assert (block.tag, block.code, block.first_line, block.closed) == (
        tag,
        code,
        first_line,
        closed,
    )


def test_inline_triple_backticks_are_not_fences() -> None:
    """A line like ```x``` is inline code, and a fence needs three characters."""
    assert extract_blocks("Use ```python``` fences.\n```x```\n``\ncode\n``") == []


def test_several_blocks_in_order() -> None:
    """Blocks come out in reply order; a shorter run of backticks does not close a longer fence."""
    text = "a\n```py\n1\n```\nb\n````md\n```\n````\n~~~\n2\n~~~~\n"
    assert [(b.tag, b.code) for b in extract_blocks(text)] == [
        ("py", "1"),
        ("md", "```"),
        ("", "2"),
    ]


def test_block_count_is_capped() -> None:
    """A reply with thousands of fences costs bounded work."""
    assert len(extract_blocks("```\nx\n```\n" * 1000, max_blocks=64)) == 64


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("py", ("python", "")),
        ("Python3", ("python", "")),
        ("mjs", ("javascript", "")),
        ("jsx", ("javascript", "jsx")),
        ("tsx", ("typescript", "tsx")),
        ("zsh", ("bash", "")),
        ("shell", ("bash", "")),
        ("yml", ("yaml", "")),
        ("jsonc", ("json", "jsonc")),
        ("postgres", ("sql", "postgres")),
        ("sqlite", ("sql", "sqlite")),
        ("mysql", ("sql", "mysql")),
        ("golang", ("go", "")),
        ("rs", ("rust", "")),
        ("cobol", None),
        ("text", None),
    ],
)
def test_aliases(name: str, expected: tuple[str, str] | None) -> None:
    """Common aliases map to one canonical language and the variant its parser needs."""
    assert code_blocks.canonical(name) == expected


def test_labels_are_the_canonical_languages() -> None:
    """Every alias maps into LANGUAGE_LABELS, the bounded `language` metric label values."""
    assert tuple(sorted(LANGUAGE_LABELS)) == LANGUAGE_LABELS
    assert {lang for lang, _ in code_blocks._ALIASES.values()} == set(LANGUAGE_LABELS)


def _block(tag: str, code: str, info: str | None = None) -> Block:
    return Block(info if info is not None else tag, tag, code, 1, True, 0)


@pytest.mark.parametrize(
    ("block", "output"),
    [
        (_block("text", "anything ((("), True),
        (_block("console", "$ ls"), True),
        (_block("log", "ERROR x"), True),
        (_block("", "$ pip install x\n$ python app.py"), True),
        (_block("", ">>> 1 + 1\n2"), True),
        (_block("python", "$ python app.py\nHello (world"), True),
        (_block("bash", "# install\nset -e\n$HOME/bin/x"), False),
        (_block("rust", "fn x() {}", "rust,ignore"), True),
        (_block("", "x = 1"), False),
        (_block("python", "x = 1\n$ not a prompt here"), False),
    ],
)
def test_output_blocks(block: Block, output: bool) -> None:
    """Output tags, Rust `ignore` blocks and all-prompt transcripts are not code."""
    assert code_blocks.is_output(block) is output
