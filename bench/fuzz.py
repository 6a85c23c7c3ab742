"""The long form of tests/fuzz: every target, many inputs, a table of what happened.

    python -m bench.fuzz [--examples N] [--only SUBSTRING] [--seed S] [--json]

Unlike the tests, a failure does not stop the run: each target gets all its inputs and the
table counts inputs tried, inputs rejected with a documented error (`ConfigError`,
`ProviderProtocolError`), failures (any other exception, or an input over the CPU bound) and
the slowest input in CPU and wall milliseconds. Exit status 1 if any target failed.
docs/reliability.md records one run.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

from tests.fuzz.harness import BOUND_MS, run_target
from tests.fuzz.targets import TARGETS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000, help="inputs per target")
    parser.add_argument("--only", default="", help="run targets whose name contains this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="one JSON object per target")
    args = parser.parse_args(argv)
    names = [n for n in sorted(TARGETS) if args.only in n]
    started = time.perf_counter()
    rows = []
    for name in names:
        stats = run_target(TARGETS[name], args.examples, stop_on_failure=False, seed=args.seed)
        rows.append(stats)
        if args.json:
            print(json.dumps(stats.__dict__), flush=True)
        else:
            print(
                f"{name:34} {stats.inputs:>8} {stats.rejected:>9} {stats.failures:>9}"
                f" {stats.max_ms:>9.1f} {stats.wall_s:>8.1f}",
                file=sys.stderr,
                flush=True,
            )
    total_s = time.perf_counter() - started
    if not args.json:
        print(
            "\n| target | inputs | rejected (documented error) | failures"
            " | max CPU ms/input | max wall ms/input |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for s in rows:
            print(
                f"| `{s.target}` | {s.inputs} | {s.rejected} | {s.failures}"
                f" | {s.max_ms:.1f} | {s.max_wall_ms:.1f} |"
            )
        total = sum(s.inputs for s in rows)
        print(
            f"\n{len(rows)} targets, {total} inputs, {sum(s.failures for s in rows)} failures,"
            f" bound {BOUND_MS:.0f} ms of CPU per input, {total_s:.0f} s on Python"
            f" {platform.python_version()}, seed {args.seed}"
        )
        for s in rows:
            for failure in s.failed_inputs:
                print(f"  {s.target}: {failure}")
            if s.max_ms > BOUND_MS / 4:
                print(f"  slowest {s.target} ({s.max_ms:.0f} ms): {s.slowest}")
    return 1 if any(s.failures for s in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
