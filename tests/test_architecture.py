"""The architecture's rules hold, and the checks that enforce them can fail.

`scripts/check` runs import-linter on the contracts in pyproject.toml (layers and forbidden
imports, docs/architecture.md) and `scripts/check_sizes.py`; here both are shown to pass on
the tree and to catch a violation planted in a copy of it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def planted_copy(tmp_path: Path, module: str, line: str) -> Path:
    root = tmp_path / "tree"
    for name in ("monitor", "canary_sim"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    path = root / module
    path.write_text(path.read_text() + f"\n{line}\n")
    return root


def test_the_tree_keeps_every_import_contract() -> None:
    """Every contract in pyproject.toml is kept by the code as it is."""
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def test_a_detector_importing_a_provider_breaks_the_build(tmp_path: Path) -> None:
    """A detector that reaches for the network is refused, by name."""
    root = planted_copy(tmp_path, "monitor/detectors/length.py", "import monitor.providers.http")
    result = lint_imports(root)
    assert result.returncode == 1
    assert "Detectors are pure: no network, store, drift state or web BROKEN" in result.stdout


def test_the_simulator_importing_the_daemon_breaks_the_build(tmp_path: Path) -> None:
    """The simulator must check signatures with its own code, never the daemon's."""
    root = planted_copy(tmp_path, "canary_sim/aws_sigv4.py", "import monitor.providers.aws_auth")
    result = lint_imports(root)
    assert result.returncode == 1
    assert "The simulator imports nothing of the daemon: its checks are its own BROKEN" in (
        result.stdout
    )


def test_sizes_are_checked(tmp_path: Path) -> None:
    """A module past 450 lines or a function past 80 fails `scripts/check_sizes.py`."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "ok.py").write_text("x = 1\n" * 450)
    (package / "long.py").write_text("def f() -> None:\n" + "    pass\n" * 80)
    script = ROOT / "scripts" / "check_sizes.py"
    result = subprocess.run(
        [sys.executable, str(script), str(package)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"{package / 'long.py'}:1: f is 81 lines (at most 80)"
    ]
    assert subprocess.run([sys.executable, str(script)], cwd=ROOT, check=False).returncode == 0
