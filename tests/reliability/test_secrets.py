"""Known fake credentials for every provider kind never come out of the daemon, anywhere.

`canary run` (a real process, `--log-level debug`) probes every wire API the daemon speaks
with fake secrets: API keys (env and file) for OpenAI chat, Anthropic, OpenAI Responses and
Azure OpenAI; AWS keys and a session token for Bedrock (Converse and InvokeModel); a
service-account file for Vertex (Anthropic and Gemini), whose OAuth tokens are secrets too.
Each kind is also pointed at a hostile server that answers 401 or 500 with the credentials it
received echoed in the body. Then the daemon is killed with SIGKILL, and `canary once --debug`
(text and JSON) runs on the same config. Every byte it wrote to stdout and stderr, every API
response and /metrics, and the SQLite files are searched for every secret, and for every
12-character piece of one (an echo cut short by a length cap is a leak too).
`tests/sim/test_cloud_secrets.py` covers the cloud providers' in-process paths and DEBUG logs
of botocore and google-auth; this test adds the process boundary and the other providers.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
from aiohttp import web

from canary_sim import AnswerBook, SimBackend, SimFleet, run_fleet
from canary_sim.aws_sigv4 import SigV4Verifier
from canary_sim.google_oauth import OAuthIssuer
from tests.conftest import PROBES, ROOT
from tests.providers.fakes import AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
from tests.sim.cloud import BEDROCK_MODEL, service_account_file

KEYS = {  # env var -> a fake key in each vendor's format
    "CANARY_TEST_OPENAI_KEY": "sk-proj-CanaryFakeOpenAIKey0123456789abcdefABCDEF",
    "CANARY_TEST_ANTHROPIC_KEY": "sk-ant-api03-CanaryFakeAnthropicKey0123456789-abcdefAA",
    "CANARY_TEST_RESPONSES_KEY": "sk-proj-CanaryFakeResponsesKey9876543210fedcbaFEDCBA",
    "CANARY_TEST_AZURE_KEY": "0123456789abcdefCANARYFAKEAZUREKEY0123456789abcdef",
}
KEYED = (  # (platform, api, env var; None: read from a file)
    ("openai", "openai_chat", "CANARY_TEST_OPENAI_KEY"),
    ("anthropic", "anthropic_messages", None),
    ("openai-responses", "openai_responses", "CANARY_TEST_RESPONSES_KEY"),
    ("azure", "azure_openai_chat", "CANARY_TEST_AZURE_KEY"),
)
CLOUD = (  # (pool, api, model_id)
    ("converse", "bedrock_converse", BEDROCK_MODEL),
    ("invoke", "bedrock_invoke", BEDROCK_MODEL),
    ("claude", "vertex_anthropic", "claude-sonnet-4-5@20250929"),
    ("gemini", "vertex_gemini", "gemini-2.0-flash-001"),
)
WINDOW = 12
ECHO_KINDS = ("e200", "e401", "e500")


def echo_app() -> web.Application:
    """A hostile upstream that quotes every credential it was sent: `/e401/` and `/e500/`
    answer errors (the 401 pads its message so that the error summary's length cap falls in
    the middle of the first credential), `/e200/` a well-formed OpenAI chat completion whose
    text and `X-Echo` header carry them (other wire APIs fail to parse it: a protocol error
    whose body is kept)."""

    async def handle(request: web.Request) -> web.Response:
        sent = [
            request.headers[name]
            for name in ("x-amz-security-token", "authorization", "x-api-key", "api-key")
            if name in request.headers
        ]
        echoed = " | ".join(sent)
        if request.path.startswith("/e200/"):
            completion = {
                "id": "chatcmpl-echo",
                "object": "chat.completion",
                "created": 0,
                "model": "echo",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": f"Your key is {echoed}"},
                        "finish_reason": "stop",
                    }
                ],
            }
            return web.json_response(completion, headers={"X-Echo": echoed})
        status = 500 if request.path.startswith("/e500/") else 401
        padding = "x" * 120 if status == 401 else ""
        message = f"rejected credentials: {padding}{echoed}"
        body = {"error": {"type": "authentication_error", "message": message}, "echo": sent}
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


@asynccontextmanager
async def serve_echo() -> AsyncIterator[str]:
    runner = web.AppRunner(echo_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def target_lines(keyed: dict[str, SimFleet], cloud: SimFleet, echo: str, sa_path: str) -> str:
    """One target per provider kind on the simulator and one on the echo server."""
    lines = []
    for index, (platform, api, env) in enumerate(KEYED):
        creds = f"{{api_key_env: {env}}}" if env else "{api_key_file: anthropic.key}"
        extra = f"credentials: {creds}, keep_headers: [x-echo]"
        if api == "azure_openai_chat":
            extra += ", api_version: '2024-10-21', model_id: gpt-4o-prod"
        for pool, base in (
            ("default", keyed[api].base_url(platform, "default")),
            (f"echo{index}", f"{echo}/{ECHO_KINDS[index % 3]}/{platform}/"),
        ):
            lines.append(
                f"  - {{platform: {platform}, pool: {pool}, model: sim, api: {api},"
                f" base_url: '{base}', {extra}}}"
            )
    for index, (pool, api, model_id) in enumerate(CLOUD):
        platform = "bedrock" if api.startswith("bedrock") else "vertex"
        place = (
            "region: us-east-1"
            if platform == "bedrock"
            else f"project: sim-project, location: us-east5, credentials_file: '{sa_path}'"
        )
        for kind, base in (
            (pool, cloud.base_url(platform, pool)),
            (f"{pool}-echo", f"{echo}/{ECHO_KINDS[(index + 1) % 3]}/{platform}/{pool}/"),
        ):
            lines.append(
                f"  - {{platform: {platform}, pool: {kind}, model: sim, api: {api},"
                f" model_id: '{model_id}', base_url: '{base}', {place}}}"
            )
    return "\n".join(lines) + "\n"


def read_store(directory: Path) -> bytes:
    """The SQLite database, its WAL and shared memory: whatever a reader of the disk sees."""
    return b"".join(p.read_bytes() for p in sorted(directory.glob("canary.db*")))


def pieces(secret: str) -> set[str]:
    """The secret and every WINDOW-character piece of it."""
    return {secret} | {secret[i : i + WINDOW] for i in range(len(secret) - WINDOW + 1)}


async def canary(*args: str, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor.commands.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
        cwd=ROOT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode("utf-8", errors="replace")


async def crawl_api(client: httpx.AsyncClient, pools: int) -> list[str]:
    """Every page the daemon serves, once each of the `pools` has stored a result; the
    results are fetched one by one, so every stored transcript and error passes the API."""
    async with asyncio.timeout(60):
        while True:
            try:
                rows = (await client.get("/api/v1/results", params={"limit": 1000})).json()["data"]
            except (httpx.TransportError, ValueError, KeyError):
                rows = []
            if len({(r["platform"], r["pool"]) for r in rows}) >= pools:
                break
            await asyncio.sleep(0.1)
    pages = []
    for path in ("/", "/metrics", "/healthz", "/readyz", "/api/v1/targets", "/api/v1/results"):
        pages.append(
            (await client.get(path, params={"limit": 1000} if "results" in path else None)).text
        )
    rows = (await client.get("/api/v1/results", params={"limit": 1000})).json()["data"]
    for row in rows:
        pages.append((await client.get(f"/api/v1/results/{row['id']}")).text)
    return pages


async def test_no_secret_of_any_provider_leaks(tmp_path: Path) -> None:
    """Runs, a SIGKILL, error paths that echo credentials and `once --debug` leave no
    credential (nor a 12-character piece of one) in logs, /metrics, the API or the store."""
    (tmp_path / "anthropic.key").write_text(KEYS["CANARY_TEST_ANTHROPIC_KEY"] + "\n")
    book = AnswerBook.from_probe_dir(PROBES)
    oauth = OAuthIssuer()
    aws = SigV4Verifier({AWS_ACCESS_KEY_ID: AWS_SECRET_ACCESS_KEY})
    async with AsyncExitStack() as stack:
        keyed: dict[str, SimFleet] = {}
        for platform, api, env in KEYED:
            key = KEYS[env or "CANARY_TEST_ANTHROPIC_KEY"]
            backends = [SimBackend(platform, "default", api)]  # type: ignore[arg-type]
            keyed[api] = await stack.enter_async_context(run_fleet(backends, book, api_key=key))
        cloud_backends = [
            SimBackend(
                "vertex" if api.startswith("vertex") else "bedrock", pool, api, region="us-east-1"
            )  # type: ignore[arg-type]
            for pool, api, _ in CLOUD
        ]
        cloud = await stack.enter_async_context(
            run_fleet(cloud_backends, book, aws=aws, oauth=oauth)
        )
        echo = await stack.enter_async_context(serve_echo())
        sa_path, info = service_account_file(cloud, tmp_path / "sa.json")
        port = free_port()
        config = tmp_path / "canary.yaml"
        config.write_text(
            f"server: {{listen_address: 127.0.0.1, port: {port}, drain_timeout_s: 5}}\n"
            f"store: {{url: 'sqlite:///{tmp_path / 'canary.db'}'}}\n"
            "defaults: {timeout_s: 10}\n"
            f"targets:\n{target_lines(keyed, cloud, echo, sa_path)}"
            f"suites:\n  - {{file: '{PROBES / 'core.yaml'}', interval_s: 1}}\n"
        )
        env = {
            **os.environ,
            **KEYS,
            "PYTHONUNBUFFERED": "1",
            "AWS_ACCESS_KEY_ID": AWS_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": AWS_SECRET_ACCESS_KEY,
            "AWS_SESSION_TOKEN": AWS_SESSION_TOKEN,
            "AWS_CONFIG_FILE": str(tmp_path / "absent"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "absent"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
        daemon = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "monitor.commands.cli",
            "--log-level",
            "debug",
            "run",
            "--config",
            str(config),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                pages = await crawl_api(client, pools=2 * (len(KEYED) + len(CLOUD)))
        finally:
            daemon.send_signal(signal.SIGKILL)
            run_output, _ = await daemon.communicate()
        once_code, once_text = await canary("once", "--config", str(config), "--debug", env=env)
        _, once_json = await canary("once", "--config", str(config), "--debug", "--json", env=env)
        tokens = list(oauth.tokens)
    stored = read_store(tmp_path)
    haystacks = {
        "canary run output": run_output.decode("utf-8", errors="replace"),
        "API responses and /metrics": "\n".join(pages),
        "canary once --debug": once_text,
        "canary once --debug --json": once_json,
        "SQLite store": stored.decode("utf-8", errors="replace"),
    }
    # The runs really happened: every kind passed on the simulator and failed on the echo.
    results = [json.loads(line) for line in once_json.splitlines() if line.startswith("{")]
    by_target = {(r["platform"], r["pool"], r["outcome"]) for r in results}
    assert once_code == 1
    for platform, _, _ in KEYED:
        assert (platform, "default", "passed") in by_target, sorted(by_target)
    for pool, api, _ in CLOUD:
        platform = "bedrock" if api.startswith("bedrock") else "vertex"
        assert (platform, pool, "passed") in by_target, sorted(by_target)
        assert any(t[:2] == (platform, f"{pool}-echo") for t in by_target), sorted(by_target)
    assert "rejected credentials" in haystacks["SQLite store"]
    assert "Your key is" in haystacks["SQLite store"]
    assert "HTTP 401" in once_text and "HTTP 500" in once_text
    assert ("openai", "echo0", "passed") in by_target or ("openai", "echo0", "failed") in by_target
    assert tokens, "the Vertex targets never fetched an OAuth token"
    key_lines = info["private_key"].splitlines()[1:-1]
    secrets = [
        *KEYS.values(),
        AWS_SECRET_ACCESS_KEY,
        AWS_SESSION_TOKEN,
        info["private_key_id"],
        *key_lines,
        *tokens,
    ]
    found = {
        where: sorted({s[:6] + "…" for s in secrets for piece in pieces(s) if piece in text})
        for where, text in haystacks.items()
    }
    assert found == {where: [] for where in haystacks}, "secrets leaked"
