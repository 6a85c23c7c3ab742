"""The simulated serving fleet: a real HTTP server speaking vendor wire formats, with faults.

Used by `canary demo`, the tests and the benchmarks; the daemon itself never imports it, so
it cannot tell a simulated pool from a real one. It is a sibling package that imports nothing
of `monitor` either: it reads the probe files itself (`probe_files`), checks SigV4 signatures
with its own implementation of the specification (`aws_sigv4`) and OAuth tokens it issued
(`google_oauth`), so a bug in the daemon's code cannot hide by being shared with its judge.

    async with run_fleet([SimBackend("vllm-prod", "default", "openai_chat")], book) as fleet:
        fleet.set_fault("vllm-prod", "default", Fault("wrong_script", rate=0.1))
        url = fleet.base_url("vllm-prod", "default")
"""

from __future__ import annotations

from canary_sim.answers import GENERIC_REPLY, Answer, AnswerBook
from canary_sim.faults import FAULT_KINDS, Fault, FaultKind
from canary_sim.generate import fingerprint
from canary_sim.server import AFFINITY_HEADER, SimBackend, SimFleet, run_fleet

__all__ = [
    "AFFINITY_HEADER",
    "FAULT_KINDS",
    "GENERIC_REPLY",
    "Answer",
    "AnswerBook",
    "Fault",
    "FaultKind",
    "SimBackend",
    "SimFleet",
    "fingerprint",
    "run_fleet",
]
