"""The simulator and the daemon stay apart: `canary_sim` imports nothing of `monitor`, and
`monitor` imports `canary_sim` only lazily, in the demo.

The simulator checks the daemon's requests (SigV4 signatures, OAuth tokens, wire formats) and
knows the right answers to its probes; if it borrowed the daemon's code for any of that, a bug
there would be reproduced on both sides and pass unseen.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SIM = ROOT / "canary_sim"
DAEMON = ROOT / "monitor"
DEMO = DAEMON / "commands" / "demo.py"


def _imported(tree: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """Every module an import statement (or `import_module("...")`/`__import__`) names."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node, node.module
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                "import_module",
                "__import__",
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node, node.args[0].value


def _is(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


SIM_FILES = sorted(SIM.rglob("*.py"))


def test_the_walk_sees_every_simulator_module() -> None:
    """The AST walk below covers the whole package (guards against an empty glob)."""
    names = {p.name for p in SIM_FILES}
    assert {"__init__.py", "aws_sigv4.py", "google_oauth.py", "answers.py", "server.py"} <= names


@pytest.mark.parametrize("path", SIM_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_simulator_module_imports_monitor(path: Path) -> None:
    """No import of `monitor` anywhere in the module: top level, functions or TYPE_CHECKING."""
    found = [
        f"{path.name}:{node.lineno}: {name}"  # type: ignore[attr-defined]
        for node, name in _imported(_parse(path))
        if _is(name, "monitor")
    ]
    assert found == []


def test_only_the_demo_imports_the_simulator() -> None:
    """No module of `monitor` but `demo.py` names `canary_sim`."""
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"  # type: ignore[attr-defined]
        for path in sorted(DAEMON.rglob("*.py"))
        if path != DEMO
        for node, name in _imported(_parse(path))
        if _is(name, "canary_sim")
    ]
    assert found == []


def test_the_demo_imports_the_simulator_lazily() -> None:
    """`demo.py` imports `canary_sim` only inside functions, or for type checking."""
    tree = _parse(DEMO)
    eager = []
    for statement in tree.body:
        if (
            isinstance(statement, ast.If)
            and isinstance(statement.test, ast.Name)
            and statement.test.id == "TYPE_CHECKING"
        ):
            continue
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        eager += [name for _, name in _imported(statement) if _is(name, "canary_sim")]
    assert eager == []
    assert any(_is(name, "canary_sim") for _, name in _imported(tree))  # the demo does use it


def _run(code: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=120)


def test_importing_the_whole_simulator_loads_no_monitor_module() -> None:
    """At run time too: every `canary_sim` module imported, and `monitor` never loaded."""
    _run(
        "import pkgutil, sys, importlib, canary_sim\n"
        "for m in pkgutil.walk_packages(canary_sim.__path__, 'canary_sim.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m == 'monitor' or m.startswith('monitor.')]\n"
        "assert not bad, bad\n"
    )


def test_the_daemon_and_cli_load_no_simulator_module() -> None:
    """Importing the CLI, the daemon and even the demo module leaves `canary_sim` unloaded."""
    _run(
        "import sys, monitor.commands.cli, monitor.daemon, monitor.commands.demo\n"
        "bad = [m for m in sys.modules if m == 'canary_sim' or m.startswith('canary_sim.')]\n"
        "assert not bad, bad\n"
    )
