"""Reading the small files an operator points the daemon at: configs, keys, URLs, tokens.

Each is read as a regular file of bounded size, never as whatever the path happens to be:
`api_key_file: /dev/zero` ran out of memory, a fifo blocked a reload forever (and held the
reload lock), and a file of binary junk was a traceback. Symlinks are followed (Kubernetes
mounts Secrets through them); the file itself must be regular.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_SECRET_BYTES = 64 * 1024  # an API key, a DSN, a token list, a service-account JSON
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024  # a config, probe or web config file (largest shipped: 40 KB)


class FileProblem(ValueError):
    """A file that cannot be used; the message is fit for the user and never holds content."""


def read_bytes(path: Path, *, max_bytes: int) -> bytes:
    """The content of the regular file at `path`, at most `max_bytes`, or FileProblem."""
    try:
        # O_NONBLOCK: opening a fifo with no writer returns at once instead of waiting.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise FileProblem(f"cannot read {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileProblem(f"cannot read {path}: not a regular file")
        if info.st_size > max_bytes:
            raise FileProblem(f"cannot read {path}: larger than {max_bytes} bytes")
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(max_bytes + 1)
    except OSError as exc:
        raise FileProblem(f"cannot read {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # grew while we read it
        raise FileProblem(f"cannot read {path}: larger than {max_bytes} bytes")
    return data


def read_text(path: Path, *, max_bytes: int) -> str:
    """`read_bytes` decoded as UTF-8 (a BOM is dropped), or FileProblem."""
    try:
        return read_bytes(path, max_bytes=max_bytes).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileProblem(f"cannot read {path}: not valid UTF-8 text") from None
