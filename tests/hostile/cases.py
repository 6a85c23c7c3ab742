"""The table of hostile and broken replies: one `Case` per class, with the outcome it must get.

Bodies are written per wire API where the shape matters (a Bedrock Converse body is not an
OpenAI one); transport and TLS classes do not depend on the API. `evidence` is a substring the
stored `error` must contain, so each outcome is explained, not just counted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from monitor.types import Outcome
from tests.hostile.server import Script, chunked, drip, head, raw, respond

APIS = ("openai_chat", "anthropic_messages", "bedrock_converse")
CAP_BYTES = 16 * 1024  # max_response_bytes of every hostile target
DEADLINE_S = 1.5  # timeout_s of every hostile target
# Control characters a reply may carry but that must never reach a log line or a terminal raw.
ESCAPES = "\x1b[2J\x1b]0;pwned\x07\x1b[31m"
INJECTION = ESCAPES + 'Paris\r\n{"event": "fake", "log_level": "critical"}\x00\x9b1m\x7f'


def body(api: str, text: str, finish: str | None = None) -> dict[str, Any]:
    """A well-formed 2xx body of `api` carrying `text`."""
    if api == "openai_chat":
        return {
            "id": "chatcmpl-1",
            "model": "m",
            "choices": [{"message": {"content": text}, "finish_reason": finish or "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1},
        }
    if api == "anthropic_messages":
        return {
            "id": "msg_1",
            "type": "message",
            "model": "m",
            "content": [{"type": "text", "text": text}],
            "stop_reason": finish or "end_turn",
            "usage": {"input_tokens": 5, "output_tokens": 1},
        }
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": finish or "end_turn",
        "usage": {"inputTokens": 5, "outputTokens": 1},
    }


def ok(doc: Any) -> Script:
    return respond(200, json.dumps(doc).encode())


def per_api(build: Callable[[str], Script]) -> Callable[[str], Script]:
    return build


def same(script: Script) -> Callable[[str], Script]:
    return lambda api: script


WRONG_SHAPE = {
    "openai_chat": {"object": "chat.completion", "data": ["Paris"]},
    "anthropic_messages": {"completion": "Paris", "stop_reason": "stop_sequence"},
    "bedrock_converse": {"results": [{"outputText": "Paris"}]},
}
WRONG_SHAPE_EVIDENCE = {
    "openai_chat": "choices is missing",
    "anthropic_messages": "type is missing",
    "bedrock_converse": "output is missing",
}
WRONG_TYPES = {
    "openai_chat": {"choices": "Paris"},
    "anthropic_messages": {"type": "message", "content": {"text": "Paris"}},
    "bedrock_converse": {"output": {"message": {"content": "Paris"}}},
}
EMPTY_CHOICES = {
    "openai_chat": {"choices": []},
    "anthropic_messages": {"type": "message", "content": [], "stop_reason": "end_turn"},
    "bedrock_converse": {"output": {"message": {"content": []}}, "stopReason": "end_turn"},
}
ERROR_BODY = {
    "error": {"type": "server_error", "message": ESCAPES + "upstream\r\nfailed\x00"},
    "type": "error",
    "message": ESCAPES + "upstream failed",
}
HTML = b"<html><head><title>502 Bad Gateway</title></head><body>\x1b[31mnginx</body></html>"
SSE = b'data: {"choices": [{"delta": {"content": "Paris"}}]}\n\ndata: [DONE]\n\n'


@dataclass(frozen=True)
class Case:
    """One reply class: how the server misbehaves, and the outcome and evidence it must yield."""

    name: str
    group: str  # body | status | transport | tls (for the docs table)
    script: Callable[[str], Script]
    outcome: Outcome | dict[str, Outcome]
    evidence: str | dict[str, str] = ""
    apis: tuple[str, ...] = APIS
    note: str = ""
    requests: int = 1  # requests the server must have seen (no retries, no redirects followed)
    extra: dict[str, Any] = field(default_factory=dict)

    def outcome_for(self, api: str) -> Outcome:
        return self.outcome[api] if isinstance(self.outcome, dict) else self.outcome

    def evidence_for(self, api: str) -> str:
        return self.evidence.get(api, "") if isinstance(self.evidence, dict) else self.evidence


P, F = Outcome.PASSED, Outcome.FAILED
PROTO, HTTP, RATE, TIME = (
    Outcome.PROTOCOL_ERROR,
    Outcome.HTTP_ERROR,
    Outcome.RATE_LIMITED,
    Outcome.TIMEOUT,
)
HUGE = b"x" * (CAP_BYTES + 1)

CASES: tuple[Case, ...] = (
    # -- positive control: the same path passes when the server behaves -------------------
    Case("valid", "body", lambda api: ok(body(api, "Paris")), P, note="control"),
    # -- 2xx bodies ------------------------------------------------------------------------
    Case(
        "truncated-json",
        "body",
        lambda api: respond(200, json.dumps(body(api, "Paris")).encode()[:40]),
        PROTO,
        "not valid JSON",
    ),
    Case("invalid-json", "body", same(respond(200, b'{"choices": [}')), PROTO, "not valid JSON"),
    Case("json-array", "body", same(respond(200, b"[]")), PROTO, "JSON array, not an object"),
    Case("json-null", "body", same(respond(200, b"null")), PROTO, "JSON null, not an object"),
    Case("empty-body", "body", same(respond(200, b"")), PROTO, "not valid JSON"),
    Case(
        "wrong-shape",
        "body",
        lambda api: ok(WRONG_SHAPE[api]),
        PROTO,
        WRONG_SHAPE_EVIDENCE,
    ),
    Case(
        "wrong-types",
        "body",
        lambda api: ok(WRONG_TYPES[api]),
        PROTO,
        {
            "openai_chat": "choices is not an array",
            "anthropic_messages": "content is not an array",
            "bedrock_converse": "output.message.content is not an array",
        },
    ),
    Case(
        "empty-choices",
        "body",
        lambda api: ok(EMPTY_CHOICES[api]),
        {"openai_chat": PROTO, "anthropic_messages": F, "bedrock_converse": F},
        {"openai_chat": "choices is empty"},
        note="an empty content list is a valid empty reply, judged by the detectors",
    ),
    Case("error-on-2xx", "body", same(ok(ERROR_BODY)), PROTO, "error body on a 2xx"),
    Case(
        "huge-declared",
        "body",
        same(respond(200, HUGE)),
        PROTO,
        f"response body exceeds {CAP_BYTES} bytes",
    ),
    Case(
        "huge-chunked",
        "body",
        same(chunked(200, [b"x" * 4096] * 8)),
        PROTO,
        f"response body exceeds {CAP_BYTES} bytes",
        note="no Content-Length: cut while reading",
    ),
    Case(
        "huge-error-body",
        "body",
        same(respond(500, HUGE)),
        HTTP,
        "HTTP 500",
        note="error bodies are cut at the cap, not refused",
    ),
    Case("nul-in-body", "body", same(respond(200, b'{"choices":\x00[]}')), PROTO, "not valid JSON"),
    Case(
        "raw-control-chars",
        "body",
        lambda api: respond(
            200, json.dumps(body(api, "Paris")).replace("Paris", "Pa\x1b[2Jris").encode()
        ),
        PROTO,
        "Invalid control character",
    ),
    Case(
        "invalid-utf8",
        "body",
        lambda api: respond(
            200, json.dumps(body(api, "Paris")).encode().replace(b"Paris", b"Pa\xff\xferis")
        ),
        PROTO,
        "not valid JSON",
    ),
    Case("nul-in-text", "body", lambda api: ok(body(api, "Par\x00is")), F),
    Case("lone-surrogate", "body", lambda api: ok(body(api, "Pa\ud800ris")), F),
    Case(
        "surrogate-bytes",
        "body",
        lambda api: respond(
            200, json.dumps(body(api, "Paris")).encode().replace(b"Paris", b"Pa\xed\xa0\x80ris")
        ),
        PROTO,
        "can't decode byte 0xed",
        note="CESU-8 surrogate bytes are invalid UTF-8",
    ),
    Case("ansi-in-text", "body", lambda api: ok(body(api, INJECTION)), F),
    Case(
        "html-200",
        "body",
        same(respond(200, HTML, content_type="text/html")),
        PROTO,
        "not valid JSON",
        note="a proxy's HTML page with status 200",
    ),
    Case(
        "sse-unasked",
        "body",
        same(respond(200, SSE, content_type="text/event-stream")),
        PROTO,
        "not valid JSON",
        note="a stream where a JSON body was asked for",
    ),
    # -- statuses --------------------------------------------------------------------------
    Case(
        "html-502",
        "status",
        same(respond(502, HTML, content_type="text/html")),
        HTTP,
        "HTTP 502: <html>",
    ),
    Case(
        "error-500-ansi",
        "status",
        same(respond(500, json.dumps(ERROR_BODY).encode())),
        HTTP,
        "HTTP 500: server_error: \\x1b[2J",
    ),
    Case(
        "429",
        "status",
        same(respond(429, b'{"error": {"message": "slow down"}}')),
        RATE,
        "HTTP 429",
    ),
    Case(
        "429-retry-after",
        "status",
        same(respond(429, b"{}", headers=[("Retry-After", "7")])),
        RATE,
        "HTTP 429",
        extra={"retry_after_s": 7.0},
    ),
    Case(
        "429-retry-after-date",
        "status",
        same(respond(429, b"{}", headers=[("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")])),
        RATE,
        "HTTP 429",
        extra={"retry_after_s": 0.0},
    ),
    *(
        Case(
            f"429-retry-after-{label}",
            "status",
            same(respond(429, b"{}", headers=[("Retry-After", value)])),
            RATE,
            "HTTP 429",
            extra={"retry_after_s": seconds},
        )
        for label, value, seconds in (
            ("huge", "9" * 400, None),
            ("inf", "inf", None),
            ("nan", "nan", None),
            ("negative", "-30", 0.0),
            ("junk", "soon\x7f", None),
            ("bad-date", "Mon, 99 Foo 2999 99:99:99 GMT", None),
        )
    ),
    Case("500", "status", same(respond(500, b"")), HTTP, "HTTP 500: (empty body)"),
    Case(
        "503-retry-after",
        "status",
        same(
            respond(503, b'{"error": {"message": "overloaded"}}', headers=[("Retry-After", "120")])
        ),
        HTTP,
        "HTTP 503: overloaded",
        note="5xx is not throttling, Retry-After or not",
    ),
    Case(
        "529",
        "status",
        same(
            respond(
                529, b'{"type": "error", "error": {"type": "overloaded_error", "message": "x"}}'
            )
        ),
        {"openai_chat": HTTP, "anthropic_messages": RATE, "bedrock_converse": HTTP},
        "HTTP 529: overloaded_error",
    ),
    *(
        Case(
            f"redirect-{status}",
            "status",
            same(respond(status, b"", headers=[("Location", "http://127.0.0.1:9/elsewhere")])),
            HTTP,
            f"HTTP {status}",
            note="never followed",
        )
        for status in (301, 302, 307, 308)
    ),
    Case(
        "status-999",
        "status",
        same(raw(head(999, [("Content-Length", "2")], reason="Weird") + b"{}")),
        HTTP,
        "HTTP 999",
    ),
    Case(
        "garbage-status-line",
        "status",
        same(raw(b"HELLO \x1b[31mWORLD\r\n\r\n")),
        HTTP,
        "transport error: RemoteProtocolError",
    ),
    Case(
        "control-char-header",
        "status",
        lambda api: respond(
            200, json.dumps(body(api, "Paris")).encode(), headers=[("X-Served-By", "\x1b[31mevil")]
        ),
        P,
        note="kept as the backend identity; only its hash reaches a metric",
    ),
    # -- transport -------------------------------------------------------------------------
    Case(
        "close-before-headers",
        "transport",
        same(raw(b"")),
        HTTP,
        "RemoteProtocolError",
        # post_json re-sends once after "disconnected without sending a response" only on a
        # pooled connection (stale keep-alive); this one was opened for the request.
        note="sent once: the stale-connection retry is for pooled connections only",
    ),
    Case(
        "reset-before-headers", "transport", same(raw(b"", then="reset")), HTTP, "transport error"
    ),
    Case(
        "reset-mid-headers",
        "transport",
        same(raw(b"HTTP/1.1 200 OK\r\nContent-Ty", then="reset")),
        HTTP,
        "transport error",
    ),
    Case(
        "reset-mid-body",
        "transport",
        lambda api: raw(
            head(200, [("Content-Length", "400")]) + json.dumps(body(api, "Paris")).encode()[:30],
            then="reset",
        ),
        HTTP,
        "transport error",
    ),
    Case(
        "close-mid-body",
        "transport",
        lambda api: raw(
            head(200, [("Content-Length", "400")]) + json.dumps(body(api, "Paris")).encode()[:30]
        ),
        HTTP,
        "RemoteProtocolError",
        note="Content-Length promises more than is sent",
    ),
    Case(
        "broken-chunking",
        "transport",
        same(raw(head(200, [("Transfer-Encoding", "chunked")]) + b"zz\r\n{}\r\n0\r\n\r\n")),
        HTTP,
        "RemoteProtocolError",
    ),
    Case(
        "silent",
        "transport",
        same(raw(b"", then="hang")),
        TIME,
        f"no complete reply within {DEADLINE_S:g} s",
    ),
    Case(
        "slow-headers",
        "transport",
        same(drip(b"HTTP/1.1 200 OK\r\n", b"X", 0.2, 600)),
        TIME,
        f"no complete reply within {DEADLINE_S:g} s",
        note="one header byte per 0.2 s",
    ),
    Case(
        "slow-body",
        "transport",
        same(drip(head(200, [("Content-Length", "600")]), b" ", 0.2, 600)),
        TIME,
        f"no complete reply within {DEADLINE_S:g} s",
        note="one body byte per 0.2 s, each read well within the read timeout",
    ),
)

TLS_CASES = (
    "tls-valid",
    "tls-self-signed",
    "tls-wrong-host",
    "tls-expired",
    "tls-plaintext",
    "tls-garbage",
)
