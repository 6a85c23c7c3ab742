"""structlog set-up: JSON lines when not on a TTY, a console renderer on one."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

import structlog


def configure_logging(level: str = "info", *, json: bool | None = None) -> None:
    """Configure structlog once for the process; `json=None` picks by whether stderr is a TTY."""
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


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
