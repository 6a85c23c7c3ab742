"""The simulator's own reading of probe suites: only the fields a healthy backend's answers need.

The simulator stands in for a fleet the daemon probes, so it does not share the daemon's probe
loader: each `probes/*.yaml` is parsed with `yaml.safe_load`, and from every probe it takes the
`name`, the conversation (`prompt`, or `messages` of `{role, content}`), the `system` prompt and
the `reference` reply. Everything else (sampling parameters, expectations, padding) is the
daemon's business and is ignored. The fields read are checked for shape, so a bad file fails at
start-up with its name, not on the first request; the daemon's `canary validate` checks the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from canary_sim.records import Message

ROLES = ("user", "assistant")


class ProbeFileError(ValueError):
    """A probe file the simulator cannot read its answers from: `file: field: problem`."""


@dataclass(frozen=True, slots=True)
class ProbeAnswer:
    """One probe as the answer book sees it: its conversation and known-good reply, if any."""

    name: str
    system: str | None
    conversation: tuple[Message, ...]
    reference: str | None


def read_probe_file(path: Path) -> list[ProbeAnswer]:
    """Every probe in one suite file, in file order; raises `ProbeFileError` naming the file."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ProbeFileError(f"{path}: cannot read probe file: {exc}") from None
    if not isinstance(doc, dict):
        raise ProbeFileError(f"{path}: expected a mapping with `probes`")
    probes = doc.get("probes")
    if not isinstance(probes, list) or not probes:
        raise ProbeFileError(f"{path}: probes: must be a non-empty list")
    return [_probe(path, f"probes[{i}]", raw) for i, raw in enumerate(probes)]


def read_probe_dir(path: Path | str) -> Iterator[ProbeAnswer]:
    """The probes of every `*.yaml` suite directly under `path`, files in name order."""
    for file in sorted(Path(path).glob("*.yaml")):
        yield from read_probe_file(file)


def _probe(path: Path, where: str, raw: Any) -> ProbeAnswer:
    if not isinstance(raw, dict):
        raise ProbeFileError(f"{path}: {where}: must be a mapping")
    name = _text(path, f"{where}.name", raw.get("name"), optional=False)
    assert name is not None
    prompt, messages = raw.get("prompt"), raw.get("messages")
    if (prompt is None) == (messages is None):
        raise ProbeFileError(f"{path}: {where}: set `prompt` or `messages`, not both")
    if prompt is not None:
        conversation: tuple[Message, ...] = (
            Message("user", _nonempty(path, f"{where}.prompt", prompt)),
        )
    else:
        conversation = _messages(path, f"{where}.messages", messages)
    return ProbeAnswer(
        name=name,
        system=_text(path, f"{where}.system", raw.get("system")),
        conversation=conversation,
        reference=_text(path, f"{where}.reference", raw.get("reference")),
    )


def _messages(path: Path, where: str, raw: Any) -> tuple[Message, ...]:
    if not isinstance(raw, list) or not raw:
        raise ProbeFileError(f"{path}: {where}: must be a non-empty list")
    turns = []
    for i, turn in enumerate(raw):
        if not isinstance(turn, dict) or turn.get("role") not in ROLES:
            raise ProbeFileError(f"{path}: {where}[{i}]: needs a role of user or assistant")
        content = _nonempty(path, f"{where}[{i}].content", turn.get("content"))
        turns.append(Message(turn["role"], content))
    if turns[-1].role != "user":
        raise ProbeFileError(f"{path}: {where}: must end with a user turn")
    return tuple(turns)


def _text(path: Path, where: str, value: Any, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ProbeFileError(f"{path}: {where}: must be a string")
    return value


def _nonempty(path: Path, where: str, value: Any) -> str:
    text = _text(path, where, value, optional=False)
    if not text:
        raise ProbeFileError(f"{path}: {where}: must not be empty")
    return text
