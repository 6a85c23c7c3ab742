"""`scripts/check_pytest_plugins.py` names a pytest plugin that cannot import, and why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "check_pytest_plugins.py"


def run_check(extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(extra_path)} if extra_path else {}
    return subprocess.run(
        [sys.executable, str(SCRIPT)],
        capture_output=True,
        text=True,
        env={**env, "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_installed_plugins_all_load() -> None:
    """In the test environment every pytest plugin imports (else pytest exits 3 unexplained)."""
    result = run_check()
    assert (result.returncode, result.stderr) == (0, "")


def test_a_plugin_with_an_undeclared_dependency_is_named(tmp_path: Path) -> None:
    """A plugin whose import needs a module nothing installed fails the check, naming the
    plugin, the package that installed it and the missing module."""
    dist = tmp_path / "brokenplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[pytest11]\nbroken = brokenplugin_mod\n")
    (tmp_path / "brokenplugin_mod.py").write_text("import surely_not_installed_module_xyz\n")
    result = run_check(tmp_path)
    assert result.returncode == 1
    assert "pytest plugin 'broken' (brokenplugin_mod, installed by brokenplugin) cannot load" in (
        result.stderr
    )
    assert "No module named 'surely_not_installed_module_xyz'" in result.stderr
