"""Resources: the CI-sized run of bench/soak.py (a simulated day of 100 series, fake clock)."""

from __future__ import annotations

from pathlib import Path

from bench.soak import soak


async def test_memory_fds_and_disk_stay_flat_under_retention(tmp_path: Path) -> None:
    """A simulated day of 100 series through the real runner, store and drift engine: once
    retention applies, RSS grows no more in the second half than in the first, no file
    descriptor leaks, no row outlives its retention and the database stops growing."""
    report = await soak(
        tmp_path,
        series=100,
        days=1.0,
        interval_s=1200.0,
        retention_passed_days=0.125,
        retention_failed_days=0.25,
        sample_s=2 * 3600.0,
    )
    first, mid, last = report.halves()
    grew_first, grew_second = report.rss_growth_mib
    print(
        f"\nsoak: {report.results} results, RSS {report.samples[0].rss_mib} -> {last.rss_mib}"
        f" MiB, fds {report.samples[0].fds} -> {last.fds}, db {first.db_mib} -> {last.db_mib}"
        f" MiB, {report.pruned} pruned, {report.wall_s} s"
    )
    assert report.results == 100 * 73 and report.pruned > 0
    assert first.day >= 0.25 and len([s for s in report.samples if s.day >= first.day]) >= 5
    assert grew_second <= max(grew_first, 0.0) + 8.0, report.samples
    assert last.fds <= mid.fds <= first.fds + 2, report.samples
    assert report.stale_rows == 0
    # Rows and bytes are bounded by retention: what a quarter day of probing writes, no more.
    assert max(s.rows for s in report.samples) <= 100 * (0.25 * 86400 / 1200 + 1)
    assert max(s.db_mib for s in report.samples if s.day >= first.day) <= 1.25 * first.db_mib
    assert report.ok
