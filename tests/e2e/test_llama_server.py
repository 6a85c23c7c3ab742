"""The daemon end to end against a real model server: llama.cpp's llama-server with SmolLM2-135M.

Both of its wire APIs are probed (OpenAI chat completions with logprobs, and Anthropic
Messages), through `canary once` and a short `canary run`; then the same probes go to a
deliberately misconfigured server (long-context RoPE scaling on a short-context model, the
misrouted pool of the incident) and the checks and scores that must move, move.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.llama import MODEL_ALIAS, LlamaServer, free_port, llama_server

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def write_config(
    tmp_path: Path,
    server: LlamaServer,
    suites: list[str],
    *,
    port: int = 0,
    interval_s: int = 30,
    stream: bool = False,
) -> Path:
    suite_lines = "".join(
        f"  - {{file: '{ROOT / 'probes' / s}', interval_s: {interval_s}, stream: {str(stream).lower()}}}\n"
        for s in suites
    )
    path = tmp_path / ("llama-stream.yaml" if stream else "llama.yaml")
    path.write_text(
        f"server: {{listen_address: 127.0.0.1, port: {port}, drain_timeout_s: 60}}\n"
        f"store: {{url: 'sqlite:///{tmp_path / 'canary.db'}'}}\n"
        "defaults: {timeout_s: 120, concurrency: 1}\n"
        "targets:\n"
        f"  - {{platform: llamacpp, pool: openai, model: {MODEL_ALIAS}, api: openai_chat, base_url: '{server.base_url}'}}\n"
        f"  - {{platform: llamacpp, pool: anthropic, model: {MODEL_ALIAS}, api: anthropic_messages, base_url: '{server.base_url}'}}\n"
        f"suites:\n{suite_lines}"
    )
    return path


async def canary(*args: str, timeout_s: float = 600) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor.commands.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def records(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


async def test_once_on_both_wire_apis(tmp_path: Path) -> None:
    """Every probe gets a real reply on both APIs (no transport or protocol errors); greedy
    replies with logprobs always choose the top-1 token; the reply carries the backend identity."""
    async with llama_server() as server:
        config = write_config(tmp_path, server, ["top-token.yaml"])
        _, out, err = await canary("once", "--config", str(config), "--json", "--debug")
    everything = records(out)
    results = [r for r in everything if r["outcome"] != "skipped"]
    skipped = [r for r in everything if r["outcome"] == "skipped"]
    # Anthropic Messages has no logprobs: its top-token probes are skipped with that reason.
    assert len(results) == 8 and len(skipped) == 8, err
    assert {(r["target"].split("/")[1], r["capability"]) for r in skipped} == {
        ("anthropic", "logprobs")
    }
    assert {r["outcome"] for r in results} <= {"passed", "failed"}, [
        r.get("error") for r in results
    ]
    by_pool: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        by_pool.setdefault(result["pool"], []).append(result)
    openai_checks = [
        c for r in by_pool["openai"] for c in r["checks"] if c["detector"] == "top_token"
    ]
    # The tiny model's answers may be wrong, but greedy decoding always picks the top-1 token.
    assert len(openai_checks) == 8
    assert all(c["evidence"]["greedy_violation"] is None for c in openai_checks), openai_checks
    assert "anthropic" not in by_pool
    assert all(r["reply"]["system_fingerprint"] for r in by_pool["openai"])
    assert all(r["reply"]["text"].strip() for r in results)


async def test_streamed_replies_equal_plain_ones(tmp_path: Path) -> None:
    """The streaming path (SSE on both wire APIs) assembles the same greedy text as the plain
    path, passes the same checks, and measures time to first token and output rate."""
    async with llama_server() as server:
        plain_config = write_config(tmp_path, server, ["core.yaml"])
        stream_config = write_config(tmp_path, server, ["core.yaml"], stream=True)
        _, plain_out, err = await canary("once", "--config", str(plain_config), "--json", "--debug")
        _, stream_out, err2 = await canary(
            "once", "--config", str(stream_config), "--json", "--debug"
        )
    plain = {(r["pool"], r["probe"]): r for r in records(plain_out)}
    streamed = {(r["pool"], r["probe"]): r for r in records(stream_out)}
    assert plain and plain.keys() == streamed.keys(), err + err2
    for key, result in streamed.items():
        assert result["request"]["stream"] is True
        assert result["outcome"] in ("passed", "failed"), result.get("error")
        reply = result["reply"]
        assert reply["text"] == plain[key]["reply"]["text"], key
        assert reply["time_to_first_token_s"] is not None
        assert 0 < reply["time_to_first_token_s"] <= reply["latency_s"]
        assert result["outcome"] == plain[key]["outcome"], key
        assert plain[key]["reply"]["time_to_first_token_s"] is None


async def test_run_stores_transcripts_and_exports_metrics(tmp_path: Path) -> None:
    """A short `canary run` stores full transcripts, serves lint-clean metrics and drains on SIGTERM."""
    port = free_port()
    async with llama_server() as server:
        config = write_config(tmp_path, server, ["core.yaml"], port=port, interval_s=5)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "monitor.commands.cli",
            "--log-level",
            "warning",
            "run",
            "--config",
            str(config),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with (
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
                asyncio.timeout(300),
            ):
                rows: list[dict[str, Any]] = []
                while {r["pool"] for r in rows} != {"openai", "anthropic"} or len(rows) < 14:
                    await asyncio.sleep(0.5)
                    try:
                        rows = (await client.get("/api/v1/results", params={"limit": 1000})).json()[
                            "data"
                        ]
                    except httpx.TransportError:
                        rows = []
                record = (await client.get(f"/api/v1/results/{rows[0]['id']}")).json()["data"]
                metrics = (await client.get("/metrics")).text
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 120)
    assert proc.returncode == 0
    assert {r["outcome"] for r in rows} <= {"passed", "failed"}
    assert record["request"]["messages"] and record["reply"]["raw_body"]
    for pool in ("openai", "anthropic"):
        sample = f'canary_probe_runs_total{{model="{MODEL_ALIAS}",outcome="passed",platform="llamacpp",pool="{pool}",suite="core"}}'
        assert sample in metrics
    if shutil.which("promtool"):
        lint = await asyncio.to_thread(
            subprocess.run,
            ["promtool", "check", "metrics"],
            input=metrics,
            capture_output=True,
            text=True,
            check=False,
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr


#: A long-context serving configuration (linear RoPE scaling) applied to a short-context model:
#: the misrouting incident's degraded pool, reproduced on a real server.
LONG_CONTEXT_MISCONFIG = ["--rope-scaling", "linear", "--rope-scale", "3"]


async def test_misconfigured_pool_moves_the_checks(tmp_path: Path) -> None:
    """The same greedy suites on a server misconfigured like a long-context pool lose correct
    answers and quality score that the correctly configured server keeps."""

    async def measure(extra: list[str]) -> tuple[int, float]:
        async with llama_server(extra) as server:
            config = write_config(tmp_path, server, ["top-token.yaml", "core.yaml"])
            _, out, _ = await canary(
                "once",
                "--config",
                str(config),
                "--json",
                "--debug",
                "--target",
                f"llamacpp/openai/{MODEL_ALIAS}",
            )
        results = records(out)
        assert len(results) == 15
        references = {
            (s, p["name"]): str(p["reference"]).strip()
            for s in ("top-token", "core")
            for p in yaml.safe_load((ROOT / "probes" / f"{s}.yaml").read_text())["probes"]
        }
        correct = sum(
            references[(r["suite"], r["probe"])].casefold() in r["reply"]["text"].casefold()
            for r in results
            if len(references[(r["suite"], r["probe"])]) < 12
        )
        scores = [c["score"] for r in results for c in r["checks"]]
        return correct, sum(scores) / len(scores)

    clean_correct, clean_score = await measure([])
    broken_correct, broken_score = await measure(LONG_CONTEXT_MISCONFIG)
    assert clean_correct >= 5, clean_correct  # the 135M model gets most short answers right
    assert broken_correct < clean_correct and broken_score < clean_score, (
        clean_correct,
        broken_correct,
        clean_score,
        broken_score,
    )


def test_require_flag_is_honoured() -> None:
    """CI sets CANARY_REQUIRE_LLAMA=1 so that a missing server fails instead of skipping."""
    if os.environ.get("CI") == "true":
        assert os.environ.get("CANARY_REQUIRE_LLAMA") == "1"
