"""Pinned source packages for the code-syntax corpus, fetched with each registry's client.

npm packages (`npm pack`), Debian packages (`apt-get download`, unpacked with `dpkg-deb -x`,
nothing installed) and PyPI sdists (`pip download`) are unpacked once under the corpus cache.
A sdist whose build backend will not install here is skipped with a note on stderr.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

NPM = ("eslint@10.15.0", "undici@8.13.1", "svelte@5.57.3", "acorn@8.19.0", "rxjs@7.8.2",
       "zod@4.6.7", "lodash-es@4.18.1", "caniuse-db@1.0.30001813",
       "i18n-iso-countries@7.14.0")  # fmt: skip
DEBS = ("ansible", "netplan.io", "librust-tokio-dev", "librust-syn-dev", "librust-serde-dev",
        "librust-futures-util-dev", "librust-regex-dev", "librust-anyhow-dev",
        "librust-itertools-dev", "librust-clap-dev", "librust-rayon-core-dev",
        "librust-hashbrown-dev")  # fmt: skip
SDISTS = ("attrs==25.4.0", "pluggy==1.6.0", "structlog==26.1.0", "urllib3==2.8.0",
          "pytest==9.2.0", "pre-commit==4.7.0")  # fmt: skip


def _sh(argv: list[str], cwd: Path) -> None:
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True, timeout=900)


def fetch(cache: Path) -> Path:
    """Download and unpack every pinned source package once; returns the sources root."""
    root = cache / "sources"
    for spec in NPM:
        target = root / "npm" / spec.replace("/", "+")
        if not target.exists():
            target.mkdir(parents=True)
            _sh(["npm", "pack", "--silent", spec, "--pack-destination", str(target)], target)
            for tgz in target.glob("*.tgz"):
                with tarfile.open(tgz) as archive:
                    archive.extractall(target, filter="data")
                tgz.unlink()
    for package in DEBS:
        target = root / "deb" / package
        if not target.exists():
            target.mkdir(parents=True)
            _sh(["apt-get", "download", "-q", package], target)
            for deb in target.glob("*.deb"):
                _sh(["dpkg-deb", "-x", deb.name, "."], target)
                deb.unlink()
    for spec in SDISTS:
        target = root / "sdist" / spec.split("==")[0]
        if not target.exists():
            target.mkdir(parents=True)
            argv = [sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "--no-binary", spec.split("==")[0], "-d", str(target), spec]  # fmt: skip
            try:
                _sh(argv, target)
            except subprocess.CalledProcessError:  # its build backend would not install here
                print(f"code corpus: skipped sdist {spec}", file=sys.stderr)
            for tgz in target.glob("*.tar.gz"):
                with tarfile.open(tgz) as archive:
                    archive.extractall(target, filter="data")
                tgz.unlink()
    return root
