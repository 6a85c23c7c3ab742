"""Configs checked where their secrets and environment do not exist: one line per missing
cause, a hint that says how to provide it, and `canary validate --no-secrets` for a
repository's CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.commands.validate import check_files
from monitor.config import load_config
from monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = Path(__file__).parent / "testdata"
EXAMPLES = sorted((ROOT / "config").glob("*.yaml"))
UNSET = ("CANARY_SIM_PORT", "VLLM_API_KEY", "AZURE_OPENAI_API_KEY", "CANARY_T_PORT", "CANARY_T_K")


@pytest.fixture(autouse=True)
def _bare_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in UNSET:
        monkeypatch.delenv(var, raising=False)


def write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "p.yaml").write_text((TESTDATA / "probes-ok.yaml").read_text())
    path = tmp_path / "c.yaml"
    path.write_text(body + "suites: [{file: p.yaml}]\n")
    return path


def test_demo_config_says_in_one_line_how_to_run_it() -> None:
    """`canary validate config/demo.yaml` outside the demo is one line naming the file, the
    variable `canary demo` fills in, and the command to run."""
    problems, _ = check_files([ROOT / "config" / "demo.yaml"])
    assert [str(p) for p in problems] == [
        f"{ROOT / 'config' / 'demo.yaml'}:18: targets[0].base_url: environment variable"
        " CANARY_SIM_PORT is not set (used by 6 fields): the demo config is filled in by"
        " `canary demo`; run `canary demo` (or `canary demo --config FILE`)"
    ]


def test_one_unset_variable_is_one_problem_with_its_hint(tmp_path: Path) -> None:
    """Fields sharing an unset `${VAR}` report it once, at its first use, with the
    `${VAR:?hint}` text; `${VAR:-default}` still falls back."""
    path = write(
        tmp_path,
        "targets:\n"
        "  - {platform: a, model: m, api: openai_chat, base_url: 'http://h:${CANARY_T_PORT}/'}\n"
        "  - {platform: b, model: m, api: openai_chat,\n"
        "     base_url: 'http://h:${CANARY_T_PORT:?set it to the port}/'}\n"
        "  - {platform: c, model: m, api: openai_chat, base_url: 'http://${CANARY_T_K:-h}/'}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:2: targets[0].base_url: environment variable CANARY_T_PORT is not set"
        " (used by 2 fields): set it to the port"
    ]


def test_targets_sharing_a_missing_key_are_one_problem(tmp_path: Path) -> None:
    """Two targets reading the same unset key variable give one line, not two."""
    path = write(
        tmp_path,
        "targets:\n"
        "  - {platform: a, model: m, api: openai_chat, base_url: 'http://h/',\n"
        "     credentials: {api_key_env: CANARY_T_K}}\n"
        "  - {platform: b, model: m, api: openai_chat, base_url: 'http://h/',\n"
        "     credentials: {api_key_env: CANARY_T_K}}\n",
    )
    problems, _ = check_files([path])
    assert len(problems) == 1
    assert problems[0].field == "targets[0].credentials"
    assert problems[0].message.startswith("environment variable CANARY_T_K is not set: export it")
    assert problems[0].message.endswith("(also needed by 1 more target(s))")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_config_passes_without_secrets(path: Path) -> None:
    """Each shipped example is structurally valid with no key, file or variable present."""
    problems, notes = check_files([path], read_secrets=False)
    assert problems == []
    if path.name == "demo.yaml":
        assert notes[0].endswith(
            "note: CANARY_SIM_PORT is not set; not checked: "
            + ", ".join(f"targets[{i}].base_url" for i in range(6))
        )


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_config_names_what_it_needs(path: Path) -> None:
    """With the secrets absent, each example either validates (it needs none) or every problem
    says how to provide what is missing, and how to check without it."""
    problems, _ = check_files([path])
    for problem in problems:
        assert "canary demo" in problem.message or "--no-secrets" in problem.message, problem


def test_no_secrets_still_finds_structural_problems(tmp_path: Path) -> None:
    """Without secrets, a wrong field is still an error; only fields that held an unset
    variable go unchecked, and no key file is opened."""
    path = write(
        tmp_path,
        "store: {url: '${CANARY_T_K}'}\n"
        "targets:\n"
        "  - {platform: a, model: m, api: openai_chat, base_url: 'http://h:${CANARY_T_PORT}/',\n"
        "     credentials: {api_key_file: /nonexistent/key}, timeout_s: -1}\n",
    )
    problems, notes = check_files([path], read_secrets=False)
    assert [str(p) for p in problems] == [f"{path}:4: targets[0].timeout_s: must be > 0"]
    path.write_text(path.read_text().replace(", timeout_s: -1", ""))
    problems, notes = check_files([path], read_secrets=False)
    assert problems == []
    assert notes == [
        f"{path}: note: CANARY_T_K is not set; not checked: store.url",
        f"{path}: note: CANARY_T_PORT is not set; not checked: targets[0].base_url",
    ]
