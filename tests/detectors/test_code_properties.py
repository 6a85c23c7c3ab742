"""code_syntax properties: never raises, deterministic, valid serialisations pass."""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config.expectation import Expectation
from monitor.detectors import code_syntax
from monitor.detectors.code_blocks import LANGUAGE_LABELS
from monitor.types import Reply
from tests.strategies import code_expectations, code_reply_texts, replies

_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@_SETTINGS
@given(replies(code_reply_texts()), code_expectations())
def test_never_raises(reply: Reply, expect: Expectation) -> None:
    """Any reply text and any code expectation: None or a well-formed, JSON-able check."""
    result = code_syntax.check(reply, expect)
    if result is not None:
        assert isinstance(result.passed, bool) and 0.0 <= result.score <= 1.0
        assert result.evidence["language"] in LANGUAGE_LABELS
        assert result.passed == (result.evidence["outcome"] == "valid")
        json.dumps(result.to_dict())


@_SETTINGS
@given(replies(code_reply_texts()), code_expectations())
def test_deterministic(reply: Reply, expect: Expectation) -> None:
    """The same reply and expectation always give the same verdict and evidence."""
    assert code_syntax.check(reply, expect) == code_syntax.check(reply, expect)


def _judge(language: str, code: str) -> Any:
    reply = Reply(text=f"Here it is:\n\n```{language}\n{code}\n```\n", finish_reason=None)
    return code_syntax.check(reply, Expectation(code_language=language))


@_SETTINGS
@given(_values)
def test_serialised_data_passes(value: Any) -> None:
    """json.dumps, yaml.safe_dump and Python's repr() of any data are valid code."""
    for language, code in (
        ("json", json.dumps(value, indent=2)),
        ("yaml", yaml.safe_dump(value, allow_unicode=True)),
        ("python", f"x = {value!r}"),
    ):
        result = _judge(language, code)
        assert result is not None and result.passed, (language, code, result.evidence)


@_SETTINGS
@given(_values, st.sampled_from(["，", "：", "（", "“", "การ", "的"]))
def test_foreign_token_before_json_fails(value: Any, token: str) -> None:
    """A fullwidth, smart-quote or foreign-script token in front of JSON always fails."""
    result = _judge("json", token + json.dumps(value))
    assert result is not None and not result.passed
