"""A throwaway PostgreSQL server for the tests: Debian's binaries, a temp dir, a loopback port.

PostgreSQL refuses to run as root, so as root the cluster is created and run as the `postgres`
user. fsync and synchronous_commit stay on: durability is what the store tests check. Clients
connect over TCP with a password (scram-sha-256), as in production, so the DSN carries a secret
the tests can look for in logs and errors.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

REQUIRE_ENV = "CANARY_REQUIRE_POSTGRES"


def find_pg_bin() -> Path | None:
    """The newest installed PostgreSQL `bin` directory, or None."""
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class PgServer:
    """A running server: `dsn` connects to database `postgres` as the superuser."""

    host: str
    port: int
    user: str
    password: str
    data_dir: Path
    start_command: tuple[str, ...] = ()  # pg_ctl start with this server's options
    stop_command: tuple[str, ...] = ()  # pg_ctl stop -m fast

    def stop(self) -> None:
        """Stop the server (fast shutdown: every client connection is terminated)."""
        subprocess.run(self.stop_command, check=True, capture_output=True)

    def start(self) -> None:
        """Start it again on the same port and data; returns once it accepts connections."""
        subprocess.run(self.start_command, check=True, capture_output=True)

    @property
    def dsn(self) -> str:
        return self.dsn_for("postgres")

    def dsn_for(self, dbname: str) -> str:
        secret = quote(self.password, safe="")
        return f"postgresql://{self.user}:{secret}@{self.host}:{self.port}/{dbname}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its DSN."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn_for(name)


@contextlib.contextmanager
def running_postgres(*, settings: tuple[str, ...] = ()) -> Iterator[PgServer]:
    """Start a server in a temp dir (`settings`: extra `name=value` server settings); stop it
    and delete everything on exit."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise FileNotFoundError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
    as_root = os.geteuid() == 0
    user = ["runuser", "-u", "postgres", "--"] if as_root else []
    base = Path(tempfile.mkdtemp(prefix="canary-pg-"))
    data, sockets = base / "data", base / "sock"
    password = secrets.token_urlsafe(16) + "/:@"  # characters a DSN must escape
    port = free_port()
    try:
        sockets.mkdir()
        pwfile = base / "pw"
        pwfile.write_text(password + "\n")
        if as_root:
            for path in (base, sockets, pwfile):
                shutil.chown(path, "postgres", "postgres")
        subprocess.run(
            [
                *user,
                str(pg_bin / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
                "--no-sync",  # the cluster's own initial files; fsync=on applies at run time
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
        )
        options = (
            f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=on"
            " -c synchronous_commit=on -c max_connections=200"
        ) + "".join(f" -c {setting}" for setting in settings)
        start_args = ("-l", str(base / "log"), "-w", "-t", "60", "start")
        start = (*user, str(pg_bin / "pg_ctl"), "-D", str(data), "-o", options, *start_args)
        stop = (*user, str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        subprocess.run(start, check=True, capture_output=True)
        try:
            yield PgServer("127.0.0.1", port, "postgres", password, data, start, stop)
        finally:
            subprocess.run(stop, check=False, capture_output=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
