"""`canary`: run | once | validate | demo | detect | calibrate | replay. The only door besides the
HTTP server."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from monitor import __version__
from monitor.errors import ConfigError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="canary", description=__doc__)
    parser.add_argument("--version", action="version", version=f"canary-monitor {__version__}")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument("--log-format", default="auto", choices=["auto", "json", "console"])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="the daemon: schedule every (target, suite), serve /metrics")
    run.add_argument("--config", required=True, type=Path)
    run.add_argument(
        "--web.config.file",
        dest="web_config",
        type=Path,
        default=None,
        help="exporter-toolkit web config: TLS, basic or bearer auth (wins over"
        " server.web_config_file)",
    )

    once = sub.add_parser("once", help="one pass now; exit 1 if a check failed")
    once.add_argument("--config", required=True, type=Path)
    once.add_argument("--target", help="platform/pool/model (default: all)")
    once.add_argument("--suite", help="suite name (default: all)")
    once.add_argument(
        "--debug", action="store_true", help="print request, transcript, checks, metrics"
    )
    once.add_argument("--json", action="store_true", help="one JSON result a line")

    validate = sub.add_parser("validate", help="check config and probe files")
    validate.add_argument("files", nargs="+", type=Path)
    validate.add_argument(
        "--no-secrets",
        action="store_true",
        help="check structure only: read no key, URL or credentials file; unset ${VAR}s are"
        " notes, not errors (for a repository's CI)",
    )

    demo = sub.add_parser("demo", help="simulated fleet + daemon + scripted faults")
    demo.add_argument("--duration", type=float, default=300.0, help="seconds (default 300)")
    demo.add_argument(
        "--json", action="store_true", help="print a JSON summary instead of a live table"
    )
    demo.add_argument(
        "--config", type=Path, default=None, help="demo config (default config/demo.yaml)"
    )
    demo.add_argument(
        "--port", type=int, default=0, help="daemon HTTP port (default: any free port)"
    )

    detect = sub.add_parser("detect", help="JSONL replies on stdin, JSONL checks on stdout")
    detect.add_argument("--detectors", help="comma-separated detector names (default: all)")

    calibrate = sub.add_parser("calibrate", help="exact CUSUM threshold and run lengths")
    calibrate.add_argument("--p0", type=float, required=True, help="baseline failure rate")
    calibrate.add_argument("--p1", type=float, required=True, help="shifted failure rate")
    calibrate.add_argument(
        "--arl0-probes", type=float, required=True, help="probes between false alarms"
    )
    calibrate.add_argument("--json", action="store_true")

    replay = sub.add_parser("replay", help="JSONL outcomes on stdin, JSONL alarms on stdout")
    replay.add_argument("--config", required=True, type=Path, help="its drift: section is used")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from monitor.logs import configure_logging

    fmt = {"auto": None, "json": True, "console": False}[args.log_format]
    # The daemon logs at info; one-shot commands keep stderr for problems (the demo owns stdout).
    quiet = "error" if args.command == "demo" else "warning"
    explicit = args.command == "run" or args.log_level != "info"
    level = args.log_level if explicit else quiet
    configure_logging(level, json=fmt)
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # a pipe's reader that left early fails here, not at exit
    except BrokenPipeError:  # `canary once --json | head -1`: the reader has seen enough
        # Point stdout at /dev/null so the interpreter's last flush finds nothing to fail on.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    return code


def _dispatch(args: argparse.Namespace) -> int:
    try:
        if args.command == "run":
            return _run(args.config, args.web_config)
        if args.command == "once":
            from monitor.commands.once import run_once

            return asyncio.run(
                run_once(args.config, args.target, args.suite, debug=args.debug, as_json=args.json)
            )
        if args.command == "validate":
            return _validate(args.files, read_secrets=not args.no_secrets)
        if args.command == "demo":
            from monitor.commands.demo import run_demo

            return asyncio.run(
                run_demo(args.duration, as_json=args.json, config=args.config, port=args.port)
            )
        if args.command == "detect":
            return _detect(args.detectors)
        if args.command == "calibrate":
            from monitor.commands.calibrate import run_calibrate

            return run_calibrate(args.p0, args.p1, args.arl0_probes, as_json=args.json)
        if args.command == "replay":
            return _replay(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    return EXIT_USAGE


def _run(config: Path, web_config: Path | None) -> int:
    from monitor.daemon import Daemon

    asyncio.run(Daemon(config, web_config_path=web_config).run_forever())
    return EXIT_OK


def _validate(files: Sequence[Path], *, read_secrets: bool = True) -> int:
    from monitor.commands.validate import check_files

    problems, notes = check_files(files, read_secrets=read_secrets)
    for problem in problems:
        print(problem)
    if not problems:
        for note in notes:
            print(note)
        print(f"{len(files)} file(s) valid")
    return EXIT_FAILED if problems else EXIT_OK


def _detect(detectors: str | None) -> int:
    from monitor.commands.detect import detect_stream

    only = [d.strip() for d in detectors.split(",") if d.strip()] if detectors else None
    try:
        _, errors = detect_stream(sys.stdin, sys.stdout, only)
    except ValueError as exc:
        print(f"canary detect: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK if errors == 0 else EXIT_FAILED


def _replay(config: Path) -> int:
    from monitor.commands.replay import LineError, run_replay

    try:
        run_replay(config, sys.stdin, sys.stdout)
    except LineError as exc:
        print(f"canary replay: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
