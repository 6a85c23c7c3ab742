"""`Result` <-> JSON-ready records, shared by every store backend and the HTTP API.

Two shapes leave the store. A *summary* is what a list view needs (who, when, outcome, which
detectors failed) and is cheap to send a thousand of; a *record* is a summary plus the whole
transcript (request, reply with raw body, every check with its evidence), for forensics on one
result. `result_from_record` inverts `result_to_record`, so a stored result can be replayed
through the detectors exactly as it was judged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from monitor.types import Check, FinishReason, Outcome, Reply, Result, TokenLogprob

SUMMARY_FIELDS: tuple[str, ...] = (
    "id",
    "run_id",
    "started_at",
    "platform",
    "pool",
    "model",
    "suite",
    "suite_version",
    "probe",
    "api",
    "outcome",
    "latency_s",
    "failed_detectors",
    "error",
)


def dumps(value: Any) -> str:
    """Compact JSON that never fails a write: a result is worth more than a strict encoder.

    Evidence comes from detectors and may hold sets or odd numbers; sets become sorted lists,
    NaN and infinities become null (they are not JSON and would break API clients), anything
    else unknown becomes its `str`. A lone surrogate (a reply may hold `"\\ud800"`) cannot be
    encoded as UTF-8 by the database driver, so such a value is written with ASCII escapes,
    which `loads` turns back into the very same string.
    """
    text = json.dumps(_clean(value), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(_clean(value), separators=(",", ":"), allow_nan=False)
    return text


def loads(text: str) -> Any:
    """Parse JSON written by `dumps`."""
    return json.loads(text)


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_clean(v) for v in value), key=repr)
    return str(value)


def reply_to_dict(reply: Reply) -> dict[str, Any]:
    """The reply as JSON-ready data; token counts are grouped under `tokens`."""
    return {
        "text": reply.text,
        "finish_reason": None if reply.finish_reason is None else reply.finish_reason.value,
        "raw_finish_reason": reply.raw_finish_reason,
        "model": reply.model,
        "response_id": reply.response_id,
        "system_fingerprint": reply.system_fingerprint,
        "tokens": {"input": reply.input_tokens, "output": reply.output_tokens},
        "logprobs": None
        if reply.logprobs is None
        else [
            {"token": t.token, "logprob": t.logprob, "top": [[tok, lp] for tok, lp in t.top]}
            for t in reply.logprobs
        ],
        "status_code": reply.status_code,
        "latency_s": reply.latency_s,
        "headers": dict(reply.headers),
        "raw_body": reply.raw_body,
        "time_to_first_token_s": reply.time_to_first_token_s,
        "output_tokens_per_s": reply.output_tokens_per_s,
    }


def reply_from_dict(data: Mapping[str, Any]) -> Reply:
    finish = data.get("finish_reason")
    tokens = data.get("tokens") or {}
    logprobs = data.get("logprobs")
    return Reply(
        text=data["text"],
        finish_reason=None if finish is None else FinishReason(finish),
        raw_finish_reason=data.get("raw_finish_reason"),
        model=data.get("model"),
        response_id=data.get("response_id"),
        system_fingerprint=data.get("system_fingerprint"),
        input_tokens=tokens.get("input"),
        output_tokens=tokens.get("output"),
        logprobs=None
        if logprobs is None
        else tuple(
            TokenLogprob(
                token=t["token"],
                logprob=t["logprob"],
                top=tuple((tok, lp) for tok, lp in t["top"]),
            )
            for t in logprobs
        ),
        status_code=data.get("status_code", 200),
        latency_s=data.get("latency_s", 0.0),
        headers=dict(data.get("headers") or {}),
        raw_body=data.get("raw_body", ""),
        time_to_first_token_s=data.get("time_to_first_token_s"),
        output_tokens_per_s=data.get("output_tokens_per_s"),
    )


def summary_of(result: Result) -> dict[str, Any]:
    """The list-view fields of a result, without any transcript."""
    return {
        "id": result.id,
        "run_id": result.run_id,
        "started_at": result.started_at,
        "platform": result.platform,
        "pool": result.pool,
        "model": result.model,
        "suite": result.suite,
        "suite_version": result.suite_version,
        "probe": result.probe,
        "api": result.api,
        "outcome": result.outcome.value,
        "latency_s": result.latency_s,
        "failed_detectors": list(result.failed_detectors),
        "error": result.error,
    }


def result_to_record(result: Result) -> dict[str, Any]:
    """The full record: the summary plus request, reply and every check with evidence."""
    return {
        **summary_of(result),
        "request": _clean(dict(result.request)),
        "reply": None if result.reply is None else reply_to_dict(result.reply),
        "checks": [_clean(c.to_dict()) for c in result.checks],
    }


def result_from_record(record: Mapping[str, Any]) -> Result:
    """Inverse of `result_to_record` (JSON turns tuples inside evidence into lists)."""
    reply = record.get("reply")
    return Result(
        id=record["id"],
        run_id=record["run_id"],
        started_at=record["started_at"],
        platform=record["platform"],
        pool=record["pool"],
        model=record["model"],
        suite=record["suite"],
        suite_version=record["suite_version"],
        probe=record["probe"],
        api=record["api"],
        outcome=Outcome(record["outcome"]),
        latency_s=record["latency_s"],
        checks=tuple(
            Check(
                detector=c["detector"],
                passed=c["passed"],
                score=c["score"],
                evidence=dict(c.get("evidence") or {}),
            )
            for c in record.get("checks") or ()
        ),
        request=dict(record.get("request") or {}),
        reply=None if reply is None else reply_from_dict(reply),
        error=record.get("error"),
    )
