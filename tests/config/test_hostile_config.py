"""A careless or hostile operator's files: special files, secrets that cannot be headers, and
memory that must stay flat however often the config is loaded."""

from __future__ import annotations

import asyncio
import os
import tracemalloc
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.errors import ConfigError

TESTDATA = Path(__file__).parent / "testdata"
KEY = "sk-operator-0123456789abcdef"


def write(tmp_path: Path, credentials: str = "", store: str = "") -> Path:
    (tmp_path / "p.yaml").write_text((TESTDATA / "probes-ok.yaml").read_text())
    path = tmp_path / "c.yaml"
    path.write_text(
        store
        + "targets:\n  - {platform: a, model: m, api: openai_chat, base_url: 'http://h/'"
        + (f", credentials: {{{credentials}}}" if credentials else "")
        + "}\nsuites: [{file: p.yaml}]\n"
    )
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("value", "what"),
    [
        (KEY + "\n", "U+000A"),
        (KEY + "\r\n", "U+000D"),
        ("sk-a\x01b-0123456", "U+0001"),
        (" " + KEY, "leading or trailing white space"),
    ],
    ids=["lf", "crlf", "control", "space"],
)
def test_key_from_environment_that_cannot_be_a_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, what: str
) -> None:
    """A key with CR, LF, a control character or outer white space is refused at load, naming the variable
    and never the value (it reached the store whole as an httpx error before)."""
    monkeypatch.setenv("CANARY_T_KEY", value)
    path = write(tmp_path, "api_key_env: CANARY_T_KEY")
    [message] = problems(path)
    assert message.startswith(
        f"{path}:2: targets[0].credentials: environment variable CANARY_T_KEY cannot be sent"
        f" in an HTTP header: it holds {what}"
    )
    assert "operator-0123" not in message


def test_key_file_with_inner_newline_is_refused(tmp_path: Path) -> None:
    """A key file is stripped of its final newline (as `echo` writes it), but a line break
    inside the key is refused, naming the file."""
    (tmp_path / "key").write_text(KEY + "\n")
    assert load_config(write(tmp_path, "api_key_file: key")).config.targets[0].api_key
    (tmp_path / "key").write_text("sk-one\nsk-two-0123456789\n")
    [message] = problems(write(tmp_path, "api_key_file: key"))
    assert (
        f"the key in {tmp_path / 'key'} cannot be sent in an HTTP header: it holds U+000A"
        in message
    )
    assert "sk-two" not in message


@pytest.mark.parametrize("field", ["api_key_file", "url_file"])
def test_special_files_are_refused_at_once(tmp_path: Path, field: str) -> None:
    """`/dev/zero` (no end), a fifo (no writer: it would block the load, and a reload with it)
    and a file past the size cap are each a clear error, not a MemoryError or a hang."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "big").write_bytes(b"k" * (64 * 1024 + 1))
    for source, reason in (
        ("/dev/zero", "cannot read /dev/zero: not a regular file"),
        (str(fifo), f"cannot read {fifo}: not a regular file"),
        (str(tmp_path / "big"), f"cannot read {tmp_path / 'big'}: larger than 65536 bytes"),
    ):
        if field == "api_key_file":
            path = write(tmp_path, f"api_key_file: '{source}'")
        else:
            path = write(tmp_path, store=f"store: {{url_file: '{source}'}}\n")
        [message] = problems(path)
        assert reason in message, message


async def test_a_fifo_never_blocks_the_loader(tmp_path: Path) -> None:
    """Loading a config whose key file is a fifo returns (with its error) without a writer."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    path = write(tmp_path, f"api_key_file: '{fifo}'")
    with pytest.raises(ConfigError):
        await asyncio.wait_for(asyncio.to_thread(load_config, path), timeout=30)


def test_url_file_that_is_not_utf8(tmp_path: Path) -> None:
    """A store URL file of binary junk is a located error, not a traceback."""
    (tmp_path / "dsn").write_bytes(b"\xff\xfepostgresql://u:p@h/db")
    [message] = problems(write(tmp_path, store="store: {url_file: dsn}\n"))
    assert message.endswith(
        f"store.url_file: cannot read {tmp_path / 'dsn'}: not valid UTF-8 text (`canary validate --no-secrets` checks the rest without it)"
    )


def test_config_file_that_is_a_device(tmp_path: Path) -> None:
    """`canary validate /dev/zero` is one line, not an endless read."""
    [message] = problems(Path("/dev/zero"))
    assert message == "/dev/zero: cannot read file: not a regular file"


def test_loading_again_and_again_keeps_no_memory(tmp_path: Path) -> None:
    """Each load frees what it allocated: a module-level YAML constructor kept every node of
    every file (about 100 KB a load, 650 MB after 5,000 reloads)."""
    path = write(tmp_path)
    for _ in range(20):  # warm caches (regexes, validators) first
        load_config(path)
    tracemalloc.start()
    try:
        for _ in range(100):
            load_config(path)
        first, _ = tracemalloc.get_traced_memory()
        for _ in range(300):
            load_config(path)
        second, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (second - first) / 300 < 2_000, f"{(second - first) / 300:.0f} bytes a load"


async def test_a_header_httpx_refuses_is_never_quoted() -> None:
    """Should a key with a line break reach the wire after all (a Target built in code, not
    loaded), httpx's `Illegal header value b'Bearer sk-...'` is kept by its type only: its
    text would put the key in the store, the API and `canary once`."""
    from pydantic import SecretStr

    from monitor.config import Target
    from monitor.errors import ProviderError
    from monitor.providers import send
    from monitor.providers.http import build_client
    from monitor.types import Message, ProbeRequest

    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    target = Target(
        platform="p", model="m", api="openai_chat", base_url=f"http://127.0.0.1:{port}/"
    )
    target = target.model_copy(update={"api_key": SecretStr(KEY + "\n")})
    request = ProbeRequest(messages=(Message("user", "hi"),), max_tokens=8, temperature=0.0)
    async with server, build_client(target) as client:
        with pytest.raises(ProviderError) as caught:
            await send(client, target, request)
    assert str(caught.value) == "transport error: LocalProtocolError"
