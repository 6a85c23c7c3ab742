"""structlog set-up: JSON lines when not on a TTY, a console renderer on one.

Libraries log through the standard `logging` module (psycopg_pool's reconnection warnings,
APScheduler's missed runs); their records go through the same renderer, so under
`--log-format json` every line on stderr is JSON. Every record, ours or a library's, passes a
redaction step that masks registered secrets (the store's password) and any password in a URL
or `password=` conninfo: psycopg echoes an unparsable DSN's tokens in its errors.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog

MASK = "********"
# Libraries below this level stay quiet, as before this handler existed (Python's last-resort
# handler showed warnings and up): psycopg_pool logs every connection it adds at info, and
# httpcore's debug traces of every request would drown the daemon's own debug lines.
LIBRARY_LEVEL = logging.WARNING
_SECRETS: set[str] = set()
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:@/\s]*:)[^\s]*@", re.IGNORECASE)
_CONNINFO_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def register_secret(secret: str | None) -> None:
    """Mask `secret` in every log line from now on (the store's password)."""
    if secret:
        _SECRETS.add(secret)


def redact_text(text: str) -> str:
    """`text` with registered secrets and URL / conninfo passwords masked."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(rf"\g<1>{MASK}@", text)
    return _CONNINFO_PASSWORD.sub(rf"\g<1>{MASK}", text)


def _redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact_text(value)
    return event


def configure_logging(level: str = "info", *, json: bool | None = None) -> None:
    """Configure structlog and the standard library's root logger once for the process;
    `json=None` picks by whether stderr is a TTY."""
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    numeric = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.format_exc_info,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _redact,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_canary", False)]:
        root.removeHandler(old)
    handler._canary = True  # type: ignore[attr-defined]  # ours, replaced on a second call
    root.addHandler(handler)
    root.setLevel(max(numeric, LIBRARY_LEVEL))


class LogThrottle:
    """One log line per condition per `interval_s` seconds, not one per event.

    A flood (wrong passwords, idle connections, `accept()` failing for want of file
    descriptors) repeats the same event thousands of times a second; each event is counted in
    a metric, and the log says once that it is happening and how often since the last line.
    """

    def __init__(self, interval_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.interval_s = interval_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def ready(self, condition: str) -> int | None:
        """None while `condition` was logged less than `interval_s` ago (the event is counted
        for the next line); otherwise how many events were left out since the last line."""
        now = self._clock()
        last = self._last.get(condition)
        if last is not None and now - last < self.interval_s:
            self._suppressed[condition] = self._suppressed.get(condition, 0) + 1
            return None
        self._last[condition] = now
        return self._suppressed.pop(condition, 0)
