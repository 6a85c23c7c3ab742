"""What may go into an HTTP request header, checked when the config loads.

A key read from the environment with a trailing newline (`KEY=$'sk-...\\n'`) made httpx raise
`Illegal header value b'Bearer sk-...'` at the first probe, and that message, key and all, was
stored and printed. Values here are checked before any request exists, and the message names
where the value came from, never the value.
"""

from __future__ import annotations

import regex

# RFC 9110 5.1 and 5.5: a field name is a token; a value is visible ASCII, obs-text, space and
# tab, with no leading or trailing white space. CR, LF and NUL are what smuggling needs.
_TOKEN = regex.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE = regex.compile(r"[\x21-\x7e\x80-\xff]([\x20-\x7e\x80-\xff\t]*[\x21-\x7e\x80-\xff])?")


def check_header_name(name: str) -> None:
    """ValueError unless `name` is an HTTP token."""
    if not _TOKEN.fullmatch(name):
        raise ValueError(f"header name {_describe(name)} is not an HTTP token")


def check_header_value(value: str, source: str) -> None:
    """ValueError naming `source` unless `value` can be sent as a header value as it is."""
    if value and not _VALUE.fullmatch(value):
        bad = next((c for c in value if not ("\x20" <= c <= "\x7e" or c >= "\x80")), None)
        what = f"U+{ord(bad):04X}" if bad is not None else "leading or trailing white space"
        hint = " (a trailing newline, as `echo` writes?)" if value[-1] in "\r\n" else ""
        raise ValueError(f"{source} cannot be sent in an HTTP header: it holds {what}{hint}")


def _describe(name: str) -> str:
    printable = name.encode("unicode_escape").decode("ascii")
    return repr(printable[:40])
