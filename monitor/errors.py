"""Exception hierarchy.

    CanaryError
    ├── ConfigError              bad config or probe file; carries file:line: field: message
    ├── StoreError               the store cannot open, read or commit (monitor/store/base.py)
    └── ProviderError            one probe request failed; the runner turns it into an outcome
        ├── ProviderTimeout          no complete reply within the target's timeout
        ├── ProviderHTTPError        a non-2xx status (429 is split out below)
        │   └── ProviderRateLimited  429, or a vendor's throttling error
        └── ProviderProtocolError    a 2xx reply that is not the wire format we speak

A probe never raises into the scheduler: `runner.py` catches `ProviderError` and records the
matching `Outcome`. Messages of provider errors never become metric labels.
"""

from __future__ import annotations

from dataclasses import dataclass


class CanaryError(Exception):
    """Base of every error canary-monitor raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One validation problem, located in a source file."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ConfigError(CanaryError):
    """Config or probe files failed to load; `problems` lists every one found."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ProviderError(CanaryError):
    """A probe request did not yield a usable reply."""

    def __init__(self, message: str, *, status_code: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


class ProviderTimeout(ProviderError):
    """The endpoint did not answer within the target's timeout."""


class ProviderHTTPError(ProviderError):
    """The endpoint answered with a non-2xx status."""


class ProviderRateLimited(ProviderHTTPError):
    """The endpoint throttled us (HTTP 429 or a vendor throttling error)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: str = "",
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, body=body)
        self.retry_after_s = retry_after_s


class ProviderProtocolError(ProviderError):
    """A 2xx reply that does not follow the wire format."""
