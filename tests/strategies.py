"""Hypothesis strategies shared by the tests: replies, expectations and texts that look like them.

Texts mix arbitrary Unicode with the shapes detectors parse (fences, JSON, Markdown emphasis),
so properties reach the parsing branches rather than only the "no match" path.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from monitor.expectation import Expectation
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
