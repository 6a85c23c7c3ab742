"""Transport-level behaviour: request bodies, auth, injected HTTP errors, malformed bodies.

These are the failures a provider adapter must turn into the right outcome (`http_error`,
`rate_limited`, `protocol_error`) without ever raising into the scheduler; the simulator
produces them in each vendor's own error shape so the adapter's parsing is exercised too.
"""

from __future__ import annotations

import hmac
import json
import random
from collections.abc import Mapping
from typing import Any

from canary_sim.faults import MALFORMED_MODES, Fault
from canary_sim.records import ErrorKind, SimError, WireFormat

_STATUS_KINDS: dict[int, ErrorKind] = {
    400: "invalid_request",
    401: "authentication",
    403: "permission",
    404: "not_found",
    429: "rate_limit",
    503: "overloaded",
    529: "overloaded",
}
_MESSAGES: dict[ErrorKind, str] = {
    "invalid_request": "The request was rejected by the server.",
    "authentication": "Invalid API key.",
    "permission": "Your API key does not have permission to use this resource.",
    "not_found": "The requested resource was not found.",
    "rate_limit": "Rate limit reached for requests. Please try again later.",
    "server_error": "The server had an error while processing your request. Sorry about that!",
    "overloaded": "Overloaded",
}
_CODES: dict[ErrorKind, str | None] = {"rate_limit": "rate_limit_exceeded"}


def parse_json(raw: bytes) -> Any:
    """The request body as JSON, or a 400 that says why not."""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SimError(
            400, "invalid_request", f"We could not parse the JSON body of your request. ({exc})"
        ) from None


def check_auth(api_key: str | None, headers: Mapping[str, str], wire: WireFormat) -> None:
    """401 unless the request carries `api_key` the way its vendor's clients send it.

    OpenAI clients send `Authorization: Bearer`; Anthropic clients send `x-api-key`, and
    gateways in front of Anthropic models often take a bearer token, so both are accepted.
    """
    if api_key is None:
        return
    offered: list[str] = []
    auth = headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        offered.append(auth.removeprefix("Bearer ").strip())
    if wire.api == "anthropic_messages":
        offered.append(headers.get("x-api-key", ""))
    if not any(hmac.compare_digest(key, api_key) for key in offered):
        message = (
            "invalid x-api-key"
            if wire.api == "anthropic_messages"
            else ("Incorrect API key provided. You can find your API key in your account settings.")
        )
        raise SimError(401, "authentication", message, code="invalid_api_key")


def injected_error(fault: Fault) -> SimError:
    """The error an `http_error` fault answers with; a 429 always carries `Retry-After`."""
    kind = _STATUS_KINDS.get(fault.status)
    if kind is None:
        kind = "server_error" if fault.status >= 500 else "invalid_request"
    headers: dict[str, str] = {}
    if fault.retry_after_s is not None or fault.status == 429:
        headers["Retry-After"] = str(fault.retry_after_s if fault.retry_after_s is not None else 1)
    return SimError(fault.status, kind, _MESSAGES[kind], code=_CODES.get(kind), headers=headers)


def malformed_body(body: dict[str, Any], fault: Fault, wire: WireFormat, rng: random.Random) -> str:
    """A 200 body that is cut off mid-JSON, or valid JSON missing `choices` / `content`."""
    mode = fault.mode or rng.choice(MALFORMED_MODES)
    if mode == "truncated":
        text = json.dumps(body, ensure_ascii=False)
        return text[: len(text) // 2]
    return json.dumps({k: v for k, v in body.items() if k != wire.essential_key})
