"""SigV4 verification as Bedrock does it, written from the AWS Signature Version 4 specification.

The simulator does not share the daemon's signer (botocore's `SigV4Auth`): it recomputes the
signature here with `hashlib` and `hmac`, so a signing bug in the daemon shows up as a 403
instead of being reproduced on both sides. The steps are the specification's ("Create a signed
AWS API request", AWS General Reference):

1. canonical request: method, canonical URI (dot segments and empty segments removed, then
   URI-encoded once more, as every service but S3 expects), canonical query string (pairs
   URI-encoded and sorted), canonical headers (lower-case names, trimmed values, sorted), the
   signed header names, and the payload hash (hex SHA-256 of the body; an
   `x-amz-content-sha256` header, which the daemon does not send, must equal it);
2. string to sign: `AWS4-HMAC-SHA256`, the `X-Amz-Date` timestamp, the credential scope
   (`date/region/service/aws4_request`) and the hex SHA-256 of the canonical request;
3. signing key: HMAC-SHA256 chained over `"AWS4" + secret`, date, region, service and
   `aws4_request`; the signature is the hex HMAC of the string to sign under that key.

A request passes only if its `Authorization` header names a known access key, is scoped to
the backend's region and the `bedrock` service, signs `host`, its `X-Amz-Date` is within five
minutes of the simulator's clock, and the signature matches. Failures are 403s in AWS's shape
(the error type goes in `x-amzn-ErrorType`, carried as `SimError.code`). Static keys' session
tokens are signed but not checked; temporary keys issued by the fleet's STS (`sts.StsIssuer`)
need their own session token and expire.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

from canary_sim.clock import utc_now
from canary_sim.records import SimError
from canary_sim.sts import StsIssuer

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=5)
AMZ_DATE = "%Y%m%dT%H%M%SZ"
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;_.-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})"
)
# RFC 3986 unreserved characters: the only ones SigV4's UriEncode leaves as they are.
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
INVALID_TOKEN = "The security token included in the request is invalid."
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your"
    " AWS Secret Access Key and signing method. Consult the service documentation for details."
)
PAYLOAD_MISMATCH = "The provided 'x-amz-content-sha256' header does not match what was computed."
HOST_UNSIGNED = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."


def uri_encode(text: str, *, keep_slash: bool = False) -> str:
    """SigV4's UriEncode: every UTF-8 byte but the unreserved ones as `%XX`, upper-case hex."""
    safe = _UNRESERVED | {ord("/")} if keep_slash else _UNRESERVED
    return "".join(chr(b) if b in safe else f"%{b:02X}" for b in text.encode("utf-8"))


def canonical_uri(path: str) -> str:
    """The path as received (already URI-encoded once), normalised and URI-encoded again."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    normal = "/" + "/".join(segments)
    if path.endswith("/") and segments:
        normal += "/"
    return uri_encode(normal, keep_slash=True)


def canonical_query(query: str) -> str:
    """Each `name=value` pair decoded, URI-encoded, and sorted by name, then value."""
    pairs = []
    for item in query.split("&") if query else ():
        name, _, value = item.partition("=")
        pairs.append((uri_encode(unquote(name)), uri_encode(unquote(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def canonical_request(
    method: str, url: str, headers: Mapping[str, list[str]], signed: list[str], payload_hash: str
) -> str:
    """Step 1: `headers` maps lower-case names to every value sent; `signed` is sorted."""
    parts = urlsplit(url)
    lines = [
        f"{name}:{','.join(' '.join(value.split()) for value in headers[name])}"
        for name in signed
    ]
    return "\n".join(
        [
            method.upper(),
            canonical_uri(parts.path),
            canonical_query(parts.query),
            "\n".join(lines) + "\n",
            ";".join(signed),
            payload_hash,
        ]
    )


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    """Step 2: algorithm, timestamp, credential scope and the canonical request's hash."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """Step 3: the key derived from the secret for one day, region and service."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def signature(key: bytes, to_sign: str) -> str:
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _denied(message: str, code: str = "InvalidSignatureException") -> SimError:
    return SimError(403, "permission", message, code=code)


def _all_values(headers: Mapping[str, str]) -> dict[str, list[str]]:
    """Lower-case name -> every value, in order (aiohttp's multidict repeats names in items())."""
    out: dict[str, list[str]] = {}
    for name, value in headers.items():
        out.setdefault(name.lower(), []).append(value)
    return out


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
        """Raise `SimError` 403 unless the request is correctly signed for `region`.

        `url` is the request's URL as sent (path still percent-encoded), `body` its raw bytes.
        """
        sent = _all_values(headers)
        auth = sent.get("authorization", [""])[0]
        if not auth:
            raise _denied("Missing Authentication Token", "MissingAuthenticationTokenException")
        match = _AUTH.fullmatch(auth)
        if match is None:
            raise _denied(
                "Authorization header requires 'Credential', 'SignedHeaders' and "
                "'Signature' parameters.",
                "IncompleteSignatureException",
            )
        token = sent.get("x-amz-security-token", [""])[0]
        secret = self.keys.get(match["key"]) or self._session_secret(match["key"], token)
        if secret is None:
            raise _denied(INVALID_TOKEN, "UnrecognizedClientException")
        if match["region"] != region:
            raise _denied("Credential should be scoped to a valid region. ")
        if match["service"] != self.service:
            raise _denied(f"Credential should be scoped to correct service: '{self.service}'. ")
        amz_date = sent.get("x-amz-date", [""])[0]
        self._check_date(amz_date, match["date"])
        names = match["signed"].split(";")
        if "host" not in names:
            raise _denied(HOST_UNSIGNED)
        if names != sorted(set(names)) or any(name not in sent for name in names):
            raise _denied(MISMATCH)
        payload_hash = hashlib.sha256(body).hexdigest()
        if sent.get("x-amz-content-sha256", [payload_hash])[0] != payload_hash:
            raise _denied(PAYLOAD_MISMATCH)
        scope = f"{match['date']}/{region}/{self.service}/aws4_request"
        canonical = canonical_request(method, url, sent, names, payload_hash)
        key = signing_key(secret, match["date"], region, self.service)
        expected = signature(key, string_to_sign(amz_date, scope, canonical))
        if not hmac.compare_digest(expected, match["signature"]):
            raise _denied(MISMATCH)
        self.verified += 1

    def _session_secret(self, key: str, token: str) -> str | None:
        """The secret of an STS-issued key, if the request carries its unexpired session token."""
        session = self.sts.sessions.get(key) if self.sts is not None else None
        if session is None:
            return None
        if not hmac.compare_digest(token.encode(), session.token.encode()):
            raise _denied(INVALID_TOKEN, "UnrecognizedClientException")
        if session.expires_at <= self.now().astimezone(UTC):
            raise _denied(
                "The security token included in the request is expired", "ExpiredTokenException"
            )
        return session.secret

    def _check_date(self, amz_date: str, scope_date: str) -> None:
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
