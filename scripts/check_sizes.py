"""Fail when a module or a function of the package grows past the project's limits.

Usage: python3 scripts/check_sizes.py [PACKAGE_DIR ...]   (default: monitor canary_sim)

A room that grows past 450 lines, or a function past 80, is where the next change gets lost
(CONVENTIONS: modules of 80-250 lines, split at about 450): split it by concern before adding
to it. Lines are counted as the file has them; a function's lines run from its `def` (its
decorators included) to its last statement.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80


def problems(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n") + (not text.endswith("\n"))
        if lines > MAX_MODULE_LINES:
            found.append(f"{path}: {lines} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - first + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(
                        f"{path}:{first}: {node.name} is {length} lines"
                        f" (at most {MAX_FUNCTION_LINES})"
                    )
    return found


def main(argv: list[str]) -> int:
    defaults = [p for p in (Path("monitor"), Path("canary_sim")) if p.is_dir()]
    roots = [Path(a) for a in argv[1:]] or defaults
    found = [line for root in roots for line in problems(root)]
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
