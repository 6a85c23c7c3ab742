"""`canary calibrate`: the exact threshold of one Bernoulli CUSUM and its run lengths.

Operators use it to see what a budget buys before changing one: for a baseline failure rate
p0, a shift to p1 and an in-control average run length (probes between false alarms), it
prints the threshold h (nats) and the exact in-control ARL and zero-state out-of-control ARL in
probes, from the Markov chain on the integer lattice the daemon runs (`monitor.drift.chain`),
next to Lorden's first-order delay ln(ARL0) / KL that the optimum beats.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from monitor.drift.chain import arl_at, calibrate, kl_bernoulli, llr_weights

EXIT_OK, EXIT_USAGE = 0, 2


def report(p0: float, p1: float, arl0_probes: float) -> dict[str, Any]:
    """The calibration as JSON-ready data (probes for run lengths, nats for statistics)."""
    cal = calibrate(p0, p1, arl0_probes)
    a, b = llr_weights(p0, p1)
    info = kl_bernoulli(p1, p0)
    return {
        "p0": p0,
        "p1": p1,
        "arl0_target_probes": arl0_probes,
        "threshold": cal.threshold,
        "arl0_probes": cal.arl0,
        "arl1_probes": arl_at(p1, cal),
        "kl_nats": info,
        "lorden_probes": math.log(arl0_probes) / info,
        "llr_nats": {"failure": a, "success": -b},
        "lattice": {
            "up": cal.lattice.up,
            "down": cal.lattice.down,
            "unit_nats": cal.lattice.unit,
            "top": cal.top,
        },
    }


def run_calibrate(p0: float, p1: float, arl0_probes: float, *, as_json: bool) -> int:
    if not (0 < p0 < p1 < 1) or not arl0_probes > 1 or not math.isfinite(arl0_probes):
        print("canary calibrate: need 0 < --p0 < --p1 < 1 and --arl0-probes > 1", file=sys.stderr)
        return EXIT_USAGE
    out = report(p0, p1, arl0_probes)
    if as_json:
        print(json.dumps(out, indent=2))
        return EXIT_OK
    print(f"Bernoulli CUSUM p0={p0:g} -> p1={p1:g}, in-control ARL target {arl0_probes:g} probes")
    print(f"  threshold h        {out['threshold']:.4f} nats")
    print(f"  in-control ARL     {out['arl0_probes']:.6g} probes (exact)")
    print(f"  out-of-control ARL {out['arl1_probes']:.6g} probes (exact, from zero)")
    print(f"  Lorden ln(ARL0)/KL {out['lorden_probes']:.6g} probes (first order)")
    lattice = out["lattice"]
    print(
        f"  lattice            +{lattice['up']} on a failure, -{lattice['down']} on a success,"
        f" alarm at {lattice['top']} ({lattice['unit_nats']:.6g} nats a step)"
    )
    return EXIT_OK
