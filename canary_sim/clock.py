"""The simulator's clock: timezone-aware UTC, the default `now` of every issuer and verifier.

Its own, not the daemon's: tests inject a fake `now` into `SigV4Verifier`, `StsIssuer` and
`OAuthIssuer` to move the simulator's clock (skew, expiry) without touching the daemon's.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current time in UTC, timezone-aware."""
    return datetime.now(UTC)
