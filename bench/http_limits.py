"""The daemon's HTTP server under hostile clients (issue 17): an auth flood and idle connections.

```
python -m bench.http_limits auth --duration 60   # 24 threads of wrong passwords
python -m bench.http_limits idle --duration 30   # 300 idle connections, RLIMIT_NOFILE 256
```

Both run the server (`build_app` + `serve`, JSON logs as `canary run` writes them) in a child
process, so its file descriptors, threads and logs are its own, and measure from outside:

- `auth`: a basic-auth user with a cost-10 bcrypt hash; 24 threads send distinct wrong
  passwords as fast as the server answers; the right password is sent every 0.5 s (it is
  cached after the first). Reported: the right password's statuses and latency, the wrong
  ones' statuses.
- `idle`: the child runs with `RLIMIT_NOFILE` 256; 300 TCP connections are opened and left
  idle; `/healthz` is asked every 0.5 s on a fresh connection (2 s timeout). Reported: its
  statuses and latency, and the bytes and lines the child wrote to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import bcrypt
import httpx

PASSWORD = "correct horse battery staple"


class _Status:
    def targets(self) -> list[dict[str, Any]]:
        return []

    def ready(self) -> tuple[bool, str]:
        return True, ""

    async def reload(self) -> tuple[bool, str]:
        return True, "ok"


async def _serve(nofile: int | None, web_config: Path | None) -> None:
    """The child: set the fd limit, serve until SIGTERM, print the port on stdout."""
    from prometheus_client import CollectorRegistry

    from monitor.logs import configure_logging
    from monitor.store.sqlite import SQLiteStore
    from monitor.web.auth import WebConfigWatcher
    from monitor.web.server import build_app, serve

    if nofile is not None:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))
    configure_logging("info", json=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(
            Path(tmp) / "canary.db", retention_passed_days=7, retention_failed_days=90
        )
        watcher = WebConfigWatcher.load(web_config) if web_config else None
        app = build_app(
            registry=CollectorRegistry(), store=store, status=_Status(), web_config=watcher
        )
        runner, port = await serve(app, "127.0.0.1", 0)
        print(port, flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()
        await store.close()


def _child(args: list[str]) -> tuple[subprocess.Popen[bytes], int, Path]:
    log = Path(tempfile.mkstemp(suffix=".log")[1])
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.http_limits", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=log.open("wb"),
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, port, log


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _summary(statuses: list[str], latencies_s: list[float]) -> dict[str, Any]:
    return {
        "requests": len(statuses),
        "statuses": dict(Counter(statuses)),
        "p50_ms": round(statistics.median(latencies_s) * 1000, 1) if latencies_s else None,
        "max_ms": round(max(latencies_s) * 1000, 1) if latencies_s else None,
    }


def _basic(password: str) -> dict[str, str]:
    token = base64.b64encode(f"alice:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def run_auth(duration_s: float, threads: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        web = Path(tmp) / "web.yml"
        hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()
        web.write_text(f"basic_auth_users:\n  alice: '{hashed}'\n")
        proc, port, log = _child(["--web-config", str(web)])
        url = f"http://127.0.0.1:{port}/metrics"
        stop = threading.Event()
        wrong: list[str] = []

        def flood(n: int) -> None:
            with httpx.Client(timeout=30) as client:
                i = 0
                while not stop.is_set():
                    i += 1
                    try:
                        code = client.get(url, headers=_basic(f"guess-{n}-{i}")).status_code
                        wrong.append(str(code))
                    except httpx.HTTPError as exc:
                        wrong.append(type(exc).__name__)

        right: list[str] = []
        latencies: list[float] = []
        timeline: list[tuple[float, str]] = []
        with httpx.Client(timeout=30) as client:
            assert client.get(url, headers=_basic(PASSWORD)).status_code == 200  # cached now
            workers = [threading.Thread(target=flood, args=(n,)) for n in range(threads)]
            for worker in workers:
                worker.start()
            started = time.monotonic()
            while time.monotonic() - started < duration_s:
                sent = time.monotonic()
                try:
                    code = str(client.get(url, headers=_basic(PASSWORD)).status_code)
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                latencies.append(time.monotonic() - sent)
                right.append(code)
                if code != "200":
                    timeline.append((round(sent - started, 1), code))
                time.sleep(max(0.0, 0.5 - (time.monotonic() - sent)))
            stop.set()
            for worker in workers:
                worker.join()
        _stop(proc)
        first_bad = timeline[0][0] if timeline else None
        log.unlink()
        return {
            "scenario": "auth",
            "duration_s": duration_s,
            "flood_threads": threads,
            "right_password": _summary(right, latencies) | {"first_refusal_s": first_bad},
            "wrong_passwords": dict(Counter(wrong)),
        }


async def _idle(port: int, connections: int, duration_s: float) -> dict[str, Any]:
    held: list[socket.socket] = []
    for _ in range(connections):
        sock = socket.socket()
        sock.setblocking(False)
        try:
            await asyncio.wait_for(
                asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port)), 2
            )
        except (OSError, TimeoutError):
            sock.close()
            continue
        held.append(sock)
    statuses: list[str] = []
    latencies: list[float] = []
    started = time.monotonic()
    while time.monotonic() - started < duration_s:
        sent = time.monotonic()
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                code = str((await client.get(f"http://127.0.0.1:{port}/healthz")).status_code)
        except httpx.HTTPError as exc:
            code = type(exc).__name__
        latencies.append(time.monotonic() - sent)
        statuses.append(code)
        await asyncio.sleep(max(0.0, 0.5 - (time.monotonic() - sent)))
    opened = len(held)
    for sock in held:
        sock.close()
    return {"idle_connections_opened": opened, "healthz": _summary(statuses, latencies)}


def run_idle(duration_s: float, connections: int, nofile: int) -> dict[str, Any]:
    proc, port, log = _child(["--nofile", str(nofile)])
    result = asyncio.run(_idle(port, connections, duration_s))
    _stop(proc)
    text = log.read_bytes()
    log.unlink()
    lines = text.decode(errors="replace").splitlines()
    return {
        "scenario": "idle",
        "nofile": nofile,
        "duration_s": duration_s,
        **result,
        "stderr_bytes": len(text),
        "stderr_lines": len(lines),
        "traceback_lines": sum("Traceback" in line for line in lines),
        "accept_lines": sum("accept" in line for line in lines),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    serve = sub.add_parser("serve", help="(internal) the server child")
    serve.add_argument("--nofile", type=int, default=None)
    serve.add_argument("--web-config", type=Path, default=None)
    auth = sub.add_parser("auth")
    auth.add_argument("--duration", type=float, default=60.0)
    auth.add_argument("--threads", type=int, default=24)
    idle = sub.add_parser("idle")
    idle.add_argument("--duration", type=float, default=30.0)
    idle.add_argument("--connections", type=int, default=300)
    idle.add_argument("--nofile", type=int, default=256)
    args = parser.parse_args()
    if args.mode == "serve":
        asyncio.run(_serve(args.nofile, args.web_config))
        return 0
    if args.mode == "auth":
        result = run_auth(args.duration, args.threads)
    else:
        result = run_idle(args.duration, args.connections, args.nofile)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
