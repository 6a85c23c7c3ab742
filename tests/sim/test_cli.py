"""`python -m canary_sim`: argument parsing and a real start-and-stop."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from canary_sim import SimBackend
from canary_sim.__main__ import main, parser

from .conftest import PROBES


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            "vllm-prod/long-context/openai_chat",
            SimBackend("vllm-prod", "long-context", "openai_chat"),
        ),
        (
            "bedrock/us-east-1/anthropic_messages/a,b",
            SimBackend("bedrock", "us-east-1", "anthropic_messages", ("a", "b")),
        ),
    ],
)
def test_backend_specs(spec: str, expected: SimBackend) -> None:
    """`--backend platform/pool/api[/models]` becomes a SimBackend."""
    assert SimBackend.parse(spec) == expected


@pytest.mark.parametrize(
    "spec", ["vllm-prod/openai_chat", "a/b/grpc", "/b/openai_chat", "a/b/c/d/e"]
)
def test_bad_backend_specs(spec: str) -> None:
    """Malformed specs are rejected with the expected form in the message."""
    with pytest.raises(ValueError, match="platform/pool/"):
        SimBackend.parse(spec)


def test_bad_fault_flag_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A `--fault` that is not a valid fault stops before serving, exit code 2."""
    assert main(["--fault", '{"platform": "a", "pool": "b", "kind": "meteor"}']) == 2
    assert "--fault" in capsys.readouterr().err


def test_parser_defaults() -> None:
    """Defaults: loopback, port 8090, seed 0, no key."""
    args = parser().parse_args([])
    assert (args.host, args.port, args.seed, args.api_key) == ("127.0.0.1", 8090, 0, None)


def test_serves_until_sigterm() -> None:
    """The module serves the given pools with answers from the probes, and exits 0 on SIGTERM."""
    cmd = [
        sys.executable,
        "-m",
        "canary_sim",
        "--port",
        "0",
        "--probes",
        str(PROBES),
        "--backend",
        "vllm-prod/default/openai_chat",
        "--fault",
        '{"platform": "vllm-prod", "pool": "default", "kind": "sycophancy"}',
    ]
    with subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    ) as proc:
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline() for _ in range(3)]
            assert "known answers" in lines[0], lines
            url = lines[1].split()[-1]
            prompt = "What is the capital of France? Answer in one word."
            body = {"model": "m", "messages": [{"role": "user", "content": prompt}]}
            reply = httpx.post(url + "v1/chat/completions", json=body, timeout=10)
            assert reply.json()["choices"][0]["message"]["content"].endswith("question! Paris")
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
