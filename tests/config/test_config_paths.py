"""File paths in a config resolve against the config's directory, not the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_config

TESTDATA = Path(__file__).parent / "testdata"


def write_config(directory: Path, credentials_file: str) -> Path:
    """A config in `directory` with a Vertex target naming `credentials_file` and an API key
    file, both as written, plus its probe file."""
    (directory / "probes.yaml").write_text((TESTDATA / "probes-ok.yaml").read_text())
    path = directory / "canary.yaml"
    path.write_text(
        "targets:\n"
        "  - {platform: vertex, model: g, api: vertex_gemini, project: p, location: us-east5,\n"
        f"     credentials_file: {credentials_file}}}\n"
        "  - {platform: a, model: m, api: openai_chat, base_url: 'http://h/',\n"
        "     credentials: {api_key_file: secrets/key.txt}}\n"
        "suites: [{file: probes.yaml}]\n"
    )
    return path


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory that is not the config's (and holds no file of the same name)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def test_relative_files_resolve_against_the_config_directory(
    tmp_path: Path, elsewhere: Path
) -> None:
    """Loaded from another cwd, relative `credentials_file` and `api_key_file` are found next
    to the config; `credentials_file` becomes absolute so a later chdir cannot break it."""
    config_dir = tmp_path / "etc" / "canary"
    (config_dir / "secrets").mkdir(parents=True)
    (config_dir / "secrets" / "sa.json").write_text("{}")
    (config_dir / "secrets" / "key.txt").write_text("sk-next-to-config\n")
    vertex, other = load_config(write_config(config_dir, "secrets/sa.json")).config.targets
    assert vertex.credentials_file == str(config_dir / "secrets" / "sa.json")
    assert Path(vertex.credentials_file).is_absolute() and not (elsewhere / "secrets").exists()
    assert other.api_key is not None
    assert other.api_key.get_secret_value() == "sk-next-to-config"


def test_relative_config_path_gives_absolute_credentials_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`canary run --config etc/canary.yaml` (a relative path) still stores an absolute path."""
    (tmp_path / "etc" / "secrets").mkdir(parents=True)
    (tmp_path / "etc" / "secrets" / "sa.json").write_text("{}")
    (tmp_path / "etc" / "secrets" / "key.txt").write_text("k")
    write_config(tmp_path / "etc", "secrets/sa.json")
    monkeypatch.chdir(tmp_path)
    vertex, _ = load_config(Path("etc/canary.yaml")).config.targets
    assert vertex.credentials_file == str(tmp_path / "etc" / "secrets" / "sa.json")


@pytest.mark.usefixtures("elsewhere")
def test_absolute_credentials_file_is_kept(tmp_path: Path) -> None:
    """An absolute path is used as written."""
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "key.txt").write_text("k")
    key = tmp_path / "elsewhere-sa.json"
    key.write_text("{}")
    vertex, _ = load_config(write_config(tmp_path, str(key))).config.targets
    assert vertex.credentials_file == str(key)
