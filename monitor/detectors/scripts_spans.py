"""Where a character sits in a Markdown reply (prose or code), and how evidence quotes it.

Shared by `unexpected_script` and `suspicious_format`. Code is the body of a fenced block
(``` or ~~~, closed or cut short by the end of the reply, indented or not, since models nest
fences in list items) or an inline `code span`; everything else is prose. Evidence quotes a
reply through `snippet`, which escapes every character a log or terminal could hide or
reinterpret (controls, format characters, unusual spaces) and the flagged run itself.
"""

from __future__ import annotations

import bisect
import unicodedata

import regex

#: Characters of context on each side of a flagged run in an evidence snippet.
SNIPPET_CONTEXT = 24

_FENCE = regex.compile(r"^[ \t]*(`{3,}|~{3,})([^\n]*)$", regex.MULTILINE)
_INLINE = regex.compile(r"(?<!`)(`+)(?!`)((?:(?!\n[ \t]*\n).)+?)(?<!`)\1(?!`)", regex.DOTALL)


def _fenced(text: str) -> list[tuple[int, int]]:
    """(start, end) of each fenced block body, an unclosed fence running to the end."""
    spans: list[tuple[int, int]] = []
    pos = 0
    while (opening := _FENCE.search(text, pos)) is not None:
        fence = opening.group(1)
        if fence[0] == "`" and "`" in opening.group(2):
            pos = opening.end()  # a backtick fence's info string may not hold backticks
            continue
        before = text[: opening.start()]
        if fence[0] == "~" and before.strip() and not before.endswith("\n\n"):
            pos = opening.end()  # "~~~~" right under a line of text underlines a title (RST)
            continue
        body_start = opening.end() + 1
        closing = regex.compile(
            rf"^[ \t]*{regex.escape(fence[0])}{{{len(fence)},}}[ \t\r]*$", regex.MULTILINE
        ).search(text, min(body_start, len(text)))
        if closing is None:
            spans.append((min(body_start, len(text)), len(text)))
            break
        spans.append((body_start, closing.start()))
        pos = closing.end()
    return spans


class CodeMap:
    """Answers "is this offset inside code?" for one reply (spans computed once).

    `is_code` counts fenced blocks and inline code spans (evidence says "code" for both);
    `is_block` only fenced blocks, where identifiers and punctuation are dense enough that
    context rules for prose do not hold.
    """

    def __init__(self, text: str) -> None:
        blocks = _fenced(text) if "```" in text or "~~~" in text else []
        spans = blocks
        if "`" in text:
            prose_start = 0
            inline: list[tuple[int, int]] = []
            for start, end in [*blocks, (len(text), len(text))]:
                for found in _INLINE.finditer(text, prose_start, start):
                    inline.append(found.span(2))
                prose_start = end
            spans = sorted(blocks + inline)
        self._blocks = ([s for s, _ in blocks], [e for _, e in blocks])
        self._spans = ([s for s, _ in spans], [e for _, e in spans])

    @staticmethod
    def _inside(index: tuple[list[int], list[int]], offset: int) -> bool:
        starts, ends = index
        i = bisect.bisect_right(starts, offset) - 1
        return i >= 0 and offset < ends[i]

    def is_code(self, offset: int) -> bool:
        return self._inside(self._spans, offset)

    def is_block(self, offset: int) -> bool:
        return self._inside(self._blocks, offset)

    def where(self, offset: int) -> str:
        return "code" if self.is_code(offset) else "prose"


def codepoint(char: str) -> str:
    """U+XXXX notation, at least four hex digits."""
    return f"U+{ord(char):04X}"


def _escaped(char: str) -> str:
    cp = ord(char)
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"


def _hidden(char: str) -> bool:
    if char in " \n":
        return False
    category = unicodedata.category(char)
    return category[0] in "CZ" or (category == "Mn" and not char.isprintable())


def escape(text: str, everything: bool = False) -> str:
    """`text` with hidden characters (or, with `everything`, all non-ASCII ones) escaped."""
    out = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif (everything and not char.isascii()) or _hidden(char):
            out.append(_escaped(char))
        else:
            out.append(char)
    return "".join(out)


def snippet(text: str, start: int, end: int) -> str:
    """Context around text[start:end], the run itself fully escaped between ⟦ and ⟧."""
    before = text[max(0, start - SNIPPET_CONTEXT) : start]
    after = text[end : end + SNIPPET_CONTEXT]
    return f"{escape(before)}⟦{escape(text[start:end], everything=True)}⟧{escape(after)}"


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in code points) of an offset."""
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1
