"""``make cost`` and ``make capacity`` print their models and write nothing the repository
tracks: the recorded figures under ``bench/results/`` change with ``make bench`` alone."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from tests.conftest import git_status

ROOT = Path(__file__).parents[2]


def recorded() -> dict[str, str]:
    """Every file under bench/results by content (git status misses a rewrite of a file already modified)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((ROOT / "bench/results").glob("*"))}


@pytest.mark.parametrize(
    ("target", "printed"),
    [("cost", "Standard-IA costs less than Standard"), ("capacity", "Capacity model, 1,000 rows")],
)
def test_the_model_prints_and_writes_nothing_tracked(target, printed):
    before, files = git_status(), recorded()
    # -o .venv/.installed: never (re)build the shared virtualenv from a test
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "-o", ".venv/.installed", target, "ROWS=1000"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert printed in done.stdout
    assert git_status() == before
    assert recorded() == files
