"""`canary detect` core: JSONL in, one JSONL verdict or error out per record, in order."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from monitor import detectors
from monitor.commands.detect import detect_stream
from monitor.config.expectation import Expectation
from monitor.types import Check, Reply


def _run(lines: list[str], only: list[str] | None = None) -> tuple[list[dict[str, Any]], int, int]:
    out = io.StringIO()
    ok, errors = detect_stream(lines, out, only)
    return [json.loads(line) for line in out.getvalue().splitlines()], ok, errors


def _line(**record: Any) -> str:
    return json.dumps(record) + "\n"


def test_judges_each_line_in_order() -> None:
    """Each record yields its id and its checks, in input order."""
    lines = [
        _line(id="r1", text="Paris", expect={"answer": {"exact": "Paris"}}),
        _line(id=2, text="Lyon", expect={"answer": {"exact": "Paris"}}),
    ]
    results, ok, errors = _run(lines)
    assert (ok, errors) == (2, 0)
    assert [(r["id"], [c["passed"] for c in r["checks"]]) for r in results] == [
        ("r1", [True]),
        (2, [False]),
    ]
    assert set(results[0]["checks"][0]) == {"detector", "passed", "score", "evidence"}


def test_finish_reason_and_logprobs_reach_the_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    """Optional finish_reason and logprobs fields are turned into the Reply detectors see."""
    seen: list[Reply] = []

    def spy(reply: Reply, expect: Expectation) -> Check | None:
        seen.append(reply)
        return None

    monkeypatch.setitem(detectors.DETECTORS, "length", spy)
    logprobs = [{"token": "Paris", "logprob": -0.1, "top": [["Paris", -0.1], ["Lyon", -2.5]]}]
    line = _line(id="r", text="Paris", expect={}, finish_reason="length", logprobs=logprobs)
    results, _, _ = _run([line])
    assert results == [{"id": "r", "checks": []}]
    (reply,) = seen
    assert reply.finish_reason == "length"
    assert reply.logprobs is not None
    assert reply.logprobs[0].top == (("Paris", -0.1), ("Lyon", -2.5))


def test_finish_reason_detector_uses_the_field() -> None:
    """A record's finish_reason is judged against the allowed list in its expect."""
    lines = [_line(id="r", text="x", expect={"finish_reason": ["stop"]}, finish_reason="length")]
    (result,), _, _ = _run(lines)
    assert result["checks"][0]["evidence"]["got"] == "length"
    assert result["checks"][0]["passed"] is False


@pytest.mark.parametrize(
    ("line", "id_", "error"),
    [
        ("{not json", None, "invalid JSON: Expecting property name enclosed in double quotes"),
        ("[1, 2]", None, "expected a JSON object, got an array"),
        ('"text"', None, "expected a JSON object, got a string"),
        ("[" * 100_000, None, "invalid JSON: nested too deeply"),
        (_line(id="a", expect={}), "a", "text: Field required"),
        (_line(id="b", text=3, expect={}), "b", "text: Input should be a valid string"),
        (_line(id="c", text="x"), "c", "expect: Field required"),
        (
            _line(id="d", text="x", expect={"answer": {"exact": "a", "contains": "b"}}),
            "d",
            "expect.answer: set exactly one of `exact`, `regex`, `one_of` or `contains`",
        ),
        (_line(id="e", text="x", expect={"sripts": ["Latin"]}), "e", "expect.sripts: Extra inputs"),
        (
            _line(id="f", text="x", expect={"json": {"schema": {"type": "nope"}}}),
            "f",
            "expect.json",
        ),
        (_line(id="g", text="x", expect={}, finish_reason="done"), "g", "finish_reason: Input"),
        (
            _line(
                id="h", text="x", expect={}, logprobs=[{"token": "a", "logprob": 0, "top": [[1]]}]
            ),
            "h",
            "logprobs[0].top[0]",
        ),
    ],
)
def test_bad_line_reports_field_and_continues(line: str, id_: Any, error: str) -> None:
    """A bad record yields an error naming the field and line, and the next record is judged."""
    good = _line(id="ok", text="Paris", expect={"answer": {"exact": "Paris"}})
    results, ok, errors = _run([line, good])
    assert (ok, errors) == (1, 1)
    assert results[0]["id"] == id_
    assert results[0]["line"] == 1
    assert results[0]["error"].startswith(error)
    assert results[1]["id"] == "ok"


def test_many_errors_are_summarised() -> None:
    """Several invalid fields report the first and how many more there are."""
    (result,), _, _ = _run([_line(text=1, expect={"bogus": 1})])
    assert result["error"].endswith("(and 1 more)")


def test_blank_lines_are_skipped_but_counted() -> None:
    """Error line numbers match the input file even when blank lines are skipped."""
    results, ok, errors = _run(["\n", "   \n", "oops\n"])
    assert (ok, errors) == (0, 1)
    assert results == [{"id": None, "line": 3, "error": results[0]["error"]}]


def test_unknown_keys_are_ignored() -> None:
    """Records exported with extra context (platform, model...) are judged as they are."""
    line = _line(id="x", text="Paris", expect={"answer": {"exact": "Paris"}}, platform="bedrock")
    (result,), ok, _ = _run([line])
    assert ok == 1 and result["checks"][0]["passed"]


def test_only_restricts_detectors() -> None:
    """`only` limits which detectors run on every record."""
    line = _line(
        id="x", text="Paris", expect={"answer": {"exact": "Paris"}, "length": {"max_chars": 1}}
    )
    (result,), _, _ = _run([line], only=["length"])
    assert [c["detector"] for c in result["checks"]] == ["length"]


def test_unknown_detector_raises_before_reading() -> None:
    """An unknown detector name raises ValueError listing known ones, and no input is read."""

    def lines() -> Any:
        raise AssertionError("input read")
        yield ""

    with pytest.raises(ValueError, match=r"known: .*known_answer"):
        detect_stream(lines(), io.StringIO(), ["nope"])


def test_non_ascii_round_trips() -> None:
    """Non-ASCII replies and ids come back as written, not as escapes."""
    out = io.StringIO()
    detect_stream([_line(id="δ", text="Париж", expect={"answer": {"exact": "Париж"}})], out, None)
    assert '"id": "δ"' in out.getvalue()
    assert "Париж" in out.getvalue()
