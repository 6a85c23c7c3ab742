"""One probe on one target: request -> reply -> checks -> `Result`, then record it.

A probe never raises into the scheduler: provider failures become outcomes from a closed set,
and anything unexpected is counted in `canary_internal_errors_total` and stored as a
`protocol_error` result so that nothing is lost silently.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import httpx
import structlog

from monitor.config.expectation import Expectation
from monitor.config.model import Target
from monitor.config.probes import Probe, ProbeSuite
from monitor.detectors import compare_replies, run_detectors
from monitor.drift import ANY_CHECK, PROBE_ERROR, Change, DriftEngine, Event, SeriesId
from monitor.errors import (
    ProviderError,
    ProviderHTTPError,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderTimeout,
)
from monitor.metrics import Metrics
from monitor.plan import SuiteOptions
from monitor.providers import send
from monitor.providers.redaction import redact
from monitor.store import FencedOut, Store
from monitor.types import Check, Outcome, ProbeRequest, Reply, Result

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
        "stream": request.stream,
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


DEFAULT_OPTIONS = SuiteOptions()  # each probe as its file says, no burst

# Detectors run at about 7 MB/s per core: a reply past this many characters (about 5 ms of
# checking) is judged in a worker thread, so that a 4 MB reply from one hostile target does not
# stall the event loop, and every other target's probes and timings, for seconds.
INLINE_CHECK_CHARS = 32 * 1024


# One thread: large replies queue behind each other instead of each taking a thread and
# the GIL from the loop (detectors are pure and build their parsers per call: thread-safe).
_JUDGE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="canary-judge")


async def judge(reply: Reply, expect: Expectation) -> tuple[Check, ...]:
    """Every detector's verdict on `reply`; a large reply is judged off the event loop."""
    if len(reply.text) <= INLINE_CHECK_CHARS:
        return run_detectors(reply, expect)
    return await asyncio.get_running_loop().run_in_executor(_JUDGE, run_detectors, reply, expect)


async def execute_probe(
    client: httpx.AsyncClient,
    target: Target,
    suite: ProbeSuite,
    probe: Probe,
    run_id: str,
    *,
    cutover_tokens: int | None = None,
    stream: bool | None = None,
) -> Result:
    """Send one probe and judge the reply; never raises for provider failures."""
    request = suite.request(
        probe, affinity_key(target, suite, probe), cutover_tokens=cutover_tokens, stream=stream
    )
    t0 = time.perf_counter()
    common = result_identity(target, suite, probe, run_id) | {"request": request_record(request)}
    try:
        reply = await send(client, target, request)
    except ProviderError as exc:
        return Result(
            id=uuid.uuid4().hex,
            outcome=outcome_of(exc),
            latency_s=time.perf_counter() - t0,
            error=redact(f"{type(exc).__name__}: {exc}", target),
            **common,
        )
    checks = await judge(reply, probe.expect)
    outcome = Outcome.PASSED if all(c.passed for c in checks) else Outcome.FAILED
    return Result(
        id=uuid.uuid4().hex,
        outcome=outcome,
        latency_s=reply.latency_s or time.perf_counter() - t0,
        checks=checks,
        reply=reply,
        **common,
    )


async def burst(
    execute: Callable[[], Awaitable[Result]], copies: int, expect: Expectation
) -> list[Result]:
    """One run alone, then `copies` runs at once, each copy judged by the registry's pair
    detectors against the lone reply: a fault that shows only under concurrent load (a kernel
    chosen by batch size) makes the copies disagree with the lone reply."""
    alone = await execute()
    results = [alone]
    for copy in await asyncio.gather(*(execute() for _ in range(copies))):
        compared = copy
        if alone.reply is not None and copy.reply is not None:
            for check in compare_replies(alone.reply, copy.reply, expect):
                compared = with_check(compared, check)
        results.append(compared)
    return results


def with_check(result: Result, check: Check) -> Result:
    """`result` with one more check; a failing check turns a pass into a failure."""
    outcome = result.outcome
    if outcome is Outcome.PASSED and not check.passed:
        outcome = Outcome.FAILED
    return replace(result, checks=(*result.checks, check), outcome=outcome)


def backend_identity(target: Target, reply: Reply) -> str | None:
    """Which backend served the reply: the target's identity header, else the fingerprint."""
    if target.identity_header:
        value = reply.headers.get(target.identity_header.lower())
        if value:
            return value
    return reply.system_fingerprint


@dataclass(frozen=True, slots=True)
class DriftEvent:
    """An alarm or recovery, for `on_drift` listeners (the demo)."""

    series: SeriesId
    event: Event
    ratio: float
    test: str = "cusum"  # or "divergence"
    member: str = ""  # the bank member (design) that alarmed


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
        on_timeout: Callable[[Target], None] | None = None,
    ) -> None:
        self.metrics, self.store, self.drift = metrics, store, drift
        self.clients = clients
        self.on_drift = on_drift
        # Called after a timeout so the owner can rebuild the target's client: a deadline that
        # fires while httpcore waits for a pool connection can leave that slot held for good
        # (encode/httpcore#1093), and every later probe on the target would time out.
        self.on_timeout = on_timeout
        self._limits: dict[str, asyncio.Semaphore] = {}
        # Whether the last store write failed (disk full, read-only volume): probing goes on,
        # results still reach metrics and drift state, and /readyz says the store is degraded.
        self.store_write_failing = False

    def _limit(self, target: Target) -> asyncio.Semaphore:
        limit = self._limits.get(target.name)
        if limit is None:
            limit = self._limits[target.name] = asyncio.Semaphore(target.concurrency)
        return limit

    async def run_suite(
        self, target: Target, suite: ProbeSuite, options: SuiteOptions = DEFAULT_OPTIONS
    ) -> list[Result]:
        """Every probe of `suite` on `target`, at most `target.concurrency` at a time."""
        run_id = uuid.uuid4().hex
        if options.burst <= 0:
            runs = (self.run_probe(target, suite, p, run_id, options) for p in suite.probes)
            return list(await asyncio.gather(*runs))
        results: list[Result] = []
        for probe in suite.probes:
            results.extend(await self._run_burst(target, suite, probe, run_id, options))
        return results

    async def run_probe(
        self,
        target: Target,
        suite: ProbeSuite,
        probe: Probe,
        run_id: str,
        options: SuiteOptions = DEFAULT_OPTIONS,
    ) -> Result:
        result = await self._execute(target, suite, probe, run_id, options)
        await self._finish(target, suite, probe, result)
        return result

    async def _run_burst(
        self, target: Target, suite: ProbeSuite, probe: Probe, run_id: str, options: SuiteOptions
    ) -> list[Result]:
        """The probe alone, then `burst` copies at once, each copy compared with the lone reply."""
        results = await burst(
            lambda: self._execute(target, suite, probe, run_id, options),
            options.burst,
            probe.expect,
        )
        for result in results:
            await self._finish(target, suite, probe, result)
        return results

    async def _execute(
        self, target: Target, suite: ProbeSuite, probe: Probe, run_id: str, options: SuiteOptions
    ) -> Result:
        async with self._limit(target):
            try:
                result = await execute_probe(
                    self.clients(target),
                    target,
                    suite,
                    probe,
                    run_id,
                    cutover_tokens=options.cutover_tokens,
                    stream=options.stream,
                )
                if result.outcome is Outcome.TIMEOUT and self.on_timeout is not None:
                    self.on_timeout(target)
                return result
            except Exception as exc:  # a bug, not a provider failure: record it, never raise
                self.metrics.internal_errors.inc()
                log.error("probe.internal_error", error_type=type(exc).__name__, probe=probe.name)
                return Result(
                    id=uuid.uuid4().hex,
                    outcome=Outcome.PROTOCOL_ERROR,
                    latency_s=0.0,
                    error=f"internal error: {type(exc).__name__}",
                    **result_identity(target, suite, probe, run_id),
                )

    async def _finish(
        self, target: Target, suite: ProbeSuite, probe: Probe, result: Result
    ) -> None:
        with structlog.contextvars.bound_contextvars(
            platform=target.platform,
            pool=target.pool,
            model=target.model,
            suite=suite.suite,
            probe=probe.name,
            run_id=result.run_id,
        ):
            if not await self.record(result):
                return  # stale (fenced): another replica owns the shard now
            if result.reply is not None:
                self._observe_identity(target, result.reply)
            log.info(
                "probe.finished",
                outcome=result.outcome.value,
                latency_s=round(result.latency_s, 4),
                failed=list(result.failed_detectors),
            )

    def _observe_identity(self, target: Target, reply: Reply) -> None:
        identity = backend_identity(target, reply)
        if identity is not None:
            self.metrics.observe_backend(target.platform, target.pool, target.model, identity)

    async def record(self, result: Result) -> bool:
        """Write once to the store, metrics and drift state. Returns False for a result the
        store's fence refused (its shard's lease moved during the run): dropped and counted."""
        try:
            await self.store.write(result)
        except FencedOut:
            self.metrics.results_fenced.inc()
            log.warning("probe.fenced", outcome=result.outcome.value)
            return False
        except Exception as exc:
            self.store_write_failing = True
            self.metrics.store_errors.labels("write").inc()
            log.error("store.write_failed", error_type=type(exc).__name__)
        else:
            self.store_write_failing = False
        self.metrics.observe(result, time.time())
        self._observe_drift(result)
        return True

    def _observe_drift(self, result: Result) -> None:
        """Feed the drift engine: every check (pass/fail and score), `any` (some check failed)
        and `probe_error`. A probe that errored is missing data for its checks, never a pass."""
        base = (result.platform, result.pool, result.model, result.suite)
        observations: list[tuple[str, bool | None, float | None]]
        if result.outcome in (Outcome.PASSED, Outcome.FAILED):
            observations = [(c.detector, not c.passed, c.score) for c in result.checks]
            if result.checks:
                observations.append((ANY_CHECK, result.outcome is Outcome.FAILED, None))
            observations.append((PROBE_ERROR, False, None))
        else:
            observations = [(PROBE_ERROR, True, None)]
        changes: list[Change] = []
        for detector, failed, score in observations:
            series: SeriesId = (*base, detector)
            changes += self.drift.observe(series, failed, score=score, t=result.started_at)
            self._drift_gauges(series)
        for change in changes:
            self._drift_gauges(change.series)
            if change.event == "alarm":
                self.metrics.drift_alarms.labels(*change.series).inc()
            log.warning(
                "drift." + change.event,
                detector=change.series[4],
                test=change.test,
                member=change.member,
                ratio=round(change.statistic, 3),
            )
            if self.on_drift is not None:
                event: Event = "alarm" if change.event == "alarm" else "recovered"
                self.on_drift(
                    DriftEvent(change.series, event, change.statistic, change.test, change.member)
                )

    def _drift_gauges(self, series: SeriesId) -> None:
        state = self.drift.states.get(series)
        if state is None:
            return
        self.metrics.set_drift_state(
            series,
            ratio=state.ratio,
            alarmed=state.alarmed,
            divergence_ratio=state.divergence_ratio,
            divergence_alarmed=state.div_latch.alarmed,
        )
