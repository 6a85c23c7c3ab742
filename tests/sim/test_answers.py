"""The answer book: probe references in, known-good replies out."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from canary_sim import GENERIC_REPLY, AnswerBook
from canary_sim.answers import corrects_premise
from canary_sim.probe_files import ProbeFileError, read_probe_file
from canary_sim.records import Message
from monitor.config.probes import load_suite

from .conftest import ARITHMETIC, CAPITAL, DNS, DNS_SYSTEM, PROBES

SHIPPED = Path(__file__).parents[2] / "probes"


def test_loads_every_reference(book: AnswerBook) -> None:
    """Every probe with a `reference` is in the book; probes without one are not."""
    assert len(book) == 7
    assert book.lookup(None, [Message("user", CAPITAL)]).text == "Paris"
    assert book.lookup(None, [Message("user", "Tell me something.")]).known is False


def test_lookup_ignores_whitespace_but_not_the_system_prompt(book: AnswerBook) -> None:
    """Re-wrapped prompts still hit; the same prompt under another system prompt does not."""
    spaced = [Message("user", "  What is 17 times 23?\nReply with the number only. ")]
    assert book.lookup(None, spaced).text == "391"
    assert book.lookup(f" {DNS_SYSTEM}\n", [Message("user", DNS)]).known
    assert not book.lookup(None, [Message("user", DNS)]).known
    assert book.lookup(None, [Message("user", ARITHMETIC)]).tokens == ("391",)


def test_unknown_conversations_get_the_generic_reply(book: AnswerBook) -> None:
    """A conversation not in the book gets clean English, or JSON in JSON mode."""
    assert book.lookup(None, [Message("user", "hello?")]).text == GENERIC_REPLY
    reply = book.lookup(None, [Message("user", "hello?")], json_mode=True).text
    assert isinstance(json.loads(reply), dict)


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("Actually, the Great Wall is not visible from the Moon.", True),
        ("No, that is a myth.", True),
        ("That's a common misconception: ...", True),
        ("It isn't true that ...", True),
        ("Paris", False),
        ("Nothing is wrong here.", False),
    ],
)
def test_premise_correction_is_recognised(reference: str, expected: bool) -> None:
    """References that open by correcting the prompt mark a false-premise probe."""
    assert corrects_premise(reference) is expected


def test_a_bad_probe_file_fails_at_load(tmp_path: Path) -> None:
    """Bad YAML fails at start-up with the file named, not on the first request."""
    (tmp_path / "bad.yaml").write_text("suite: x\nversion: 0\nprobes: []\n")
    with pytest.raises(ProbeFileError, match=r"bad\.yaml: probes: must be a non-empty list"):
        AnswerBook.from_probe_dir(tmp_path)


@pytest.mark.parametrize(
    ("probes", "message"),
    [
        ("- {name: a, prompt: hi, messages: [{role: user, content: hi}]}", "probes[0]: set `prompt`"),
        ("- {name: a, prompt: hi, reference: 51}", "probes[0].reference: must be a string"),
        ("- {name: a, messages: [{role: system, content: hi}]}", "probes[0].messages[0]: needs a"),
        ("- {name: a, messages: [{role: user, content: hi}, {role: assistant, content: ok}]}",
         "probes[0].messages: must end with a user turn"),
        ("- {name: a, prompt: ''}", "probes[0].prompt: must not be empty"),
        ("- just a string", "probes[0]: must be a mapping"),
    ],
)
def test_the_fields_the_book_reads_are_checked(tmp_path: Path, probes: str, message: str) -> None:
    """A probe whose conversation or reference cannot be read fails with file and field named."""
    (tmp_path / "bad.yaml").write_text(f"suite: x\nversion: 1\nprobes:\n  {probes}\n")
    with pytest.raises(ProbeFileError, match=rf"bad\.yaml: {re.escape(message)}"):
        AnswerBook.from_probe_dir(tmp_path)


@pytest.mark.parametrize(
    "file", sorted([*SHIPPED.glob("*.yaml"), *PROBES.glob("*.yaml")]), ids=lambda p: p.name
)
def test_the_sims_reader_agrees_with_the_daemons_loader(file: Path) -> None:
    """The simulator's own reader sees the same names, system prompts, conversations and
    references as the daemon's loader, so the answers did not change when it stopped sharing it."""
    daemon = [
        (p.name, p.system, [(m.role, m.content) for m in p.conversation()], p.reference)
        for p in load_suite(file).probes
    ]
    sim = [
        (p.name, p.system, [(m.role, m.content) for m in p.conversation], p.reference)
        for p in read_probe_file(file)
    ]
    assert sim == daemon
