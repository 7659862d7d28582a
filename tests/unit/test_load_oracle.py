"""The load test's oracle (bench/load.py) on hand-made runs: what a file implies, and
that every way of breaking the invariant is caught (not the load itself)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench.load import Expected, RunOutcome, check, expect_file, generate_file

KNOWN = {"U1", "U2", "U3"}


def _file(tmp_path: Path, text: str, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def test_expectations_follow_the_last_row_of_each_user(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "user_id,login_count,post_count\n"
        "U1,1,2\n"  # line 2: superseded by line 6
        "U2,abc,1\n"  # line 3: superseded by line 5 (the last row decides, whatever it is)
        "\n"  # line 4: blank, no row
        "U2,3,4\n"  # line 5: U2's last row, good
        "U1,-1,7\n"  # line 6: U1's last row, bad count -> failed
        "N9,1,1\n"  # line 7: a valid id nobody seeded -> failed
        "U 3,1,1\n"  # line 8: malformed id -> failed, takes no part in duplicates
        ",5,5\n",
    )  # line 9: no id -> failed
    got = expect_file(path, KNOWN)
    assert got == {
        2: Expected(2, "U1", "superseded", by=6),
        3: Expected(3, "U2", "superseded", by=5),
        5: Expected(5, "U2", "apply", login=3, post=4),
        6: Expected(6, "U1", "failed"),
        7: Expected(7, "N9", "failed"),
        8: Expected(8, None, "failed"),
        9: Expected(9, None, "failed"),
    }


def test_generated_files_overlap_repeat_users_and_hold_bad_rows(tmp_path: Path) -> None:
    rng = random.Random(1)
    paths = [tmp_path / f"{i}.csv" for i in range(2)]
    for path in paths:
        generate_file(path, 2000, 2500, rng)
    known = {f"U{n:07d}" for n in range(1, 2501)}
    a, b = (expect_file(p, known) for p in paths)
    assert len(a) == len(b) == 2000
    kinds = Counter(e.kind for e in a.values())
    assert kinds["superseded"] > 20 and kinds["failed"] > 5 and kinds["apply"] > 1500
    users_a = {e.user for e in a.values() if e.kind == "apply"}
    users_b = {e.user for e in b.values() if e.kind == "apply"}
    assert len(users_a & users_b) > 1000


# Two runs over U1, U2: "old" started first, "new" second.
OLD_FILE = "user_id,login_count,post_count\nU1,1,1\nU2,2,2\nU1,10,10\n"
NEW_FILE = "user_id,login_count,post_count\nU1,20,20\nU2,30,30\n"


def _rec(line: int, user: str, status: str, **values: Any) -> dict[str, Any]:
    return {"line": line, "user_id": user, "status": status, **values}


def _consistent(tmp_path: Path) -> tuple[list[RunOutcome], dict[str, dict[str, Any]]]:
    """The new run applied U1 then U2; the old run came later: U1 skipped, U2 too."""
    old = RunOutcome(
        "old",
        "2026-01-01 00:00:00.000",
        expect_file(_file(tmp_path, OLD_FILE, "old.csv"), KNOWN),
        [
            _rec(2, "U1", "SUPERSEDED", superseded_by=4),
            _rec(3, "U2", "SKIPPED"),
            _rec(4, "U1", "SKIPPED"),
        ],
    )
    new = RunOutcome(
        "new",
        "2026-01-01 00:00:01.000",
        expect_file(_file(tmp_path, NEW_FILE, "new.csv"), KNOWN),
        [
            _rec(2, "U1", "APPLIED", new_login_count=20, new_post_count=20),
            _rec(3, "U2", "APPLIED", new_login_count=30, new_post_count=30),
        ],
    )
    for run in (old, new):
        run.audit = [{"line": r["line"], "status": r["status"]} for r in run.results]
    stored = {
        "U1": {"login_count": 20, "post_count": 20, "last_execution_name": "new"},
        "U2": {"login_count": 30, "post_count": 30, "last_execution_name": "new"},
    }
    return [old, new], stored


def test_a_consistent_outcome_holds(tmp_path: Path) -> None:
    runs, stored = _consistent(tmp_path)
    verdict = check(runs, stored)
    assert verdict.holds, verdict.evidence
    assert verdict.statuses == Counter({"APPLIED": 2, "SKIPPED": 2, "SUPERSEDED": 1})


def test_an_older_run_applied_first_then_the_newer_one_chains(tmp_path: Path) -> None:
    runs, stored = _consistent(tmp_path)
    old, _ = runs
    old.results = [
        _rec(2, "U1", "SUPERSEDED", superseded_by=4),
        _rec(3, "U2", "APPLIED", new_login_count=2, new_post_count=2),
        _rec(4, "U1", "SKIPPED"),
    ]
    old.audit = [{"line": r["line"], "status": r["status"]} for r in old.results]
    runs[1].results[1].update(old_login_count=2, old_post_count=2)
    assert check(runs, stored).holds


def _violations(runs: list[RunOutcome], stored: dict[str, dict[str, Any]]) -> set[str]:
    verdict = check(runs, stored)
    assert not verdict.holds
    return set(verdict.violations)


def test_the_older_value_left_in_the_database_is_caught(tmp_path: Path) -> None:
    runs, stored = _consistent(tmp_path)
    old, _ = runs
    old.results[1] = _rec(
        3, "U2", "APPLIED", new_login_count=2, new_post_count=2, old_login_count=30, old_post_count=30
    )  # a late write of the older run over the newer one
    old.audit[1]["status"] = "APPLIED"
    stored["U2"] = {"login_count": 2, "post_count": 2, "last_execution_name": "old"}
    assert "final value is not the newest execution's" in _violations(runs, stored)


def test_two_writers_reading_the_same_old_value_are_caught(tmp_path: Path) -> None:
    runs, stored = _consistent(tmp_path)
    old, _ = runs
    old.results[1] = _rec(3, "U2", "APPLIED", new_login_count=2, new_post_count=2)  # read "no row" too
    old.audit[1]["status"] = "APPLIED"
    assert _violations(runs, stored) == {
        ("old values do not chain (two writers read the same old value, or a lost update)")
    }


def test_a_skip_with_no_newer_writer_is_caught(tmp_path: Path) -> None:
    runs, stored = _consistent(tmp_path)
    new = runs[1]
    new.results[1] = _rec(3, "U2", "SKIPPED")
    new.audit[1]["status"] = "SKIPPED"
    del stored["U2"]
    assert _violations(runs, stored) == {"skipped although no newer execution applied the user"}


@pytest.mark.parametrize(
    ("change", "violation"),
    [
        (lambda run: run.results.pop(0), "row without a result"),
        (lambda run: run.results.append(_rec(3, "U2", "SKIPPED")), "result line missing or repeated"),
        (lambda run: run.results[0].update(superseded_by=3), "earlier row of a user not superseded by its last row"),
        (lambda run: run.results[0].update(status="APPLIED"), "earlier row of a user not superseded by its last row"),
        (lambda run: run.audit.pop(), "audit records do not match the rows one to one"),
        (lambda run: run.audit[0].update(status="FAILED"), "audit status differs from the result"),
    ],
)
def test_every_accounting_fault_is_caught(tmp_path: Path, change: Any, violation: str) -> None:
    runs, stored = _consistent(tmp_path)
    change(runs[0])
    assert violation in _violations(runs, stored)


def test_applied_values_that_differ_from_the_file_are_caught(tmp_path: Path) -> None:
    runs, stored = _consistent(tmp_path)
    runs[1].results[0]["new_login_count"] = 21
    stored["U1"]["login_count"] = 21
    assert "applied values differ from the file" in _violations(runs, stored)


def test_a_good_row_failed_by_a_batch_error_is_reported_not_a_violation(tmp_path: Path) -> None:
    runs, stored = _consistent(tmp_path)
    old, new = runs
    new.results[1] = _rec(3, "U2", "FAILED", error_type="TransientDatabaseError")
    new.audit[1]["status"] = "FAILED"
    old.results[1] = _rec(3, "U2", "APPLIED", new_login_count=2, new_post_count=2)
    old.audit[1]["status"] = "APPLIED"
    stored["U2"] = {"login_count": 2, "post_count": 2, "last_execution_name": "old"}
    verdict = check(runs, stored)
    assert verdict.holds, verdict.evidence
    assert verdict.not_applied_by_error == Counter({"TransientDatabaseError": 1})
