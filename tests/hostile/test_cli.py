"""Hostile replies against the real processes: `canary once --debug` and the `canary run` daemon.

One target per reply class, all on one hostile server. Neither process may crash (no traceback,
the daemon exits 0 on SIGTERM after judging every target), and their output, meant for a
terminal or a log collector, never carries a raw ESC, NUL or CR from a reply (log injection),
nor the API key.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from tests.hostile.cases import CAP_BYTES, CASES, DEADLINE_S, Case
from tests.hostile.conftest import API_KEY
from tests.hostile.server import HostileServer

PICKED = (
    "valid",
    "ansi-in-text",
    "lone-surrogate",
    "nul-in-text",
    "error-on-2xx",
    "error-500-ansi",
    "html-502",
    "control-char-header",
    "truncated-json",
    "reset-mid-body",
    "huge-chunked",
    "429-retry-after-inf",
    "redirect-302",
    "silent",
)
RAW_CONTROLS = (b"\x1b", b"\x00", b"\r", b"\x07", b"\xc2\x9b")
APIS = ("openai_chat", "anthropic_messages")
PROBES = """\
suite: hostile
version: 1
probes:
  - name: capital
    reason: known answer
    prompt: Capital of France?
    expect: {answer: {exact: Paris}, finish_reason: [stop]}
"""


def picked() -> list[Case]:
    by_name = {c.name: c for c in CASES}
    return [by_name[name] for name in PICKED]


def write_config(tmp_path: Path, server: HostileServer, port: int = 0) -> Path:
    targets = "".join(
        f"  - {{platform: {api.replace('_', '-')}, pool: {case.name}, model: m, api: {api},"
        f" base_url: '{server.url(f'{case.name}-{api}')}',"
        " credentials: {api_key_env: HOSTILE_KEY}, identity_header: x-served-by}\n"
        for case in picked()
        for api in APIS
    )
    (tmp_path / "hostile.yaml").write_text(PROBES)
    path = tmp_path / "canary.yaml"
    path.write_text(
        f"server: {{listen_address: 127.0.0.1, port: {port}, drain_timeout_s: 5}}\n"
        f"store: {{url: 'sqlite:///{tmp_path / 'canary.db'}'}}\n"
        f"defaults: {{timeout_s: {DEADLINE_S}, max_response_bytes: {CAP_BYTES}}}\n"
        f"targets:\n{targets}"
        "suites:\n  - {file: hostile.yaml, interval_s: 2}\n"
    )
    return path


def routes() -> dict[str, object]:
    return {f"{c.name}-{api}": c.script(api) for c in picked() for api in APIS}


def env() -> dict[str, str]:
    return {**os.environ, "HOSTILE_KEY": API_KEY, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}


def assert_clean(output: bytes) -> None:
    for control in RAW_CONTROLS:
        assert control not in output, (control, output[max(0, output.find(control) - 200) :][:400])
    assert API_KEY.encode() not in output
    at = output.find(b"Traceback")
    assert at < 0, output[at : at + 3000].decode(errors="replace")


@pytest.mark.parametrize("flags", [["--debug"], ["--debug", "--json"]], ids=["text", "json"])
async def test_once_debug_survives_every_class(tmp_path: Path, flags: list[str]) -> None:
    """`canary once --debug` judges every hostile target, exits 1 (some fail), prints no raw
    control character and no key."""
    async with HostileServer(routes()) as server:  # type: ignore[arg-type]
        config = write_config(tmp_path, server)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "monitor.commands.cli",
            "--log-format",
            "console",
            "once",
            "--config",
            str(config),
            *flags,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env(),
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 1, err.decode(errors="replace")
    assert_clean(out + err)
    text = out.decode()
    for case in picked():
        for api in APIS:
            assert (
                f"{api.replace('_', '-')}/{case.name}/m" in text
                or f'"pool":"{case.name}"' in text.replace(" ", "")
            )
            assert case.outcome_for(api).value in text


async def test_daemon_survives_every_class(tmp_path: Path) -> None:
    """`canary run` probes every hostile target, keeps serving, logs clean lines, exits 0."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with HostileServer(routes()) as server:  # type: ignore[arg-type]
        config = write_config(tmp_path, server, port)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "monitor.commands.cli",
            "--log-format",
            "json",
            "run",
            "--config",
            str(config),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=env(),
        )
        wanted = {
            (api.replace("_", "-"), c.name): c.outcome_for(api).value
            for c in picked()
            for api in APIS
        }
        seen: dict[tuple[str, str], str] = {}
        try:
            async with (
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
                asyncio.timeout(90),
            ):
                while seen.keys() < wanted.keys():
                    try:
                        rows = (await client.get("/api/v1/results", params={"limit": 1000})).json()[
                            "data"
                        ]
                    except httpx.TransportError:
                        rows = []
                    seen.update({(r["platform"], r["pool"]): r["outcome"] for r in rows})
                    await asyncio.sleep(0.2)
                assert (await client.get("/metrics")).status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert seen == wanted
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    assert b"probe.finished" in err and b"daemon.stopped" in err
    assert_clean(err)  # no traceback either: a drained SIGTERM is not an error
    for marker in (b"pwned", b"upstream", b"nginx"):  # reply and error-body text stay out
        assert marker not in err
