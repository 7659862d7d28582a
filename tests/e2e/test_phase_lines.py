"""Between the map's end and the summary, ``make run`` says what it is doing: a line on stderr as
each phase starts and as it ends (with its seconds), in the order the run goes through them; with
``--no-progress`` (scripts, ``--json``) it says nothing there."""

from __future__ import annotations

import re

import pytest

from tests.e2e.local_lab import Lab, run_args

TEXT = "user_id,login_count,post_count\n" + "".join(f"U{i},{i},{i}\n" for i in range(1, 41))


@pytest.fixture
def lab(tmp_path, monkeypatch, capsys):
    return Lab(tmp_path, monkeypatch, capsys, [f"U{i}" for i in range(1, 41)])


def _run(lab: Lab, capsys, *, progress: bool) -> tuple[int, str]:
    from local_runner.run import main as make_run

    path = lab.tmp / "users.csv"
    path.write_text(TEXT, encoding="utf-8")
    args = run_args(path, lab.db, lab.tmp / "out", [])
    args.json, args.no_progress = False, not progress
    code = make_run(args)
    return code, capsys.readouterr().err


def test_each_phase_after_the_map_is_announced_and_timed_in_order(lab, capsys):
    code, err = _run(lab, capsys, progress=True)
    assert code == 0, err
    text = err.replace("\r", "\n")  # the progress bar redraws its line with carriage returns
    done = re.findall(r"\b(\w+): done in \d+\.\d s", text)
    started = re.findall(r"\b(\w+): (?!done in)[a-z]", text)  # "keep: copying ...", not "ProcessUserStats: 100%"
    for phase in ("ValidateInput", "AggregateErrors", "keep", "out"):
        assert phase in started and phase in done, f"{phase} not announced:\n{err}"
    # the work after the map comes after it, in the run's order
    assert done.index("ValidateInput") < done.index("AggregateErrors") < done.index("keep") < done.index("out")
    assert all(started.index(p) <= done.index(p) for p in ("AggregateErrors", "keep"))


def test_without_progress_nothing_is_announced(lab, capsys):
    code, err = _run(lab, capsys, progress=False)
    assert code == 0 and "done in" not in err
