"""Values given to ``make`` (file names as browsers save them, SQL, query parameters, names)
reach the programs as typed, through the environment: the file is used, the SQL is the SQL,
and nothing in a value runs as a command (no spaces splitting a path, no $(...), no
backticks, no ``;``)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
CSV_TEXT = "user_id,login_count,post_count\nU0000001,3,5\nU0000002,4,6\n"
# Each value would leave a pwned-* file behind if any part of it ran as a command.
HOSTILE = 'it\'s "quoted" $HOME $(touch pwned-1) `touch pwned-2` ; touch pwned-3 & (1)'


def make(tmp_path: Path, target: str, *assignments: str) -> subprocess.CompletedProcess[str]:
    # -o .venv/.installed: never (re)build the shared virtualenv from a test
    env = {
        **os.environ,
        "CSV_DMAP_LOCAL_DATA": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
    }
    return subprocess.run(
        ["make", "-s", "-C", str(ROOT), "-o", ".venv/.installed", target, *assignments],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def nothing_ran(tmp_path: Path) -> None:
    for where in (ROOT, tmp_path, tmp_path / "downloads"):
        assert not list(where.glob("pwned-*")), where


@pytest.fixture(autouse=True)
def _clean_checkout():
    yield
    for leftover in ROOT.glob("pwned-*"):  # a failing test must not leave its evidence for the next one
        leftover.unlink()


@pytest.mark.parametrize("name", ["my users (1).csv", f"{HOSTILE}.csv"])
def test_make_run_uses_the_file_whatever_its_name_holds(tmp_path, name):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    (downloads / name).write_text(CSV_TEXT, encoding="utf-8")
    done = make(tmp_path, "run", f"CSV={downloads / name}", f"RUN_ARGS=--out {tmp_path / 'out'} --no-progress --json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert (summary["status"], summary["rows"], summary["applied"]) == ("SUCCEEDED", 2, 2)
    (kept,) = (tmp_path / "data").glob("summaries/date=*/*.json")
    assert json.loads(kept.read_text(encoding="utf-8"))["sourceKey"] == f"incoming/{name}"
    nothing_ran(tmp_path)


def test_make_query_passes_sql_files_names_and_parameters_as_typed(tmp_path):
    (tmp_path / "data").mkdir()
    sql = "SELECT '$HOME `touch pwned-1` ; \"q\" (1) $(touch pwned-2)' AS v"
    done = make(tmp_path, "query", f"SQL={sql}")
    assert (done.returncode, done.stdout.splitlines()) == (0, ["v", sql[8:-6]]), done.stderr
    query = tmp_path / f"{HOSTILE}.sql"
    query.write_text("SELECT 42 AS answer\n", encoding="utf-8")
    done = make(tmp_path, "query", f"FILE={query}")
    assert (done.returncode, done.stdout.splitlines()) == (0, ["answer", "    42"]), done.stderr
    for params in ("`touch pwned-4`", "$(touch pwned-5)", "U1;touch${IFS}pwned-6", "*"):
        done = make(tmp_path, "query", "NAMED=user-history", f"PARAMS={params}")
        assert done.returncode in (0, 2) and "Traceback" not in done.stderr, done.stderr
    done = make(tmp_path, "query", "NAMED=user-history; touch pwned-7")
    assert done.returncode != 0 and "no named query 'user-history; touch pwned-7'" in done.stderr
    done = make(tmp_path, "query", "NAMED=user-history", "PARAMS=U1 U2")
    assert "user-history takes 1 parameter(s), got 2" in done.stderr
    nothing_ran(tmp_path)


def test_make_query_names_the_missing_parameter_of_a_named_query(tmp_path):
    (tmp_path / "data").mkdir()
    done = make(tmp_path, "query", "NAMED=failed-rows")
    assert done.returncode != 0
    said = [line for line in done.stderr.splitlines() if line.startswith("csv-dmap:")]
    assert len(said) == 1 and "failed-rows takes 1 parameter(s), got 0" in said[0]
    assert "Parameter 1 = execution name" in said[0] and "Values were not provided" not in done.stderr


@pytest.mark.parametrize(
    ("target", "assignments"),
    [
        ("invoke", ["FN=nope; touch pwned-1", "EVENT=`touch pwned-2`"]),
        ("invoke", ["FN=worker", f"EVENT=$(touch pwned-3){HOSTILE}.json"]),
        ("redrive", ["EXECUTION=local-x; touch pwned-4"]),
        ("cost", ["ROWS=1000;touch pwned-5"]),
    ],
)
def test_other_targets_take_values_as_data(tmp_path, target, assignments):
    done = make(tmp_path, target, *assignments)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    nothing_ran(tmp_path)


def test_defaults_reach_the_programs_when_the_user_gives_nothing():
    """`export X` before `X ?= default` would define X empty: `make run` with no ROWS once ran
    `--rows ""`. Every default must reach the recipes; a given value must replace it."""
    show = ["--eval", 'show-env: ; @echo "[$$ROWS][$$BENCH_ROWS][$$LOAD_RUNS][$$FN][$$EVENT]"', "show-env"]
    env = {k: v for k, v in os.environ.items() if k not in ("ROWS", "BENCH_ROWS", "LOAD_RUNS", "FN", "EVENT")}
    done = subprocess.run(["make", "-s", *show], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[10000][20000][10][worker][events/worker.json]"
    given = subprocess.run(
        ["make", "-s", "ROWS=5", *show], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert given.stdout.strip().startswith("[5][20000]")
