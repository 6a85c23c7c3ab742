"""Healthy pools' latency next to a hostile target, against the same daemon without it.

    python bench/hostile_neighbour.py [--seconds 40] [--kind large|bomb] [--json]
    python bench/hostile_neighbour.py --tree OTHER_CHECKOUT    # the daemon of another tree

Processes: the simulated fleet (`python -m canary_sim`, three healthy OpenAI-compatible pools),
a hostile server on loopback, and `canary run` from `--tree` (default: this checkout). Every
target runs the `corruption` suite every 2 s. The hostile target answers every probe with a
3.9 MB mixed-script reply (`large`) or a 1.8 KB body that inflates to 1 GiB under
`Content-Encoding: gzip, gzip` (`bomb`). Two runs of `--seconds` each: the baseline (healthy
pools only) and the same pools with the hostile neighbour. Printed: the healthy pools' probes
completed, p50, p99 and max latency from the store, the daemon's peak RSS, and the ratios of
the neighbour run to the baseline. A daemon that judges a large reply on its event loop, or
inflates a bomb whole, shows as p99/max latency ratios far above 1 and fewer probes.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HEALTHY = ("vllm-prod/a", "vllm-prod/b", "vllm-prod/c")
MIXED = "Paris ปารีส 巴黎 Париж パリ "


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hostile_body(kind: str) -> tuple[bytes, list[tuple[str, str]]]:
    if kind == "bomb":
        return gzip.compress(gzip.compress(b" " * 2**30, 9), 9), [
            ("Content-Encoding", "gzip, gzip")
        ]
    text = MIXED * (3_900_000 // len(MIXED.encode()))
    doc = {
        "id": "chatcmpl-1",
        "model": "m",
        "choices": [{"message": {"content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1},
    }
    return json.dumps(doc, ensure_ascii=False).encode(), []


async def serve_hostile(port: int, body: bytes, headers: list[tuple[str, str]]) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            await reader.readexactly(length)
            lines = ["HTTP/1.1 200 OK", "Content-Type: application/json",
                     f"Content-Length: {len(body)}", "Connection: close",
                     *(f"{k}: {v}" for k, v in headers)]  # fmt: skip
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def write_config(work: Path, sim_port: int, hostile_port: int | None, port: int) -> Path:
    targets = [
        f"  - {{platform: {p.split('/')[0]}, pool: {p.split('/')[1]}, model: sim, api: openai_chat,"
        f" base_url: 'http://127.0.0.1:{sim_port}/{p}/'}}\n"
        for p in HEALTHY
    ]
    if hostile_port is not None:
        targets.append(
            "  - {platform: hostile, pool: default, model: sim, api: openai_chat,"
            f" base_url: 'http://127.0.0.1:{hostile_port}/', max_response_bytes: 8388608}}\n"
        )
    path = work / f"canary-{port}.yaml"
    path.write_text(
        f"server: {{listen_address: 127.0.0.1, port: {port}}}\n"
        f"store: {{url: 'sqlite:///{work / f'canary-{port}.db'}'}}\n"
        "defaults: {timeout_s: 30, concurrency: 4}\n"
        "targets:\n"
        + "".join(targets)
        + f"suites:\n  - {{file: '{ROOT / 'probes' / 'corruption.yaml'}', interval_s: 2}}\n"
    )
    return path


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_daemon(tree: Path, config: Path, seconds: float) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli" if (tree / "monitor" / "cli.py").exists()
         else "monitor.commands.cli", "--log-level", "error", "run", "--config", str(config)],
        env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(seconds)  # a fixed measuring window, not an assertion
    rss = peak_rss_mb(proc.pid)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    db = config.with_suffix(".db").with_name(config.stem + ".db")
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT latency_s FROM results WHERE platform != 'hostile' ORDER BY latency_s"
        ).fetchall()
        hostile = conn.execute(
            "SELECT outcome, count(*) FROM results WHERE platform = 'hostile' GROUP BY outcome"
        ).fetchall()
    lat = [r[0] for r in rows]

    def q(f: float) -> float:
        return lat[min(len(lat) - 1, int(f * len(lat)))] if lat else float("nan")

    return {
        "healthy_probes": len(lat),
        "p50_s": round(q(0.5), 4),
        "p99_s": round(q(0.99), 4),
        "max_s": round(lat[-1], 4) if lat else None,
        "peak_rss_mb": round(rss, 1),
        "hostile_outcomes": dict(hostile),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=40.0)
    p.add_argument("--kind", choices=["large", "bomb"], default="large")
    p.add_argument("--tree", type=Path, default=ROOT, help="checkout whose daemon runs")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sim_port, hostile_port = free_port(), free_port()
        sim = subprocess.Popen(
            [sys.executable, "-m", "canary_sim", "--port", str(sim_port),
             "--probes", str(ROOT / "probes"),
             *(a for b in HEALTHY for a in ("--backend", f"{b}/openai_chat"))],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        hostile = subprocess.Popen(
            [sys.executable, "-c", "import asyncio, sys, json; from bench.hostile_neighbour import"
             " serve_hostile, hostile_body; b, h = hostile_body(sys.argv[2]);"
             " asyncio.run(serve_hostile(int(sys.argv[1]), b, h))", str(hostile_port), args.kind],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        time.sleep(8)  # let both servers bind (start-up, not a measurement)
        try:
            baseline = run_daemon(
                args.tree, write_config(work, sim_port, None, free_port()), args.seconds
            )
            neighbour = run_daemon(
                args.tree, write_config(work, sim_port, hostile_port, free_port()), args.seconds
            )
        finally:
            for proc in (sim, hostile):
                proc.terminate()
                proc.wait(timeout=30)
    ratios = {
        k: round(neighbour[k] / baseline[k], 2) if baseline[k] else None
        for k in ("healthy_probes", "p50_s", "p99_s", "max_s", "peak_rss_mb")
    }
    out = {"tree": str(args.tree), "kind": args.kind, "seconds": args.seconds,
           "baseline": baseline, "neighbour": neighbour, "ratio": ratios}  # fmt: skip
    if args.json:
        print(json.dumps(out))
    else:
        for name in ("baseline", "neighbour"):
            r = out[name]
            print(f"{name:>9}: {r['healthy_probes']} healthy probes, p50 {r['p50_s']} s, p99"
                  f" {r['p99_s']} s, max {r['max_s']} s, peak RSS {r['peak_rss_mb']} MB,"
                  f" hostile {r['hostile_outcomes']}")  # fmt: skip
        print(f"    ratio: {ratios}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
