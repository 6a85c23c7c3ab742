"""Crash safety: the CI-sized run of bench/kill_harness.py (SIGKILL `canary run`, restart, check)."""

from __future__ import annotations

from pathlib import Path

from bench.kill_harness import StoreView, check_exact_resume, check_state, run_harness

CYCLES = 6


async def test_sigkill_cycles_lose_nothing_and_resume_drift(tmp_path: Path) -> None:
    """Six seeded SIGKILLs of the real daemon (one during start-up, several just after a
    drift-state flush) lose no acknowledged result, never move the persisted drift counters
    back or past the stored results, and a final SIGTERM exits 0 with an exact resume."""
    totals = await run_harness(
        CYCLES, seed=11, workdir=tmp_path, max_life_s=4.0, startup_kill_share=0.2
    )
    print(
        f"\nkill harness: cycles run {totals.cycles}, results acknowledged"
        f" {totals.results_acknowledged}, results lost {totals.results_lost}"
    )
    assert totals.violations == []
    assert totals.cycles == CYCLES and totals.sigterm_exit_code == 0
    assert totals.results_lost == 0 and totals.results_acknowledged > 0
    # The seed exercises every kind of kill moment, and the resume checks had states to compare.
    assert totals.killed_during_startup >= 1 and totals.killed_after_flush >= 2
    assert totals.state_flushes_seen >= 2 and totals.max_observations > 0


def view(observations: int, results: int, alarms: int = 0) -> StoreView:
    key = "p|pool|m|core|probe_error"
    return StoreView(
        ids=frozenset(str(i) for i in range(results)),
        per_quad={("p", "pool", "m", "core"): results},
        per_detector={},
        state={key: {"observations": observations, "alarms": alarms}},
    )


def test_the_checks_catch_a_reset_a_double_count_and_an_inexact_resume() -> None:
    """The harness's invariants fail on a state that restarted from zero, counted more
    observations than stored results, or resumed from the wrong place."""
    assert check_state(view(10, 10), view(12, 14), 1) == []
    assert "went back" in check_state(view(10, 10), view(3, 14), 1)[0]
    assert "went back" in check_state(view(10, 10, alarms=2), view(12, 14, alarms=0), 1)[0]
    assert "double counting" in check_state(view(10, 10), view(20, 14), 1)[0]
    assert check_exact_resume(view(10, 12), view(14, 16)) == []
    assert "counted 8 observations for 4" in check_exact_resume(view(10, 12), view(18, 16))[0]
