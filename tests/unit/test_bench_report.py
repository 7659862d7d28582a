"""BENCHMARKS.md's target lines say met or NOT met from the figures, including the 10,000,000-row run."""

from __future__ import annotations

from bench.report import _targets


def run(rows: int, wall: float, status: str = "SUCCEEDED", peak: float = 600.0) -> dict[str, object]:
    return {
        "database": "sqlite",
        "rows": rows,
        "status": status,
        "wallSeconds": wall,
        "microsecondsPerRow": wall / rows * 1e6,
        "allProcessesPeakRssMiB": peak,
    }


def test_each_target_is_judged_from_the_figures():
    lines = _targets([run(100_000, 90.0), run(1_000_000, 810.0), run(10_000_000, 9_720.0, peak=1_100.0)])
    assert "- sqlite: 1,000,000 rows in 810.0 s (target 300 s: NOT met)" in lines
    assert "- sqlite: time per row at 1,000,000 over 100,000: 0.90 (target at most 1.2: met)" in lines
    assert (
        "- sqlite: 10,000,000 rows SUCCEEDED in 9,720.0 s (target: complete: met); time per row over 1,000,000's: 1.20"
    ) in lines
    assert lines[-1].endswith("1,100.0 MiB (target 1,024 MiB: NOT met)")


def test_a_ten_million_run_that_failed_is_not_complete():
    (line,) = [x for x in _targets([run(10_000_000, 50.0, status="FAILED")]) if "10,000,000" in x]
    assert line == "- sqlite: 10,000,000 rows FAILED in 50.0 s (target: complete: NOT met)"
