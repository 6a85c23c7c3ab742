"""One probe on one target: request -> reply -> checks -> `Result`, then record it.

A probe never raises into the scheduler: provider failures become outcomes from a closed set,
and anything unexpected is counted in `canary_internal_errors_total` and stored as a
`protocol_error` result so that nothing is lost silently.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from monitor.config import Target
from monitor.detectors import run_detectors
from monitor.drift import ANY_CHECK, PROBE_ERROR, DriftEngine, Event, SeriesId
from monitor.errors import (
    ProviderError,
    ProviderHTTPError,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderTimeout,
)
from monitor.metrics import Metrics
from monitor.probes import Probe, ProbeSuite
from monitor.providers import PROVIDERS
from monitor.providers.http import redact
from monitor.store import Store
from monitor.types import Outcome, ProbeRequest, Result

log = structlog.get_logger("canary.runner")

_ERROR_OUTCOMES: tuple[tuple[type[ProviderError], Outcome], ...] = (
    (ProviderTimeout, Outcome.TIMEOUT),
    (ProviderRateLimited, Outcome.RATE_LIMITED),
    (ProviderHTTPError, Outcome.HTTP_ERROR),
    (ProviderProtocolError, Outcome.PROTOCOL_ERROR),
)


def outcome_of(error: ProviderError) -> Outcome:
    for kind, outcome in _ERROR_OUTCOMES:
        if isinstance(error, kind):
            return outcome
    return Outcome.PROTOCOL_ERROR


def request_record(request: ProbeRequest) -> dict[str, object]:
    """The request as stored with the transcript (no credentials ever live in it)."""
    return {
        "system": request.system,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "seed": request.seed,
        "top_logprobs": request.top_logprobs,
        "stop": list(request.stop),
        "json_mode": request.json_mode,
        "affinity_key": request.affinity_key,
    }


def result_identity(target: Target, suite: ProbeSuite, probe: Probe, run_id: str) -> dict[str, Any]:
    """The fields every `Result` of this probe run shares, stamped with the start time."""
    return {
        "run_id": run_id,
        "started_at": time.time(),
        "platform": target.platform,
        "pool": target.pool,
        "model": target.model,
        "suite": suite.suite,
        "suite_version": suite.version,
        "probe": probe.name,
        "api": target.api,
    }


def affinity_key(target: Target, suite: ProbeSuite, probe: Probe) -> str:
    """Fresh per request, except for sticky probes, which reuse one key per (target, probe)."""
    if probe.sticky:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"{target.name}/{suite.suite}/{probe.name}").hex
    return uuid.uuid4().hex


async def execute_probe(
    client: httpx.AsyncClient, target: Target, suite: ProbeSuite, probe: Probe, run_id: str
) -> Result:
    """Send one probe and judge the reply; never raises for provider failures."""
    request = suite.request(probe, affinity_key(target, suite, probe))
    t0 = time.perf_counter()
    common = result_identity(target, suite, probe, run_id) | {"request": request_record(request)}
    try:
        reply = await PROVIDERS[target.api](client, target, request)
    except ProviderError as exc:
        return Result(
            id=uuid.uuid4().hex,
            outcome=outcome_of(exc),
            latency_s=time.perf_counter() - t0,
            error=redact(f"{type(exc).__name__}: {exc}", target),
            **common,
        )
    checks = run_detectors(reply, probe.expect)
    outcome = Outcome.PASSED if all(c.passed for c in checks) else Outcome.FAILED
    return Result(
        id=uuid.uuid4().hex,
        outcome=outcome,
        latency_s=reply.latency_s or time.perf_counter() - t0,
        checks=checks,
        reply=reply,
        **common,
    )


@dataclass(frozen=True, slots=True)
class DriftEvent:
    series: SeriesId
    event: Event
    ratio: float


class Runner:
    """Runs suites on targets and records every result in store, metrics and drift state."""

    def __init__(
        self,
        *,
        metrics: Metrics,
        store: Store,
        drift: DriftEngine,
        clients: Callable[[Target], httpx.AsyncClient],
        on_drift: Callable[[DriftEvent], None] | None = None,
    ) -> None:
        self.metrics, self.store, self.drift = metrics, store, drift
        self.clients = clients
        self.on_drift = on_drift
        self._limits: dict[str, asyncio.Semaphore] = {}

    def _limit(self, target: Target) -> asyncio.Semaphore:
        limit = self._limits.get(target.name)
        if limit is None:
            limit = self._limits[target.name] = asyncio.Semaphore(target.concurrency)
        return limit

    async def run_suite(self, target: Target, suite: ProbeSuite) -> list[Result]:
        """Every probe of `suite` on `target`, at most `target.concurrency` at a time."""
        run_id = uuid.uuid4().hex
        return list(
            await asyncio.gather(*(self.run_probe(target, suite, p, run_id) for p in suite.probes))
        )

    async def run_probe(
        self, target: Target, suite: ProbeSuite, probe: Probe, run_id: str
    ) -> Result:
        async with self._limit(target):
            with structlog.contextvars.bound_contextvars(
                platform=target.platform,
                pool=target.pool,
                model=target.model,
                suite=suite.suite,
                probe=probe.name,
                run_id=run_id,
            ):
                try:
                    result = await execute_probe(self.clients(target), target, suite, probe, run_id)
                except Exception as exc:  # a bug, not a provider failure: record it, never raise
                    self.metrics.internal_errors.inc()
                    log.error("probe.internal_error", error_type=type(exc).__name__)
                    result = Result(
                        id=uuid.uuid4().hex,
                        outcome=Outcome.PROTOCOL_ERROR,
                        latency_s=0.0,
                        error=f"internal error: {type(exc).__name__}",
                        **result_identity(target, suite, probe, run_id),
                    )
                await self.record(result)
                log.info(
                    "probe.finished",
                    outcome=result.outcome.value,
                    latency_s=round(result.latency_s, 4),
                    failed=list(result.failed_detectors),
                )
        return result

    async def record(self, result: Result) -> None:
        """Write once to the store, metrics and drift state."""
        try:
            await self.store.write(result)
        except Exception as exc:
            self.metrics.store_errors.labels("write").inc()
            log.error("store.write_failed", error_type=type(exc).__name__)
        self.metrics.observe(result, time.time())
        self._observe_drift(result)

    def _observe_drift(self, result: Result) -> None:
        base = (result.platform, result.pool, result.model, result.suite)
        observations: Sequence[tuple[str, bool]]
        if result.outcome in (Outcome.PASSED, Outcome.FAILED):
            observations = [(c.detector, not c.passed) for c in result.checks]
            if result.checks:
                observations = [*observations, (ANY_CHECK, result.outcome is Outcome.FAILED)]
            observations = [*observations, (PROBE_ERROR, False)]
        else:
            observations = [(PROBE_ERROR, True)]
        for detector, failed in observations:
            series: SeriesId = (*base, detector)
            event = self.drift.observe(series, failed)
            labels = (*base, detector)
            self.metrics.drift_ratio.labels(*labels).set(self.drift.ratio(series))
            self.metrics.drift_alarm.labels(*labels).set(1 if self.drift.alarmed(series) else 0)
            if event is not None:
                if event == "alarm":
                    self.metrics.drift_alarms.labels(*labels).inc()
                log.warning(
                    "drift." + event, detector=detector, ratio=round(self.drift.ratio(series), 3)
                )
                if self.on_drift is not None:
                    self.on_drift(DriftEvent(series, event, self.drift.ratio(series)))
