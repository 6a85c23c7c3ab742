"""The `canary` command line, run as a real subprocess against the simulated fleet."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import httpx

from canary_sim import Fault, SimFleet
from tests.conftest import ROOT, WriteConfig

TESTDATA = ROOT / "tests" / "config" / "testdata"


async def canary(
    *args: str, stdin: str | None = None, timeout_s: float = 60
) -> tuple[int, str, str]:
    """Run `canary ARGS` without blocking the loop that serves the simulated fleet."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor.commands.cli",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(
        proc.communicate(stdin.encode() if stdin else None), timeout_s
    )
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_validate_exit_codes() -> None:
    """`validate` exits 0 on good files and 1 with file:line: field: message on a bad one."""
    code, out, _ = await canary("validate", str(TESTDATA / "probes-ok.yaml"))
    assert code == 0 and "valid" in out
    code, out, _ = await canary("validate", str(TESTDATA / "invalid-timeout.yaml"))
    assert code == 1 and out.strip().endswith(
        "invalid-timeout.yaml:6: targets[0].timeout_s: must be > 0"
    )


async def test_validate_notes_skipped_probes(write_config: WriteConfig) -> None:
    """A valid config whose top-token suite goes to an API without logprobs exits 0 and says
    which probes that target will skip, and why."""
    path = write_config()
    top_token = ROOT / "probes" / "top-token.yaml"
    path.write_text(path.read_text() + f"  - {{file: '{top_token}', interval_s: 30}}\n")
    code, out, _ = await canary("validate", str(path))
    notes = [line for line in out.splitlines() if ": note: " in line]
    assert code == 0 and out.strip().endswith("1 file(s) valid")
    assert len(notes) == 8 and all("anthropic-api/default/sim skips top-token/" in n for n in notes)
    assert notes[0].endswith(": anthropic_messages has no logprobs")


async def test_once_passes_on_clean_fleet(write_config: WriteConfig) -> None:
    """`once` runs every probe of every target once and exits 0 when all pass."""
    code, out, err = await canary("once", "--config", str(write_config()))
    assert code == 0, out + err
    assert "14/14 probes passed" in out


async def test_once_debug_shows_transcript_checks_and_metrics(
    write_config: WriteConfig, fleet: SimFleet
) -> None:
    """`once --debug` prints request, reply, each check's evidence and the metrics; exit 1 on failure."""
    fleet.set_fault("vllm-prod", "long-context", Fault("top_token_drop", rate=1.0))
    code, out, _ = await canary(
        "once",
        "--config",
        str(write_config()),
        "--target",
        "vllm-prod/long-context/sim",
        "--suite",
        "core",
        "--debug",
    )
    assert code == 1
    for needle in (
        "--- request",
        "--- reply",
        "--- check known_answer",
        '"passed": false',
        "canary_check_failures_total{",
    ):
        assert needle in out
    assert "anthropic-api" not in out


async def test_once_json_lines(write_config: WriteConfig) -> None:
    """`once --json` prints one JSON result a line with outcome and checks."""
    code, out, _ = await canary(
        "once", "--config", str(write_config()), "--json", "--target", "anthropic-api/default/sim"
    )
    records = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert code == 0 and len(records) == 7
    assert {r["outcome"] for r in records} == {"passed"} and all("checks" in r for r in records)


async def test_detect_jsonl_round_trip() -> None:
    """`detect` answers each JSONL line in order and reports bad lines without stopping."""
    lines = "\n".join(
        [
            json.dumps({"id": "r1", "text": "Lyon", "expect": {"answer": {"exact": "Paris"}}}),
            "{broken",
            json.dumps({"id": "r2", "text": "Paris.", "expect": {"answer": {"exact": "Paris"}}}),
        ]
    )
    code, out, _ = await canary("detect", stdin=lines)
    first, bad, second = (json.loads(line) for line in out.splitlines())
    assert code == 1
    assert first["id"] == "r1" and first["checks"][0]["passed"] is False
    assert bad["line"] == 2 and "error" in bad
    assert second["checks"][0] == {
        **second["checks"][0],
        "detector": "known_answer",
        "passed": True,
    }


async def test_detect_unknown_detector_is_a_usage_error() -> None:
    """An unknown `--detectors` name exits 2 and lists the known ones."""
    code, _, err = await canary("detect", "--detectors", "nope", stdin="")
    assert code == 2 and "known_answer" in err


async def test_sigterm_drains_and_exits_zero(write_config: WriteConfig) -> None:
    """SIGTERM stops the daemon cleanly with exit status 0."""
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor.commands.cli",
        "run",
        "--config",
        str(write_config(port=port)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    async with httpx.AsyncClient() as client, asyncio.timeout(30):
        while True:
            try:
                if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    assert b"daemon.stopped" in err


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_every_printing_command_exits_quietly_when_its_reader_left(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    """`canary ... | head -1`: stdout is a pipe whose reader is gone before the first line; each
    printing command exits 0 without a traceback, `once --json` and `calibrate` included."""
    replies = tmp_path / "replies.jsonl"
    line = {"id": "r1", "text": "Lyon", "expect": {"answer": {"exact": "Paris"}}}
    replies.write_text(json.dumps(line) + "\n")
    commands = [
        ("once", "--config", str(write_config()), "--json"),
        ("calibrate", "--p0", "0.01", "--p1", "0.1", "--arl0-probes", "1000", "--json"),
        ("validate", str(TESTDATA / "probes-ok.yaml")),
        ("detect",),
    ]
    for args in commands:
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader has left before anything was written
        with replies.open("rb") as stdin:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "monitor.commands.cli",
                *args,
                stdin=stdin,
                stdout=write_end,
                stderr=asyncio.subprocess.PIPE,
            )
        os.close(write_end)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert (args[0], proc.returncode, err.decode()) == (args[0], 0, "")
