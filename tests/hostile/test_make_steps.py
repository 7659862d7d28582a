"""``make test``'s phases print one line each (their output goes to a log under ``.local/logs``);
a phase that fails prints its log, then the line that names it, and stops make."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]


def make(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", "-C", str(ROOT), *argv], capture_output=True, text=True, timeout=300, check=False
    )


def test_a_phase_that_passes_prints_one_line():
    done = make("lint-asl")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == ["lint-asl: ok (log: .local/logs/lint-asl.log)"]


def test_a_phase_that_fails_prints_its_log_and_names_itself(tmp_path):
    bad = tmp_path / "definition.asl.json"
    bad.write_text('{"StartAt": "Nowhere", "States": {}}', encoding="utf-8")
    done = make("lint-asl", f"ASL={bad}", f"LOGS={tmp_path}")  # a log of its own: tests run in parallel
    lines = done.stdout.splitlines()
    assert done.returncode != 0
    assert lines[-1] == f"lint-asl: FAILED (log: {tmp_path}/lint-asl.log)"
    assert "Nowhere" in "\n".join(lines[:-1])  # the log: what the check said
    assert "Traceback" not in done.stdout + done.stderr
