"""Opt-in: build the image with podman and run it as Kubernetes would (read-only root).

Not run by default (CI has no container registry for the base image, and a build takes
minutes). To run it on a Debian machine:

    apt-get install -y podman buildah runc mmdebstrap
    mmdebstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \\
        bookworm /tmp/bookworm-py.tar
    podman import --change 'CMD ["/bin/bash"]' /tmp/bookworm-py.tar localhost/python-local:3.11
    CANARY_IMAGE_BASE=localhost/python-local:3.11 python -m pytest tests/ops/test_image.py

(pip inside the build uses the host's /etc/pip.conf and CA certificates, mounted read-only.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.ops.conftest import ROOT, Render

BASE = os.environ.get("CANARY_IMAGE_BASE")
TAG = "localhost/canary-monitor:test"
# podman inside this kind of container: crun cannot set rlimits or use hybrid cgroups.
RUNTIME = ["--runtime", "runc"]
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not BASE, reason="opt-in: set CANARY_IMAGE_BASE (see the module docstring)"),
]


def podman(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("podman")
    if binary is None:
        pytest.skip("podman is not installed (see the module docstring)")
    return subprocess.run(
        [binary, *args], capture_output=True, text=True, check=False, timeout=timeout
    )


@pytest.fixture(scope="module")
def image() -> str:
    volumes = ["-v", "/etc/ssl/certs:/etc/ssl/certs:ro"]
    if Path("/etc/pip.conf").exists():
        volumes += ["-v", "/etc/pip.conf:/etc/pip.conf:ro"]
    build = podman(
        "build",
        *RUNTIME,
        *LIMITS,
        "--network",
        "host",
        *volumes,
        "--build-arg",
        f"PYTHON_IMAGE={BASE}",
        "--build-arg",
        "REVISION=test",
        "-t",
        TAG,
        str(ROOT),
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return TAG


def test_image_runs_as_the_non_root_user(image: str) -> None:
    """The runtime user is uid/gid 10001 and owns the store directory."""
    run = podman("run", "--rm", *RUNTIME, *LIMITS, "--entrypoint", "id", image)
    assert run.stdout.strip().startswith("uid=10001(canary) gid=10001(canary)"), (
        run.stdout + run.stderr
    )
    labels = json.loads(podman("image", "inspect", image, "--format", "{{json .Labels}}").stdout)
    assert labels["org.opencontainers.image.revision"] == "test"


def test_docker_run_image_runs_the_demo_on_a_read_only_root(image: str) -> None:
    """The default command is the demo; a shortened run passes with only /tmp writable."""
    run = podman(
        "run",
        "--rm",
        *RUNTIME,
        *LIMITS,
        "--read-only",
        "--tmpfs",
        "/tmp",
        image,
        "demo",
        "--config",
        "/etc/canary/config/demo.yaml",
        "--duration",
        "60",
        "--json",
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert json.loads(run.stdout)["passed"] is True


def test_the_chart_config_runs_as_the_pod_would(image: str, render: Render, tmp_path: Path) -> None:
    """The chart's ConfigMap mounted read-only at /etc/canary, a volume at /var/lib/canary, a
    read-only root: the daemon becomes ready, writes its store, and drains on SIGTERM."""
    port = 19471
    [configmap] = render({"containerPort": port})["templates/configmap.yaml"]
    for name, text in configmap["data"].items():
        (tmp_path / name).write_text(text)
    tmp_path.chmod(0o755)
    name = f"canary-test-{os.getpid()}"
    started = podman(
        "run",
        "-d",
        "--name",
        name,
        *RUNTIME,
        *LIMITS,
        "--network",
        "host",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "-v",
        f"{tmp_path}:/etc/canary:ro",
        "-v",
        f"{name}:/var/lib/canary",
        image,
        "--log-format=json",
        "run",
        "--config",
        "/etc/canary/config.yaml",
    )
    assert started.returncode == 0, started.stderr
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, podman("logs", name).stderr[-2000:]
            time.sleep(0.5)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "canary_config_last_reload_successful 1.0" in metrics
        assert "canary.db" in podman("exec", name, "ls", "/var/lib/canary").stdout
        stop = podman("stop", "-t", "40", name)
        assert stop.returncode == 0
        logs = podman("logs", name)
        events = [
            json.loads(line)["event"]
            for line in (logs.stdout + logs.stderr).splitlines()
            if line.startswith("{")
        ]
        assert events[-1] == "daemon.stopped"
    finally:
        podman("rm", "-f", name)
        podman("volume", "rm", "-f", name)
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["server"]["port"] == port
