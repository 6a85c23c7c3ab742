"""`python -m canary_sim`: serve a simulated fleet by hand, for demos and debugging.

    python -m canary_sim --port 8090 --probes probes/ \\
      --backend anthropic-api/default/anthropic_messages \\
      --backend vllm-prod/long-context/openai_chat \\
      --fault '{"platform":"vllm-prod","pool":"long-context","kind":"misroute","rate":0.16}'

Faults can then be changed with the control API (`POST /_sim/faults`, see `control.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence

from canary_sim.answers import AnswerBook
from canary_sim.faults import Fault
from canary_sim.server import SimBackend, SimFleet

_SUMMARY = "Serve a simulated LLM fleet with fault injection on loopback."
DEFAULT_BACKENDS = (
    "anthropic-api/default/anthropic_messages",
    "vllm-prod/default/openai_chat",
    "vllm-prod/long-context/openai_chat",
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m canary_sim", description=_SUMMARY)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090, help="0 picks a free port")
    p.add_argument("--probes", help="directory of probe suites whose references are the answers")
    p.add_argument(
        "--backend",
        action="append",
        type=SimBackend.parse,
        metavar="PLATFORM/POOL/API[/MODELS]",
        help=f"repeatable; API is openai_chat or anthropic_messages (default: {DEFAULT_BACKENDS})",
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="JSON",
        help='repeatable: {"platform", "pool", "kind", "rate", ...params}',
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--api-key", help="require this key (Bearer or x-api-key)")
    return p


def _faults(specs: Sequence[str]) -> list[tuple[str, str, Fault]]:
    out = []
    for spec in specs:
        data = json.loads(spec)
        platform, pool = data.pop("platform"), data.pop("pool")
        out.append((platform, pool, Fault.from_json(data)))
    return out


async def serve(args: argparse.Namespace) -> None:
    """Serve until SIGINT or SIGTERM."""
    backends = args.backend or [SimBackend.parse(b) for b in DEFAULT_BACKENDS]
    book = AnswerBook.from_probe_dir(args.probes) if args.probes else AnswerBook()
    fleet = SimFleet(backends, book, seed=args.seed, api_key=args.api_key)
    for platform, pool, fault in _faults(args.fault):
        fleet.set_fault(platform, pool, fault)
    await fleet.start(args.host, args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"simulated fleet: {len(book)} known answers, seed {args.seed}", flush=True)
    for b in backends:
        print(f"  {b.api:<19} {fleet.base_url(b.platform, b.pool)}", flush=True)
    print(f"  control API         http://{args.host}:{fleet.port}/_sim/faults", flush=True)
    try:
        await stop.wait()
    finally:
        await fleet.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        _faults(args.fault)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"--fault: {exc}", file=sys.stderr)
        return 2
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
