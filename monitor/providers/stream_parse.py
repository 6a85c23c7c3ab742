"""Sans-I/O stream framing shared by the wire modules' stream assemblers.

SSE (`sse_events`) for OpenAI (Chat and Responses), Anthropic and Gemini; the AWS event stream
(`aws_events`: binary frames with CRCs, decoded by botocore) for Bedrock's ConverseStream and
InvokeModelWithResponseStream. Each wire module's `assemble_stream` (see `wire.WireSpec`) reads
these events and returns the reply and the byte offset just past the first event that carried
text, from which `wire.timing` reads the time to first token. Assembled bodies go through the
wire modules' own non-streaming parsers, so a stream and a plain reply are judged alike; a
stream that ends inside an event, carries an error or exception event, or never finishes is a
protocol error, because a truncated stream is exactly the fault a streaming probe exists to
catch.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from botocore.eventstream import EventStreamBuffer, ParserError

from monitor.errors import ProviderProtocolError, ProviderRateLimited
from monitor.providers.http import summarise_error

_LINE_END = re.compile(rb"\r\n|\r|\n")
# The Bedrock stream exception that means "slow down", as its 429 ThrottlingException does.
THROTTLED = frozenset({"throttlingException"})


@dataclass(frozen=True, slots=True)
class Event:
    end: int  # byte offset just past the event in the body
    name: str | None
    data: str


def sse_events(content: bytes) -> list[Event]:
    """The server-sent events in a body (comments and empty blocks skipped).

    Lines end in CRLF, LF or a bare CR, as the SSE specification allows all three; a blank
    line ends an event. Each event's `end` is the offset just past its blank line (the last
    event may end with the body instead).
    """
    events: list[Event] = []
    name: str | None = None
    data: list[str] = []
    start = 0
    for match in _LINE_END.finditer(content):
        line, start = content[start : match.start()], match.end()
        if line:
            name = _field(line, name, data)
        elif data:
            events.append(Event(start, name, "\n".join(data)))
            name, data = None, []
        else:
            name = None
    if start < len(content):
        name = _field(content[start:], name, data)
    if data:
        events.append(Event(len(content), name, "\n".join(data)))
    return events


def _field(line: bytes, name: str | None, data: list[str]) -> str | None:
    """Apply one `field: value` line: `data` lines are collected, `event` names the event."""
    field, _, value = line.decode("utf-8", errors="replace").partition(":")
    value = value.removeprefix(" ")
    if field == "event":
        return value
    if field == "data":
        data.append(value)
    return name


def as_object(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one: a mis-typed optional field then
    reaches the wire module's parser as missing, or its assembler's checks as absent."""
    return value if isinstance(value, dict) else {}


def error_text(error: Any) -> str:
    """`type: message` of an error event's `error`, whatever its shape, printable."""
    if isinstance(error, dict):
        return f"{error.get('type') or error.get('code')}: {error.get('message')}"
    return repr(error)


def event_json(event: Event) -> dict[str, Any]:
    """The event's data as a JSON object, or ProviderProtocolError saying why not."""
    try:
        doc: Any = json.loads(event.data)
    except ValueError as exc:
        raise ProviderProtocolError(f"stream event is not valid JSON: {exc}") from None
    except RecursionError:
        raise ProviderProtocolError("stream event is JSON nested too deeply") from None
    if not isinstance(doc, dict):
        raise ProviderProtocolError("stream event is not a JSON object")
    return doc


@dataclass(frozen=True, slots=True)
class AwsEvent:
    end: int  # byte offset just past the frame
    event_type: str
    payload: dict[str, Any]


def aws_events(content: bytes) -> list[AwsEvent]:
    """The frames of an AWS event stream (`application/vnd.amazon.eventstream`), checked.

    botocore validates the prelude and message CRCs; an exception frame (throttling, a model
    stream error) mid-stream and bytes left after the last whole frame are protocol errors.
    """
    buffer = EventStreamBuffer()
    buffer.add_data(content)
    events: list[AwsEvent] = []
    end = 0
    try:
        for message in cast(Iterable[Any], buffer):  # the stubs type the iterator as int
            end += message.prelude.total_length
            headers = message.headers
            kind = headers.get(":message-type")
            if kind in ("exception", "error"):
                name = headers.get(":exception-type") or headers.get(":error-code") or "error"
                detail = message.payload.decode("utf-8", errors="replace")
                error = f"{name} mid-stream: {summarise_error(message.payload)}"
                if name in THROTTLED:
                    raise ProviderRateLimited(error, status_code=200, body=detail)
                raise ProviderProtocolError(error)
            try:
                payload: Any = json.loads(message.payload or b"{}")
            except (ValueError, RecursionError):
                raise ProviderProtocolError("event payload is not valid JSON") from None
            if not isinstance(payload, dict):
                raise ProviderProtocolError("event payload is not a JSON object")
            events.append(AwsEvent(end, str(headers.get(":event-type", "")), payload))
    except (ParserError, UnicodeDecodeError, KeyError, struct.error) as exc:
        # botocore's header decoder raises the last three on a bad header block with good CRCs
        raise ProviderProtocolError(f"malformed event stream: {type(exc).__name__}") from None
    if end != len(content):
        raise ProviderProtocolError("event stream ends inside a frame")
    return events
