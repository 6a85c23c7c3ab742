"""Start llama-server with its default flags, ask one chat completion, stop it.

Usage: python3 scripts/llama_smoke.py SERVER MODEL

Exit 0 only when the server answered a non-empty completion. `--version` proves nothing about
the CPU backend: a binary built for instructions the machine traps (AMX behind a hypervisor)
passes it and dies with SIGILL on the first real prompt. Standard library only: it runs before
the project's virtualenv exists.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

STARTUP_S = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"llama-server exited with {server.returncode} while loading")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)  # polling for readiness, not timing anything
    raise RuntimeError(f"llama-server not healthy after {STARTUP_S:.0f} s")


def complete(base: str) -> str:
    body = json.dumps(
        {
            "messages": [{"role": "user", "content": "What is the capital of France?"}],
            "max_tokens": 16,
            "temperature": 0,
        }
    ).encode()
    req = urllib.request.Request(
        f"{base}/v1/chat/completions", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        reply = json.load(resp)
    return str(reply["choices"][0]["message"]["content"])


def main(argv: list[str]) -> int:
    server_path, model = argv[1], argv[2]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [server_path, "-m", model, "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_healthy(base, server)
        text = complete(base)
    except (RuntimeError, OSError, KeyError, ValueError) as exc:
        server.kill()
        _, err = server.communicate()
        tail = err.decode(errors="replace").strip().splitlines()[-5:]
        print(f"llama-server smoke test failed: {exc}", *tail, sep="\n", file=sys.stderr)
        return 1
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    if not text.strip():
        print("llama-server answered an empty completion", file=sys.stderr)
        return 1
    print(f"llama-server smoke test: {text.strip()[:60]!r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
