"""Exact calibration: the lattice chain against independent computations and the research note."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from monitor.drift.chain import (
    arl_at,
    calibrate,
    jump_run_lengths,
    lattice_for,
    run_lengths,
)


def scipy_arl(p: float, up: int, down: int, top: int) -> float:
    """An independent direct solve of (I - Q) L = 1 for the same lattice chain."""
    rows, cols, vals = [], [], []
    for i in range(top):
        rows.append(i)
        cols.append(i)
        vals.append(1.0)
        if i + up < top:
            rows.append(i)
            cols.append(i + up)
            vals.append(-p)
        rows.append(i)
        cols.append(max(i - down, 0))
        vals.append(-(1 - p))
    matrix = sp.csc_matrix((vals, (rows, cols)), shape=(top, top))
    return float(spsolve(matrix, np.ones(top))[0])


def mc_arl(p: float, a: float, b: float, h: float, *, runs: int, seed: int) -> tuple[float, float]:
    """Monte Carlo mean run length of the continuous-weight CUSUM, with its standard error."""
    rng = np.random.default_rng(seed)
    lengths = []
    for _ in range(runs):
        s, n = 0.0, 0
        while s < h:
            n += 1
            s = max(0.0, s + (a if rng.random() < p else -b))
        lengths.append(n)
    values = np.array(lengths, dtype=float)
    return float(values.mean()), float(values.std() / math.sqrt(runs))


CASES = [
    (0.001, 0.008, 259_200),
    (0.001, 0.05, 259_200),
    (0.01, 0.05, 259_200),
    (0.01, 0.0179, 259_200),
    (0.02, 0.5, 60_480),
    (0.003, 0.006, 3e7),
]


@pytest.mark.parametrize(("p0", "p1", "arl0"), CASES)
def test_calibration_matches_an_independent_sparse_solve(p0: float, p1: float, arl0: float) -> None:
    """In- and out-of-control run lengths agree with scipy's sparse solver to 0.1 %, and the
    threshold is the smallest one reaching the target."""
    cal = calibrate(p0, p1, arl0)
    up, down, top = cal.lattice.up, cal.lattice.down, cal.top
    assert cal.arl0 >= arl0
    assert scipy_arl(p0, up, down, top) == pytest.approx(cal.arl0, rel=1e-3)
    assert scipy_arl(p0, up, down, top - 1) < arl0
    assert scipy_arl(p1, up, down, top) == pytest.approx(arl_at(p1, cal), rel=1e-3)


@pytest.mark.parametrize(
    ("p0", "p1", "arl1"),
    [
        (0.001, 0.008, 651),
        (0.001, 0.05, 60.9),
        (0.001, 0.16, 16.3),
        (0.001, 0.5, 4.3),
        (0.01, 0.0179, 2079),
        (0.01, 0.05, 190),
        (0.01, 0.16, 31.7),
        (0.01, 0.5, 7.1),
    ],
)
def test_delays_match_the_research_notes_exact_chain(p0: float, p1: float, arl1: float) -> None:
    """Zero-state delays at a 30-day ARL0 equal the note's table T4 (exact chain) within 2 %."""
    assert arl_at(p1, calibrate(p0, p1, 259_200)) == pytest.approx(arl1, rel=0.02)


def test_in_control_run_length_matches_the_notes_monte_carlo() -> None:
    """0.1 % -> 0.8 % at 30 days: ARL0 260,768 probes, which the note confirmed by MC."""
    assert calibrate(0.001, 0.008, 259_200).arl0 == pytest.approx(260_768, rel=0.001)


def test_delay_matches_monte_carlo_of_the_continuous_cusum() -> None:
    """The lattice's out-of-control delay equals a Monte Carlo of the exact-weight CUSUM with
    the same threshold, within its 99 % interval and 2 %."""
    cal = calibrate(0.01, 0.05, 259_200)
    a = math.log(0.05 / 0.01)
    b = math.log(0.99 / 0.95)
    mean, se = mc_arl(0.05, a, b, cal.threshold, runs=4000, seed=11)
    exact = arl_at(0.05, cal)
    assert abs(mean - exact) < 2.6 * se + 0.02 * exact


def test_lattice_weights_track_the_llr() -> None:
    """Integer weights reproduce a/b within 0.2 % with a success step of at most 64."""
    for p0, p1 in [(0.001, 0.002), (0.02, 0.5), (0.2, 0.6), (0.01, 0.0179)]:
        lattice = lattice_for(p0, p1)
        a, b = math.log(p1 / p0), math.log((1 - p0) / (1 - p1))
        assert lattice.down <= 64
        assert lattice.up / lattice.down == pytest.approx(a / b, rel=0.002)


def test_both_solvers_agree() -> None:
    """The shooting solver (down = 1) and the banded solver give the same run lengths."""
    lattice = lattice_for(0.003, 0.006)
    assert lattice.down == 1
    shoot = run_lengths(0.003, lattice, 2000)
    banded = jump_run_lengths(np.array([lattice.up, -1]), np.array([0.003, 0.997]), 2000)
    assert np.allclose(shoot, banded, rtol=1e-8)


def test_time_weighted_calibration_counts_seconds() -> None:
    """With a reward of seconds per state (adaptive probing) the target is wall-clock time:
    faster probing near the threshold needs a higher threshold for the same time to alarm."""
    plain = calibrate(0.005, 0.04, 60_480 * 10.0, reward=lambda top: np.full(top, 10.0))
    assert plain.top == calibrate(0.005, 0.04, 60_480).top

    def fast_near_top(top: int) -> np.ndarray:
        seconds = np.full(top, 10.0)
        seconds[math.ceil(top / 4) :] = 2.0
        return seconds

    adaptive = calibrate(0.005, 0.04, 60_480 * 10.0, reward=fast_near_top)
    assert adaptive.top > plain.top and adaptive.arl0 >= 604_800


def test_calibrate_command_prints_exact_numbers() -> None:
    """`canary calibrate --json` prints the threshold and exact run lengths in probes."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor.commands.cli",
            "calibrate",
            "--p0",
            "0.001",
            "--p1",
            "0.008",
            "--arl0-probes",
            "259200",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout)
    assert data["threshold"] == pytest.approx(6.497, abs=0.01)
    assert data["arl0_probes"] == pytest.approx(260_768, rel=0.001)
    assert data["arl1_probes"] == pytest.approx(651, rel=0.02)
    up, down, top = data["lattice"]["up"], data["lattice"]["down"], data["lattice"]["top"]
    assert scipy_arl(0.008, up, down, top) == pytest.approx(data["arl1_probes"], rel=1e-3)


def test_calibrate_command_rejects_impossible_input() -> None:
    """p1 must exceed p0: exit 2 with a message, no traceback."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor.commands.cli",
            "calibrate",
            "--p0",
            "0.1",
            "--p1",
            "0.05",
            "--arl0-probes",
            "1000",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2 and "--p0 < --p1" in out.stderr
