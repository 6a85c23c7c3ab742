"""Credentials out of everything a reply can put in a log line, the store or a terminal.

A hostile or broken upstream can echo what we sent it: the API key, a `headers:` value, the
Vertex OAuth token, the AWS session token. It need not echo them verbatim: JSON may write any
character as `\\u0073`, `/` as `\\/`, and a stream may split a key across two deltas that only
the assembled text joins. So each secret becomes a pattern that matches it written in any of
those escapes, applied to raw bytes, error messages and the assembled reply alike.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import httpx
import regex

from monitor.config.model import Target

REDACTED = "[REDACTED]"
MIN_SECRET_CHARS = 8  # shorter values (`Bearer`, `1`) would redact ordinary words

# Request headers that carry a credential: API keys, bearer tokens (Vertex's OAuth access
# token), AWS's session token. A SigV4 `Authorization` holds only a per-request signature.
CREDENTIAL_HEADERS = ("authorization", "x-api-key", "api-key", "x-amz-security-token")


def secrets_of(target: Target, request: httpx.Request | None = None) -> tuple[str, ...]:
    """The target's API key, every configured `headers:` value, and each credential
    `request` carried; longest first so a key is replaced before any part of it."""
    found = set(target.headers.values())
    if target.api_key is not None:
        found.add(target.api_key.get_secret_value())
    if request is not None:
        for name in CREDENTIAL_HEADERS:
            value = request.headers.get(name, "")
            scheme, _, token = value.partition(" ")
            if name != "authorization":
                found.add(value)
            elif scheme.lower() == "bearer":
                found.add(token.strip())
    kept = (s for s in found if len(s) >= MIN_SECRET_CHARS)
    return tuple(sorted(kept, key=lambda s: (-len(s), s)))


def redact(text: str, target: Target, request: httpx.Request | None = None) -> str:
    """`text` with every secret of `target` (and `request`) replaced, however escaped."""
    secrets = secrets_of(target, request)
    if not secrets or not text:
        return text
    if not _ESCAPES.search(text):  # no escape at all: only a literal echo can be there
        for secret in secrets:
            text = text.replace(secret, REDACTED)
        return text
    return _pattern(secrets).sub(REDACTED, text)


def holds_secret(texts: Iterable[str], target: Target, request: httpx.Request | None) -> bool:
    """Whether any of `texts` holds a secret (after a stream's deltas were joined, say)."""
    secrets = secrets_of(target, request)
    return bool(secrets) and any(_pattern(secrets).search(t) for t in texts if t)


# Every escaped form `_char` writes starts with one of these: without them, `str.replace` per
# secret finds all there is, 50x faster than the pattern on a 4 MB body.
_ESCAPES = regex.compile(r"[\\%]")


@functools.lru_cache(maxsize=256)
def _pattern(secrets: tuple[str, ...]) -> regex.Pattern[str]:
    return regex.compile("|".join(_escaped(s) for s in secrets))


def _escaped(secret: str) -> str:
    """A pattern for `secret` with each character literal or in a JSON or Python escape."""
    return "".join(_char(c) for c in secret)


def _char(c: str) -> str:
    code = ord(c)
    forms = [regex.escape(c)]
    if code < 0x10000:
        forms.append(rf"\\u(?i:{code:04x})")  # JSON, any case of hex digits
    if c in '/"\\':
        forms.append(regex.escape("\\" + c))  # `\/`, `\"`, `\\`
    if code < 0x100:
        forms.append(rf"\\x(?i:{code:02x})")  # Python's repr and `printable`
        forms.append(rf"%(?i:{code:02x})")  # a URL that quotes it
    return "(?:" + "|".join(forms) + ")"
