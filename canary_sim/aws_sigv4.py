"""SigV4 verification as Bedrock does it: the simulator recomputes the signature with botocore.

A request passes only if its `Authorization` header names a known access key, is scoped to
the backend's region and the `bedrock` service, its `X-Amz-Date` is within five minutes of
the simulator's clock, and the signature over the signed headers and body matches the one
recomputed from the key pair. Failures are 403s in AWS's shape (the error type goes in
`x-amzn-ErrorType`, carried as `SimError.code`). Static keys' session tokens are signed but
not checked; temporary keys issued by the fleet's STS (`sts.StsIssuer`) need their own session
token and expire.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from botocore.credentials import ReadOnlyCredentials

from canary_sim.records import SimError
from canary_sim.sts import StsIssuer
from monitor.providers.aws_auth import sign, utc_now

MAX_SKEW = timedelta(minutes=5)
AMZ_DATE = "%Y%m%dT%H%M%SZ"
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;_.-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})"
)
INVALID_TOKEN = "The security token included in the request is invalid."
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your"
    " AWS Secret Access Key and signing method. Consult the service documentation for details."
)


def _denied(message: str, code: str = "InvalidSignatureException") -> SimError:
    return SimError(403, "permission", message, code=code)


@dataclass
class SigV4Verifier:
    """Known key pairs (access key id -> secret) and the simulator's clock."""

    keys: Mapping[str, str]
    now: Callable[[], datetime] = utc_now
    service: str = "bedrock"
    verified: int = field(default=0)
    sts: StsIssuer | None = None  # also accept the temporary keys this STS issued

    def verify(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, region: str
    ) -> None:
        """Raise `SimError` 403 unless the request is correctly signed for `region`."""
        auth = headers.get("Authorization")
        if not auth:
            raise _denied("Missing Authentication Token", "MissingAuthenticationTokenException")
        match = _AUTH.fullmatch(auth)
        if match is None:
            raise _denied(
                "Authorization header requires 'Credential', 'SignedHeaders' and "
                "'Signature' parameters.",
                "IncompleteSignatureException",
            )
        secret = self.keys.get(match["key"]) or self._session_secret(match["key"], headers)
        if secret is None:
            raise _denied(INVALID_TOKEN, "UnrecognizedClientException")
        if match["region"] != region:
            raise _denied("Credential should be scoped to a valid region. ")
        if match["service"] != self.service:
            raise _denied(f"Credential should be scoped to correct service: '{self.service}'. ")
        signed_at = self._signed_at(headers.get("X-Amz-Date", ""), match["date"])
        names = match["signed"].split(";")
        lowered = {k.lower(): v for k, v in headers.items()}
        if any(name not in lowered for name in names):
            raise _denied(MISMATCH)
        expected = sign(
            method=method,
            url=url,
            headers={
                n: lowered[n] for n in names if n not in ("x-amz-date", "x-amz-security-token")
            },
            body=body,
            credentials=ReadOnlyCredentials(
                match["key"], secret, lowered.get("x-amz-security-token")
            ),
            region=region,
            now=lambda: signed_at,
            service=self.service,
        )
        got = _AUTH.fullmatch(expected["Authorization"])
        assert got is not None
        if got["signed"] != match["signed"] or not hmac.compare_digest(
            got["signature"], match["signature"]
        ):
            raise _denied(MISMATCH)
        self.verified += 1

    def _session_secret(self, key: str, headers: Mapping[str, str]) -> str | None:
        """The secret of an STS-issued key, if the request carries its unexpired session token."""
        session = self.sts.sessions.get(key) if self.sts is not None else None
        if session is None:
            return None
        sent = headers.get("X-Amz-Security-Token", "").encode()
        if not hmac.compare_digest(sent, session.token.encode()):
            raise _denied(INVALID_TOKEN, "UnrecognizedClientException")
        if session.expires_at <= self.now().astimezone(UTC):
            raise _denied(
                "The security token included in the request is expired", "ExpiredTokenException"
            )
        return session.secret

    def _signed_at(self, amz_date: str, scope_date: str) -> datetime:
        try:
            signed_at = datetime.strptime(amz_date, AMZ_DATE).replace(tzinfo=UTC)
        except ValueError:
            raise _denied(
                "Authorization header requires existence of either a 'X-Amz-Date' or"
                " a 'Date' header.",
                "IncompleteSignatureException",
            ) from None
        if amz_date[:8] != scope_date:
            raise _denied(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601"
                " version of date from HTTP"
            )
        now = self.now().astimezone(UTC)
        if signed_at < now - MAX_SKEW:
            raise _denied(
                f"Signature expired: {amz_date} is now earlier than "
                f"{(now - MAX_SKEW).strftime(AMZ_DATE)} ({now.strftime(AMZ_DATE)} - 5 min.)"
            )
        if signed_at > now + MAX_SKEW:
            raise _denied(
                f"Signature not yet current: {amz_date} is still later than "
                f"{(now + MAX_SKEW).strftime(AMZ_DATE)} ({now.strftime(AMZ_DATE)} + 5 min.)"
            )
        return signed_at
