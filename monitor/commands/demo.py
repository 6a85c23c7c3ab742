"""`canary demo`: the simulated fleet, the daemon against it, and a scripted fault scenario.

The only module of `monitor` that imports the simulator (`canary_sim`, a sibling package), and
only lazily, inside `run_demo`: importing this module, like running any other command, never
loads it (`tests/sim/test_independence.py` checks both). It injects each fault at a fixed share
of the run, watches the daemon's own drift alarms, shows a live table, and exits 0 only if
every injected fault alarmed on its (platform, pool) after injection and nothing else alarmed
at all.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.daemon import Daemon
from monitor.runner import DriftEvent

if TYPE_CHECKING:
    from canary_sim import FaultKind, SimFleet

REFRESH_S = 1.0
# The demo's own AWS key pair: the simulated Bedrock verifies SigV4 signatures made with it.
# Obviously fake, and only ever set in the demo's own process.
DEMO_AWS_KEY_ID = "AKIACANARYDEMO000001"
DEMO_AWS_SECRET = "canary-demo-secret-not-a-real-aws-key"


@dataclass(frozen=True, slots=True)
class Injection:
    """Inject `kind` at `rate` on (platform, pool) once `at_fraction` of the run has passed."""

    at_fraction: float
    platform: str
    pool: str
    kind: FaultKind
    rate: float
    params: dict[str, Any] = field(default_factory=dict)


SCENARIO = (
    Injection(0.15, "anthropic-api", "default", "wrong_script", 0.3, {"script": "Thai"}),
    Injection(0.25, "vllm-prod", "long-context", "code_corruption", 0.6),
    Injection(0.35, "vertex", "us-east5", "top_token_drop", 0.4),
    Injection(0.45, "vllm-prod", "default", "misroute", 0.3, {"sticky": False}),
    Injection(0.55, "bedrock", "us-east-1", "http_error", 0.3, {"status": 503}),
)

# The simulated backends in `python -m canary_sim --backend` form, platform/pool/api.
BACKENDS = (
    "anthropic-api/default/anthropic_messages",
    "anthropic-api/long-context/anthropic_messages",
    "bedrock/us-east-1/bedrock_converse",
    "vertex/us-east5/vertex_anthropic",
    "vllm-prod/default/openai_chat",
    "vllm-prod/long-context/openai_chat",
)


@dataclass(slots=True)
class Alarm:
    platform: str
    pool: str
    detector: str
    at_s: float


def default_config() -> Path:
    """`config/demo.yaml` next to the working directory, else next to the source tree."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[1], Path("/etc/canary")):
        candidate = base / "config" / "demo.yaml"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("config/demo.yaml not found; pass --config")


def verdict(injections: list[tuple[Injection, float]], alarms: list[Alarm]) -> dict[str, Any]:
    """Every injected fault alarmed on its (platform, pool) after injection; nothing else did."""
    faults = []
    explained: set[int] = set()
    for injection, at_s in injections:
        hits = [
            (i, a)
            for i, a in enumerate(alarms)
            if (a.platform, a.pool) == (injection.platform, injection.pool) and a.at_s >= at_s
        ]
        explained.update(i for i, _ in hits)
        first = min((a.at_s for _, a in hits), default=None)
        faults.append(
            {
                **asdict(injection),
                "injected_at_s": round(at_s, 1),
                "detected": first is not None,
                "detected_at_s": None if first is None else round(first, 1),
                "delay_s": None if first is None else round(first - at_s, 1),
                "detectors": sorted({a.detector for _, a in hits}),
            }
        )
    false_alarms = [asdict(a) for i, a in enumerate(alarms) if i not in explained]
    return {
        "passed": all(f["detected"] for f in faults) and not false_alarms,
        "faults": faults,
        "false_alarms": false_alarms,
    }


async def run_demo(
    duration_s: float, *, as_json: bool, config: Path | None = None, port: int = 0
) -> int:
    # The simulator is imported here, on the demo's own path only (see the module docstring).
    from canary_sim import AnswerBook, Fault, SimBackend, run_fleet
    from canary_sim.aws_sigv4 import SigV4Verifier
    from canary_sim.google_oauth import OAuthIssuer

    config_path = (config or default_config()).resolve()
    probe_dir = config_path.parent.parent / "probes"
    alarms: list[Alarm] = []
    started = time.monotonic()

    def on_drift(event: DriftEvent) -> None:
        platform, pool, _model, _suite, detector = event.series
        if event.event == "alarm":
            alarms.append(Alarm(platform, pool, detector, time.monotonic() - started))

    with tempfile.TemporaryDirectory(prefix="canary-demo-") as workdir:
        async with run_fleet(
            [SimBackend.parse(spec) for spec in BACKENDS],
            AnswerBook.from_probe_dir(probe_dir),
            port=0,
            seed=1,
            aws=SigV4Verifier({DEMO_AWS_KEY_ID: DEMO_AWS_SECRET}),
            oauth=OAuthIssuer(),
        ) as fleet:
            _cloud_credentials(fleet, Path(workdir))
            os.environ.update(
                {
                    "CANARY_SIM_PORT": str(fleet.port),
                    "CANARY_DEMO_DIR": workdir,
                    "CANARY_DEMO_PORT": str(port),
                }
            )
            daemon = Daemon(config_path, on_drift=on_drift)
            await daemon.start()
            started = time.monotonic()
            injected: list[tuple[Injection, float]] = []
            pending = sorted(SCENARIO, key=lambda i: i.at_fraction)
            try:
                while (elapsed := time.monotonic() - started) < duration_s:
                    while pending and elapsed >= pending[0].at_fraction * duration_s:
                        injection = pending.pop(0)
                        fleet.set_fault(
                            injection.platform,
                            injection.pool,
                            Fault(kind=injection.kind, rate=injection.rate, **injection.params),
                        )
                        injected.append((injection, elapsed))
                    if not as_json:
                        _render(daemon, injected, alarms, elapsed, duration_s)
                    await asyncio.sleep(REFRESH_S)
            finally:
                await daemon.stop()
    summary = verdict(injected, alarms)
    summary["duration_s"] = duration_s
    summary["series"] = _series_counts(daemon)
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    return 0 if summary["passed"] else 1


def _cloud_credentials(fleet: SimFleet, workdir: Path) -> None:
    """What the cloud pools authenticate with: the demo key pair in the AWS environment
    variables (botocore's chain reads them first) and a service account the simulated token
    endpoint trusts."""
    from canary_sim.cloud import token_uri

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        os.environ.pop(name, None)
    os.environ["AWS_ACCESS_KEY_ID"] = DEMO_AWS_KEY_ID
    os.environ["AWS_SECRET_ACCESS_KEY"] = DEMO_AWS_SECRET
    assert fleet.oauth is not None
    info = fleet.oauth.service_account_info(token_uri(fleet))
    (workdir / "vertex-sa.json").write_text(json.dumps(info), encoding="utf-8")


def _series_counts(daemon: Daemon) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for metric in daemon.registry.collect():
        if metric.name != "canary_probe_runs":
            continue
        for sample in metric.samples:
            if not sample.name.endswith("_total"):
                continue
            key = (sample.labels["platform"], sample.labels["pool"])
            row = rows.setdefault(
                key, {"platform": key[0], "pool": key[1], "runs": 0, "failed": 0, "errors": 0}
            )
            row["runs"] += int(sample.value)
            outcome = sample.labels["outcome"]
            if outcome == "failed":
                row["failed"] += int(sample.value)
            elif outcome != "passed":
                row["errors"] += int(sample.value)
    return [rows[k] for k in sorted(rows)]


def _render(
    daemon: Daemon,
    injected: list[tuple[Injection, float]],
    alarms: list[Alarm],
    elapsed: float,
    duration: float,
) -> None:
    tty = sys.stdout.isatty()
    if not tty and int(elapsed) % 10 != 0:
        return
    faults = {(i.platform, i.pool): i.kind for i, _ in injected}
    alarmed: dict[tuple[str, str], set[str]] = {}
    for alarm in alarms:
        alarmed.setdefault((alarm.platform, alarm.pool), set()).add(alarm.detector)
    lines = [
        f"canary demo  t={elapsed:5.0f}s / {duration:.0f}s   "
        f"metrics: http://127.0.0.1:{daemon.server_port}/metrics",
        "",
        f"{'PLATFORM':<15}{'POOL':<14}{'RUNS':>6}{'FAILED':>8}{'ERRORS':>8}  "
        f"{'INJECTED FAULT':<17}ALARMS",
    ]
    for row in _series_counts(daemon):
        key = (row["platform"], row["pool"])
        state = ",".join(sorted(alarmed.get(key, ()))) or "-"
        lines.append(
            f"{row['platform']:<15}{row['pool']:<14}{row['runs']:>6}{row['failed']:>8}"
            f"{row['errors']:>8}  {faults.get(key, '-'):<17}{state}"
        )
    if tty:
        sys.stdout.write("\x1b[2J\x1b[H" + "\n".join(lines) + "\n")
    else:
        sys.stdout.write("\n".join(lines) + "\n\n")
    sys.stdout.flush()


def _print_summary(summary: dict[str, Any]) -> None:
    print("\nsummary")
    for fault in summary["faults"]:
        mark = "DETECTED" if fault["detected"] else "MISSED  "
        delay = (
            f"after {fault['delay_s']}s by {','.join(fault['detectors'])}"
            if fault["detected"]
            else ""
        )
        print(f"  {mark} {fault['kind']:<16} {fault['platform']}/{fault['pool']} {delay}")
    for alarm in summary["false_alarms"]:
        print(
            f"  FALSE ALARM {alarm['platform']}/{alarm['pool']} {alarm['detector']} "
            f"at {alarm['at_s']:.0f}s"
        )
    print("PASS" if summary["passed"] else "FAIL")
