"""``make query`` (SQL, FILE and NAMED forms) over a local data directory."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _make(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # -o .venv/.installed: never (re)build the shared virtualenv from a test
    env = {**os.environ, "CSV_DMAP_LOCAL_DATA": str(data)}
    return subprocess.run(
        ["make", "-s", "-o", ".venv/.installed", "query", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_make_query_runs_sql_from_the_command_line_a_file_and_a_name(tmp_path):
    part = tmp_path / "rows/execution_date=2026-11-23/run-1/part-00000.json.gz"
    part.parent.mkdir(parents=True)
    rows = [
        {
            "execution_name": "run-1",
            "line": i + 2,
            "user_id": f"U{i}",
            "status": "APPLIED",
            "old_login_count": i,
            "new_login_count": i + 3,
            "old_post_count": 0,
            "new_post_count": 1,
            "update_timestamp": "2026-11-23 01:00:00.000000",
            "source_key": "k",
        }
        for i in range(4)
    ]
    part.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    sql = "SELECT count(*) AS n, sum(new_login_count - old_login_count) AS up FROM user_update_results WHERE status = 'APPLIED'"
    done = _make(tmp_path, f"SQL={sql}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["n  up", "4  12"]
    query = tmp_path / "q.sql"
    query.write_text("SELECT user_id FROM user_update_results WHERE line = 3\n")
    done = _make(tmp_path, f"FILE={query}")
    assert (done.returncode, done.stdout.splitlines()) == (0, ["user_id", "U1"])
    done = _make(tmp_path, "NAMED=user-history", "PARAMS=U2")
    assert done.returncode == 0 and done.stdout.splitlines()[1].split()[2:5] == ["run-1", "4", "APPLIED"]
    done = _make(tmp_path, "SQL=SELECT nope FROM user_update_results")
    assert done.returncode != 0 and "csv-dmap: query failed: Binder Error" in done.stderr
