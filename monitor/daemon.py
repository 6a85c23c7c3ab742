"""The daemon assembled: config -> clients, metrics, store, drift, scheduler and HTTP server.

Reload (SIGHUP or `POST /-/reload`) loads the files anew and swaps everything at once; a
broken file keeps the old config running and says why in
`canary_config_last_reload_successful` and a log line. SIGTERM stops scheduling, drains
in-flight probes up to `server.drain_timeout_s`, and flushes drift state.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CollectorRegistry

from monitor.clients import ClientPool
from monitor.config import LoadedConfig, Target, load_config
from monitor.config.probes import ProbeSuite
from monitor.detectors import reports
from monitor.drift import DriftEngine
from monitor.errors import ConfigError
from monitor.metrics import Metrics, SeriesKey, TargetInfo
from monitor.pacing import Job, Pacer, drift_plan
from monitor.plan import Plan, PlannedSuite, SuiteOptions, make_plan
from monitor.runner import DriftEvent, Runner
from monitor.scheduler import JobSpec, ProbeScheduler
from monitor.store import POSTGRES_SCHEMES, Store, open_store
from monitor.web.auth import WebConfigWatcher

if TYPE_CHECKING:
    from monitor.shard.role import ShardRole

log = structlog.get_logger("canary.daemon")

DRIFT_STATE_KEY = "drift"
MAINTENANCE_INTERVAL_S = 10.0
PRUNE_INTERVAL_S = 3600.0




def start_only_changes(old: LoadedConfig, new: LoadedConfig) -> list[str]:
    """Sections a reload changed that only a restart applies: the store, the cluster, and
    where and how the server listens (targets, suites, drift and timeouts apply at once)."""
    changed = [
        name
        for name in ("store", "cluster")
        if getattr(old.config, name) != getattr(new.config, name)
    ]
    listen = ("listen_address", "port", "web_config_file", "api_results")
    changed += [
        f"server.{name}"
        for name in listen
        if getattr(old.config.server, name) != getattr(new.config.server, name)
    ]
    return changed


def suite_detectors(suite: ProbeSuite, burst: int = 0) -> dict[str, int]:
    """Detector name -> how many checks one run of the suite reports, each probe alone and in
    `burst` concurrent copies (the detector registry says which expectation each needs)."""
    return reports((probe.expect for probe in suite.probes), burst)


class Daemon:
    """Owns the running pieces; `ServerStatus` for the HTTP server."""

    def __init__(
        self,
        config_path: Path,
        *,
        registry: CollectorRegistry | None = None,
        on_drift: Callable[[DriftEvent], None] | None = None,
        web_config_path: Path | None = None,
    ) -> None:
        self.config_path = config_path
        self.web_config_path = web_config_path  # --web.config.file; wins over the config's
        self.on_drift = on_drift
        self.registry = registry or CollectorRegistry()
        self.metrics = Metrics(self.registry)
        self.loaded: LoadedConfig | None = None
        self.plan: Plan | None = None  # of the config running now
        self.store: Store | None = None
        self.drift: DriftEngine | None = None
        self.runner: Runner | None = None
        self.scheduler = ProbeScheduler(self.metrics)
        self.jobs: list[Job] = []
        self.pacer: Pacer | None = None
        self.shard_role: ShardRole | None = None  # cluster mode only
        # One client per target; idle connections outlive the target's longest interval.
        self.clients = ClientPool(
            lambda t: max((p.interval_s for p in self._planned(t.name)), default=0.0)
        )
        self._started = False
        self._stopping = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._last_prune = 0.0
        self.server_port: int | None = None
        self._server_runner: Any = None

    # -- ServerStatus ---------------------------------------------------------------------
    def targets(self) -> list[dict[str, Any]]:
        return [] if self.plan is None else self.plan.targets_view()

    def ready(self) -> tuple[bool, str]:
        if not self._started:
            return False, "starting"
        if self._stopping.is_set():
            return False, "shutting down"
        if self.runner is not None and self.runner.store_write_failing:
            # Still ready: probing, /metrics and alerts work; not ready would only hide the
            # scrape target (and with it CanaryStoreWriteErrors) behind CanaryMonitorDown.
            return True, "degraded: store writes failing (disk full or read-only?)"
        return True, "ok"

    async def reload(self) -> tuple[bool, str]:
        async with self._reload_lock:
            try:
                loaded = await asyncio.to_thread(load_config, self.config_path)
            except ConfigError as exc:
                self.metrics.reload_success.set(0)
                log.error("config.reload_failed", problems=[str(p) for p in exc.problems])
                return False, str(exc)
            if self.loaded is not None and (fixed := start_only_changes(self.loaded, loaded)):
                log.warning("config.restart_required", sections=fixed)
            old = self.loaded
            try:
                self._apply(loaded)
            except Exception as exc:  # all or nothing: put the running config back
                self.metrics.internal_errors.inc()
                self.metrics.reload_success.set(0)
                log.error("config.reload_failed", error_type=type(exc).__name__, restored=True)
                if old is not None:
                    self._apply(old, reload=False)
                return False, f"reload failed ({type(exc).__name__}); the running config is kept"
            log.info(
                "config.reloaded", targets=len(loaded.config.targets), suites=len(loaded.suites)
            )
            return True, "reloaded"

    # -- life cycle -----------------------------------------------------------------------
    async def start(self, *, serve: bool = True) -> None:
        """Load config (raises ConfigError), open the store, restore drift state, start jobs."""
        loaded = load_config(self.config_path)
        web_config = self._web_config(loaded) if serve else None
        store_cfg = loaded.config.store
        url = store_cfg.url
        if not url.startswith(("sqlite:////", *POSTGRES_SCHEMES)):  # relative to the config
            url = "sqlite:///" + str(loaded.base_dir / url.removeprefix("sqlite:///"))
        self.store = open_store(
            url,
            retention_passed_days=store_cfg.retention_passed_days,
            retention_failed_days=store_cfg.retention_failed_days,
            pool_size=store_cfg.pool_size,
            write_deadline_s=store_cfg.write_deadline_s,
        )
        if hasattr(self.store, "on_write_retry"):  # PostgreSQL: retries are counted
            self.store.on_write_retry = self.metrics.store_write_retries.inc
        self.drift = DriftEngine(config=loaded.config.drift)
        self.pacer = Pacer(loaded.config.drift.adaptive)
        self.runner = Runner(
            metrics=self.metrics,
            store=self.store,
            drift=self.drift,
            clients=self.clients,
            on_drift=self._drift_event,
            on_timeout=self.clients.retire,
        )
        self.shard_role = self._shard_role(loaded)
        self._apply(loaded)
        try:  # cluster mode: each shard's state is loaded when its lease is taken
            snapshot = None if self.shard_role else await self.store.load_state(DRIFT_STATE_KEY)
        except Exception as exc:
            self.metrics.store_errors.labels("state").inc()
            log.error("store.state_load_failed", error_type=type(exc).__name__)
            snapshot = None
        if snapshot:
            self.drift.restore(snapshot)
        self._refresh_drift_gauges(restored=True)
        self.scheduler.start()
        if self.shard_role is not None:
            self.shard_role.start()
        if serve:
            from monitor.web.server import build_app
            from monitor.web.server import serve as serve_app

            server = loaded.config.server
            app = build_app(
                registry=self.registry,
                store=self.store,
                status=self,
                web_config=web_config,
                api_results=server.api_results,
                metrics=self.metrics,
            )
            self._server_runner, self.server_port = await serve_app(
                app,
                server.listen_address,
                server.port,
                ssl_context=web_config.server_context() if web_config else None,
            )
        # Everything alive now lives as long as the daemon: move it out of the collector's
        # reach, so gen-2 collections stop walking it (the largest event-loop stalls measured).
        gc.freeze()
        self._started = True
        log.info("daemon.started", port=self.server_port, targets=len(loaded.config.targets))

    def _note_plan(self, plan: Plan) -> None:
        """Log the probes each target skips, once per (re)load."""
        for planned in plan.suites:
            for skip in planned.skipped:
                log.warning(
                    "probe.skipped",
                    target=planned.target.name,
                    suite=planned.whole.suite,
                    probe=skip.probe,
                    capability=skip.capability,
                )

    def _web_config(self, loaded: LoadedConfig) -> WebConfigWatcher | None:
        """The web config (TLS, auth) to serve with, loaded now: a broken one stops the start."""
        path = self.web_config_path
        if path is None and loaded.config.server.web_config_file is not None:
            path = loaded.base_dir / loaded.config.server.web_config_file
        if path is None:
            return None
        watcher = WebConfigWatcher.load(path)
        self.metrics.web_config_reload_success.set(1)
        watcher.on_reload = lambda ok: self.metrics.web_config_reload_success.set(1 if ok else 0)
        return watcher

    def _apply(self, loaded: LoadedConfig, *, reload: bool = True) -> None:
        assert self.drift is not None and self.runner is not None
        old = self.loaded
        self.loaded = loaded
        self.clients.keep_only(loaded.config.targets)
        plan = self.plan = make_plan(loaded)
        self._note_plan(plan)
        self.jobs, plans = drift_plan(plan, suite_detectors)
        fleet_series = len(plans)  # the false-page budget is the fleet's, whoever probes
        if self.shard_role is not None:  # cluster mode: only the shards (models) held
            self.jobs = [j for j in self.jobs if self._mine(j.labels.model)]
            plans = [p for p in plans if self._mine(p.series[2])]
        series: dict[SeriesKey, float] = {job.labels: job.interval_s for job in self.jobs}
        detector_pairs = [(job.labels, sid[4]) for job in self.jobs for sid in job.series]
        mine = [p for p in plan.runnable() if self._mine(p.target.model)]
        specs = [
            JobSpec(
                key=p.key,
                interval_s=p.interval_s,
                run=self._job(p.target, p.runnable, p.options),
                fingerprint=f"{p.whole.version}:{p.binding.model_dump_json()}:{p.target.model_dump_json()}",
            )
            for p in mine
            if p.runnable is not None
        ]
        streamed = [p.labels for p in plan.runnable() if p.streamed]
        self.metrics.configure(
            [
                TargetInfo(t.platform, t.pool, t.model, t.api)
                for t in loaded.config.targets
                if self._mine(t.model)
            ],
            series,
            detector_pairs,
            streamed=[key for key in streamed if key in series],
        )
        self.metrics.set_skipped(
            (planned.labels, skip.capability) for planned in plan.suites for skip in planned.skipped
        )
        self.drift.configure(plans, loaded.config.drift, fleet_series=fleet_series)
        specs.append(JobSpec("_maintenance", MAINTENANCE_INTERVAL_S, self._maintenance))
        self.scheduler.sync(specs)
        if self.pacer is not None:  # every job back at its configured pace; maintenance decides
            for job in self.jobs:
                if job.key in self.pacer.fast:
                    self.scheduler.reschedule(job.key, job.interval_s)
                self.metrics.probe_interval.labels(*job.labels.labels()).set(job.interval_s)
            self.pacer = Pacer(loaded.config.drift.adaptive)
        self._refresh_drift_gauges(restored=True)  # series the reload re-created read 0
        if not reload:  # a change of shards held, not of config
            return
        self.metrics.reload_success.set(1)
        self.metrics.reload_timestamp.set(time.time())
        if old is not None:
            log.info("config.applied", jobs=len(specs) - 1)

    def _job(self, target: Target, suite: ProbeSuite, options: SuiteOptions) -> Any:
        async def run() -> None:
            assert self.runner is not None
            runner = self.runner
            if self.shard_role is not None:  # under the lease's fencing token, tracked
                await self.shard_role.run(
                    target.model, lambda: runner.run_suite(target, suite, options)
                )
                return
            await runner.run_suite(target, suite, options)

        return run

    def _shard_role(self, loaded: LoadedConfig) -> ShardRole | None:
        """Cluster mode (monitor/shard/), set at start: config ensures a PostgreSQL store."""
        if not loaded.config.cluster.enabled:
            return None
        from monitor.shard.role import ShardRole
        from monitor.store.postgres import PostgresStore

        assert isinstance(self.store, PostgresStore)
        return ShardRole(
            self.store,
            loaded.config.cluster,
            self.metrics,
            shards=lambda: (self.plan or make_plan(loaded)).models(),  # noqa: PLW0108 (late: the reloaded plan's)
            engine=lambda: self.drift,
            reapply=lambda: self._apply(self.loaded or loaded, reload=False),
            restored=lambda: self._refresh_drift_gauges(restored=True),
        )

    def _planned(self, target: str) -> tuple[PlannedSuite, ...]:
        return () if self.plan is None else self.plan.of_target(target)

    def _mine(self, model: str) -> bool:
        return self.shard_role is None or self.shard_role.mine(model)

    def _drift_event(self, event: DriftEvent) -> None:
        if self.shard_role is not None:  # an alarm or recovery is saved now, not in 10 s
            self.shard_role.changed(event.series[2])
        if self.on_drift is not None:
            self.on_drift(event)

    async def _maintenance(self) -> None:
        await self.clients.close_retired()
        self._pace()
        self._refresh_drift_gauges()
        await self.flush_state()
        now = time.time()
        if self.store is not None and now - self._last_prune >= PRUNE_INTERVAL_S:
            self._last_prune = now
            try:
                await self.store.prune(now)
            except Exception as exc:
                self.metrics.store_errors.labels("prune").inc()
                log.error("store.prune_failed", error_type=type(exc).__name__)

    def _pace(self) -> None:
        """Adaptive probing: move jobs to their fast interval while a statistic is high."""
        if self.pacer is None or self.drift is None:
            return
        changes = self.pacer.decide(self.jobs, self.drift)
        for job in self.jobs:
            interval_s = changes.get(job.key)
            if interval_s is None:
                continue
            if self.scheduler.reschedule(job.key, interval_s):
                self.metrics.probe_interval.labels(*job.labels.labels()).set(interval_s)
                log.info("drift.pace", job=job.key, interval_s=interval_s)

    def _refresh_drift_gauges(self, *, restored: bool = False) -> None:
        """The slow drift gauges: baseline, warm-up, suspect baseline, ARL0 target.

        `restored`: the per-observation gauges too, which the runner otherwise keeps; after a
        restart or a shard takeover an open alarm must read 1 at once, not 0 until the series'
        next probe (a resolve, then a second page, for every restart of the daemon).
        """
        if self.drift is None:
            return
        for series, summary in self.drift.summaries().items():
            self.metrics.drift_baseline.labels(*series).set(summary.baseline)
            self.metrics.drift_warmup.labels(*series).set(1 if summary.warming_up else 0)
            self.metrics.drift_baseline_suspect.labels(*series).set(1 if summary.suspect else 0)
            self.metrics.drift_arl0_target.labels(*series).set(summary.arl0_target_s)
        if not restored:
            return
        for series, state in self.drift.states.items():
            self.metrics.set_drift_state(
                series,
                ratio=state.ratio,
                alarmed=state.alarmed,
                divergence_ratio=state.divergence_ratio,
                divergence_alarmed=state.div_latch.alarmed,
            )

    async def flush_state(self) -> None:
        if self.shard_role is not None:  # per shard, under its lease
            await self.shard_role.flush()
            return
        if self.store is None or self.drift is None:
            return
        try:
            await self.store.save_state(DRIFT_STATE_KEY, self.drift.snapshot())
        except Exception as exc:
            self.metrics.store_errors.labels("state").inc()
            log.error("store.state_save_failed", error_type=type(exc).__name__)

    async def stop(self) -> None:
        """Stop scheduling, drain in-flight probes, flush state, close everything."""
        self._stopping.set()
        drain_s = self.loaded.config.server.drain_timeout_s if self.loaded else 5.0
        cancelled = await self.scheduler.shutdown(drain_s)
        if cancelled:
            log.warning("daemon.drain_deadline", cancelled=cancelled)
        if self.shard_role is not None:
            await self.shard_role.stop()  # saves every shard's state, hands the leases back
        else:
            await self.flush_state()
        await self.clients.close()
        if self._server_runner is not None:
            await self._server_runner.cleanup()
        if self.store is not None:
            await self.store.close()
        log.info("daemon.stopped")

    async def run_forever(self) -> None:
        """`canary run`: start, then serve until SIGTERM or SIGINT; SIGHUP reloads."""
        loop = asyncio.get_running_loop()
        await self.start()
        loop.add_signal_handler(signal.SIGTERM, self._stopping.set)
        loop.add_signal_handler(signal.SIGINT, self._stopping.set)
        reloads: set[asyncio.Task[tuple[bool, str]]] = set()

        def on_hup() -> None:
            task = asyncio.ensure_future(self.reload())
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, on_hup)
        await self._stopping.wait()
        await self.stop()
