"""Import every installed pytest plugin and name the one that cannot load, and why.

Usage: python3 scripts/check_pytest_plugins.py

pytest stops with exit 3 and `Error while loading plugin "pytest11"` when any installed plugin
fails to import, before a single test runs, and does not say which package brought it in. A
plugin's undeclared dependency (cloudcoil's pytest plugin imports `filelock`, which cloudcoil
does not declare) is then hidden on any machine whose Python happens to have it. This check
runs first in `scripts/check`, so a fresh virtualenv fails here with a sentence instead.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points


def broken_plugins() -> list[str]:
    """One line per pytest11 entry point whose module does not import."""
    problems = []
    for plugin in entry_points(group="pytest11"):
        try:
            plugin.load()
        except Exception as exc:  # any import-time failure stops pytest the same way
            dist = plugin.dist.name if plugin.dist is not None else "an unknown package"
            problems.append(
                f"pytest plugin {plugin.name!r} ({plugin.value}, installed by {dist}) cannot load:"
                f" {type(exc).__name__}: {exc}. Declare what it needs in pyproject.toml's test"
                " extras."
            )
    return problems


def main() -> int:
    problems = broken_plugins()
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
