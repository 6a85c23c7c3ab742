"""`canary once`: one pass over the selected (target, suite) pairs now, like blackbox's ?debug=true.

Nothing is written to the store or to drift state: it is a look, not a measurement. With
`--debug` it prints the request, the transcript, every check with its evidence, and the
metric samples the run would export.
"""

from __future__ import annotations

import json
import re
import sys
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TextIO

from prometheus_client import CollectorRegistry, generate_latest

from monitor.config import load_config
from monitor.config.probes import Probe
from monitor.metrics import Metrics
from monitor.plan import PlannedSuite, make_plan
from monitor.providers.http import build_client
from monitor.runner import burst, execute_probe
from monitor.servable import Skipped
from monitor.store.codec import result_to_record
from monitor.types import Outcome, Result

EXIT_OK, EXIT_FAILED = 0, 1


async def run_once(
    config_path: Path,
    target_name: str | None,
    suite_name: str | None,
    *,
    debug: bool,
    as_json: bool,
    out: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    planned = make_plan(load_config(config_path)).select(target_name, suite_name)
    if not planned:
        print(
            f"no (target, suite) pair matches --target {target_name} --suite {suite_name}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    results: list[Result] = []
    run_id = uuid.uuid4().hex
    for entry in planned:
        for skip in entry.skipped:
            _print_skipped(entry.target.name, entry.whole.suite, skip, out, as_json=as_json)
        if entry.runnable is None:
            continue
        for result in await _run_suite(entry, run_id):
            metrics.observe(result, time.time())
            results.append(result)
            _print_result(result, out, debug=debug, as_json=as_json)
    if debug:
        print("\n# metrics this run would export", file=out)
        for line in generate_latest(registry).decode().splitlines():
            if line.startswith("canary_") and not line.rstrip().endswith(" 0.0"):
                print(line, file=out)
    failed = [r for r in results if r.outcome is not Outcome.PASSED]
    if not as_json:
        print(f"\n{len(results) - len(failed)}/{len(results)} probes passed", file=out)
    return EXIT_FAILED if failed else EXIT_OK


async def _run_suite(entry: PlannedSuite, run_id: str) -> list[Result]:
    """Every probe of a planned suite in order, as the daemon runs it (`burst` included)."""
    target, suite, options = entry.target, entry.runnable, entry.options
    assert suite is not None
    results: list[Result] = []
    async with build_client(target) as client:
        for probe in suite.probes:

            def execute(probe: Probe = probe) -> Awaitable[Result]:
                return execute_probe(
                    client,
                    target,
                    suite,
                    probe,
                    run_id,
                    cutover_tokens=options.cutover_tokens,
                    stream=options.stream,
                )

            if options.burst > 0:
                results += await burst(execute, options.burst, probe.expect)
            else:
                results.append(await execute())
    return results


def _print_skipped(target: str, suite: str, skip: Skipped, out: TextIO, *, as_json: bool) -> None:
    """A probe the target cannot serve: neither passed nor failed, so not in the exit code."""
    if as_json:
        record = {"target": target, "suite": suite, "probe": skip.probe, "outcome": "skipped"}
        record |= {"capability": skip.capability, "reason": skip.reason}
        print(json.dumps(record), file=out)
        return
    print(f"{'skipped':<14} {'':>8}  {target} {suite}/{skip.probe}  {skip.reason}", file=out)


def _print_result(result: Result, out: TextIO, *, debug: bool, as_json: bool) -> None:
    if as_json:
        record = result_to_record(result)
        if not debug:
            record.pop("reply", None)
        print(_terminal_safe(json.dumps(record, ensure_ascii=False)), file=out)
        return
    series = f"{result.platform}/{result.pool}/{result.model} {result.suite}/{result.probe}"
    failed = ",".join(result.failed_detectors)
    print(f"{result.outcome.value:<14} {result.latency_s:7.3f}s  {series}  {failed}", file=out)
    if not debug:
        return
    _section(out, "request", result.request)
    if result.reply is not None:
        _section(
            out,
            "reply",
            {
                "text": result.reply.text,
                "finish_reason": result.reply.raw_finish_reason,
                "model": result.reply.model,
                "system_fingerprint": result.reply.system_fingerprint,
                "status_code": result.reply.status_code,
                "headers": dict(result.reply.headers),
                "time_to_first_token_s": result.reply.time_to_first_token_s,
                "output_tokens_per_s": result.reply.output_tokens_per_s,
            },
        )
    if result.error:
        _section(out, "error", result.error)
    for check in result.checks:
        _section(out, f"check {check.detector}", check.to_dict())


def _section(out: TextIO, title: str, body: Any) -> None:
    text = body if isinstance(body, str) else json.dumps(body, indent=2, ensure_ascii=False)
    text = _terminal_safe(text)
    print(f"  --- {title}\n" + "\n".join("  " + line for line in text.splitlines()), file=out)


_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _terminal_safe(text: str) -> str:
    """`text` with control characters (but tab and newline) and lone surrogates as `\\u....`
    escapes, valid inside JSON strings too: a reply's ESC must not drive the operator's
    terminal (log injection), and a lone surrogate cannot be written to a UTF-8 stdout."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
