"""SQLite group commit (bench/README.md finding 5): CPU and wall time per stored result.

Baseline, measured in the same run: the same store written one result at a time (each write
awaited before the next, so every result is its own thread hop and transaction, as before
group commit). Then bursts of concurrent writes, as a daemon with many targets produces,
which share transactions. Prints per-result costs and the ratio to the baseline.

    python bench/store_group_commit.py [--results 4000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from monitor.store.sqlite import SQLiteStore
from monitor.types import Check, Outcome, Reply, Result


def result() -> Result:
    reply = Reply(text="Paris", finish_reason=None, latency_s=0.2, raw_body='{"x": 1}' * 40)
    return Result(
        id=uuid.uuid4().hex,
        run_id="r",
        started_at=time.time(),
        platform="p",
        pool="q",
        model="m",
        suite="core",
        suite_version=1,
        probe="capital",
        api="openai_chat",
        outcome=Outcome.PASSED,
        latency_s=0.2,
        checks=(Check("known_answer", True, 1.0, {"expected": "Paris"}),),
        request={"messages": [{"role": "user", "content": "Capital of France?"}]},
        reply=reply,
    )


async def sequential(store: SQLiteStore, n: int) -> None:
    for _ in range(n):
        await store.write(result())


async def concurrent(store: SQLiteStore, n: int, width: int) -> None:
    for start in range(0, n, width):
        await asyncio.gather(*(store.write(result()) for _ in range(min(width, n - start))))


async def measure(label: str, n: int, width: int | None) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "b.db", retention_passed_days=7, retention_failed_days=90)
        await store.count()  # open and migrate outside the measurement
        cpu, wall = time.process_time(), time.perf_counter()
        if width is None:
            await sequential(store, n)
        else:
            await concurrent(store, n, width)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        assert await store.count() == n
        await store.close()
    print(f"{label:<34} cpu {cpu / n * 1e6:7.1f} us/result   wall {wall / n * 1e6:7.1f} us/result")
    return cpu / n, wall / n


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    base_cpu, base_wall = await measure("one at a time (baseline)", args.results, None)
    for width in (10, args.concurrency):
        cpu, wall = await measure(f"{width} concurrent (group commit)", args.results, width)
        ratios = f"cpu {cpu / base_cpu:.2f}x   wall {wall / base_wall:.2f}x"
        print(f"{'':<34} ratio to baseline: {ratios}")


if __name__ == "__main__":
    asyncio.run(main())
