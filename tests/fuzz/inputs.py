"""Input strategies for the fuzz targets: valid documents, mutated a little, and plain noise.

Pure noise rarely gets past a parser's first line, so most inputs start from a real document
(a vendor fixture, a shipped probe file, a working config) and change one to four places in it:
a value replaced by any JSON value, a key deleted or added, a list emptied, a string cut. Text
draws from all of Unicode, lone surrogates and control characters included.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml
from hypothesis import strategies as st

# Every code point, surrogates (Cs) and controls (Cc) included: a reply can carry them.
ANY_CHAR = st.characters(codec=None, categories=None)
INTERESTING = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\x1b[2J",
        "\ud800",
        "\udfff",
        "\ufeff",
        "\u202e",
        "\u200b",
        "${HOME}",
        "${UNSET_CANARY_FUZZ_VAR}",
        "${X:-d}",
        "[DONE]",
        "null",
        "NaN",
        "-1",
        "1e400",
        "9" * 50,
        "a" * 5000,
        "```python\ndef f(:\n```",
        "\r\n\r\n",
        "data: {}",
    ]
)
TEXT = st.one_of(st.text(ANY_CHAR, max_size=40), INTERESTING)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    TEXT,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def _places(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a node of a JSON-like document, the root `()` included."""
    out = [path]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _places(value, (*path, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            out += _places(value, (*path, index))
    return out


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


@st.composite
def mutated(draw: st.DrawFn, base: Any, max_edits: int = 4) -> Any:
    """`base` (deep-copied) with 0 to `max_edits` random edits (see the module docstring)."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, max_edits))):
        path = draw(st.sampled_from(_places(doc)))
        op = draw(st.sampled_from(["replace", "delete", "add", "empty", "cut", "dup"]))
        if not path:
            if op == "replace":
                doc = draw(JSON_VALUES)
            continue
        parent, key = _get(doc, path[:-1]), path[-1]
        node = parent[key]
        if op == "replace":
            parent[key] = draw(JSON_VALUES)
        elif op == "delete":
            del parent[key]
        elif op == "add" and isinstance(node, dict):
            node[draw(TEXT)] = draw(JSON_VALUES)
        elif op == "add" and isinstance(node, list):
            node.append(draw(JSON_VALUES))
        elif op == "empty" and isinstance(node, dict | list | str):
            parent[key] = type(node)()
        elif op == "cut" and isinstance(node, str) and node:
            parent[key] = node[: draw(st.integers(0, len(node) - 1))]
        elif op == "dup" and isinstance(node, list) and node:
            parent[key] = node * draw(st.integers(2, 50))
        elif op in ("add", "empty", "cut", "dup"):
            parent[key] = draw(TEXT)
    return doc


def dumps(doc: Any) -> bytes:
    """JSON as a vendor might send it; NaN and infinities as Python writes them (not JSON)."""
    return json.dumps(doc).encode()


@st.composite
def truncated(draw: st.DrawFn, data: bytes) -> bytes:
    return data[: draw(st.integers(0, len(data)))]


def json_bodies(bases: list[Any]) -> st.SearchStrategy[bytes]:
    """Bodies for a response parser: mutated fixtures, cut ones, any JSON and any bytes."""
    fixture = st.sampled_from(bases).flatmap(mutated).map(dumps)
    return st.one_of(
        fixture,
        fixture,
        fixture.flatmap(truncated),
        JSON_VALUES.map(dumps),
        st.binary(max_size=300),
    )


def yaml_texts(base: dict[str, Any]) -> st.SearchStrategy[str]:
    """YAML for a loader: a mutated document dumped in block or flow style, cut, or any text."""
    dumped = st.tuples(mutated(base), st.booleans()).map(
        lambda t: yaml.safe_dump(t[0], default_flow_style=t[1], allow_unicode=True)
    )
    return st.one_of(
        dumped,
        dumped,
        dumped.flatmap(lambda text: st.integers(0, len(text)).map(lambda n: text[:n])),
        st.text(ANY_CHAR, max_size=200),
        st.text(st.sampled_from(list("{}[]:,-&*!|>'\"#%@` \n\tab1")), max_size=200),
    )


def sse_bodies(bases: list[list[Any]]) -> st.SearchStrategy[bytes]:
    """SSE streams: a fixture's events mutated (as JSON or raw data), joined by LF or CRLF
    blank lines, maybe with `event:` names and comments, and maybe cut anywhere."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        events = draw(mutated(draw(st.sampled_from(bases))))
        if not isinstance(events, list):
            events = [events]
        sep = draw(st.sampled_from(["\n\n", "\r\n\r\n", "\n", "\r\n\n"]))
        blocks = []
        for event in events:
            data = event if isinstance(event, str) else json.dumps(event)
            name = draw(st.none() | st.sampled_from(["message_start", "error", "ping", ""]))
            block = (f"event: {name}\n" if name is not None else "") + "\n".join(
                f"data: {line}" for line in data.split("\n")
            )
            if draw(st.booleans()):
                block = ": keep-alive\n" + block
            blocks.append(block)
        body = (sep.join(blocks) + sep).encode("utf-8", "surrogatepass")
        return draw(truncated(body)) if draw(st.booleans()) else body

    return st.one_of(build(), build(), build(), st.binary(max_size=300))
