"""A full disk or a read-only store: the daemon keeps probing, counts the failed writes, says
so on /readyz, and never crash-loops; once the store takes writes again, it recovers alone."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from monitor.daemon import Daemon
from monitor.store.sqlite import SQLiteStore
from tests.conftest import ROOT, WriteConfig

WRITE_ERRORS = ("canary_store_errors_total", {"operation": "write"})


def sample(daemon: Daemon, name: str, labels: dict[str, str] | None = None) -> float:
    return daemon.registry.get_sample_value(name, labels or {}) or 0.0


def runs(daemon: Daemon) -> float:
    """Probe runs finished so far, every series and outcome."""
    return sum(
        s.value
        for metric in daemon.registry.collect()
        if metric.name == "canary_probe_runs"
        for s in metric.samples
        if s.name == "canary_probe_runs_total"
    )


def cap_pages(store: SQLiteStore, pages: int | None) -> None:
    """Cap the database file at its current size (a full disk as SQLite sees it: every write
    that needs a new page fails with SQLITE_FULL), or lift the cap (`pages=None`)."""

    def apply(conn: sqlite3.Connection) -> None:
        size = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages or size}").fetchone()

    store._call(apply)


async def until(condition: object, timeout_s: float = 60) -> None:
    """Wait (not a timing assertion) until `condition()` is true."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.05)


async def test_full_store_keeps_probing_and_recovers(write_config: WriteConfig) -> None:
    """With every store write failing with SQLITE_FULL, probes keep running, each failed
    write is counted, /readyz stays 200 but says "degraded"; lifting the cap clears it."""
    daemon = Daemon(write_config())
    await daemon.start()
    try:
        assert isinstance(daemon.store, SQLiteStore)
        await until(lambda: sample(daemon, *WRITE_ERRORS) == 0 and runs(daemon) >= 14)
        await asyncio.to_thread(cap_pages, daemon.store, 1)  # below the size: capped at it
        stored = await daemon.store.count()
        errors, before = sample(daemon, *WRITE_ERRORS), runs(daemon)
        await until(lambda: sample(daemon, *WRITE_ERRORS) >= errors + 20)
        assert runs(daemon) >= before + 20  # probing went on meanwhile
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.server_port}") as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and "degraded: store writes failing" in ready.text
            metrics = (await client.get("/metrics")).text
            assert 'canary_store_errors_total{operation="write"}' in metrics
            # A few writes fit in pages freed before the cap; then nothing more is stored.
            assert await daemon.store.count() < stored + 14
            await asyncio.to_thread(cap_pages, daemon.store, 1 << 30)
            count = await daemon.store.count()
            await until(lambda: not daemon.runner.store_write_failing)  # type: ignore[union-attr]
            assert await daemon.store.count() > count
            assert (await client.get("/readyz")).text == "ready: ok\n"
    finally:
        await daemon.stop()


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True, check=False).returncode == 0


@contextlib.contextmanager
def read_only_store(tmp_path: Path) -> Iterator[Path]:
    """A store directory holding a good database, bind-mounted read-only: a real EROFS for
    root too (chmod does not stop root). Skips where mounting is not permitted."""
    source, view = tmp_path / "rw", tmp_path / "ro"
    source.mkdir()
    view.mkdir()
    store = SQLiteStore(source / "canary.db", retention_passed_days=1, retention_failed_days=1)
    store._call(lambda conn: None)  # opened: schema created, WAL mode set
    store._close()
    if shutil.which("mount") is None or not _mount("--bind", str(source), str(view)):
        pytest.skip("cannot bind-mount here (needs root and CAP_SYS_ADMIN)")
    try:
        if not _mount("-o", "remount,bind,ro", str(view)):
            pytest.skip("cannot remount read-only here")
        yield view
    finally:
        subprocess.run(["umount", str(view)], check=False)


@contextlib.contextmanager
def full_disk_store(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs already filled to the last byte: SQLite gets a real ENOSPC."""
    view = tmp_path / "full"
    view.mkdir()
    if shutil.which("mount") is None or not _mount(
        "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(view)
    ):
        pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
    try:
        with contextlib.suppress(OSError), (view / "filler").open("wb") as filler:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        yield view
    finally:
        subprocess.run(["umount", str(view)], check=False)


@pytest.mark.parametrize("broken", [read_only_store, full_disk_store], ids=["read-only", "full"])
async def test_daemon_process_survives_an_unwritable_store(
    broken: object, tmp_path: Path, write_config: WriteConfig
) -> None:
    """`canary run` on a read-only or full volume starts, probes, reports the failed writes in
    /metrics and /readyz, stays up (no crash loop), and exits 0 on SIGTERM."""
    with broken(tmp_path) as directory:  # type: ignore[operator]
        config = write_config(port=(port := _free_port()))
        text = config.read_text().replace(str(tmp_path / "canary.db"), str(directory / "canary.db"))
        config.write_text(text)
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
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            await _watch_degraded(port)
            assert proc.returncode is None, "the daemon exited"
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, err.decode()[-2000:]
        assert b"store.write_failed" in err and b"daemon.stopped" in err


def metric_sum(text: str, prefix: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(prefix) and " " in line
    )


async def _watch_degraded(port: int) -> None:
    """Until /readyz says degraded and /metrics shows failed writes beside passed probes."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        async with asyncio.timeout(60):
            while True:
                with contextlib.suppress(httpx.TransportError):
                    ready = await client.get("/readyz")
                    metrics = (await client.get("/metrics")).text
                    errors = metric_sum(metrics, 'canary_store_errors_total{operation="write"}')
                    passed = sum(
                        float(line.rsplit(" ", 1)[1])
                        for line in metrics.splitlines()
                        if line.startswith("canary_probe_runs_total{")
                        and 'outcome="passed"' in line
                    )
                    if "degraded" in ready.text and errors >= 14 and passed >= 14:
                        assert ready.status_code == 200
                        return
                await asyncio.sleep(0.1)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
