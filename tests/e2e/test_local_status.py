"""``csv-dmap --local status`` while a real local map runs: the progress it reports increases
batch after batch, with a rate and an ETA, and gives way to the run summary at the end."""

from __future__ import annotations

from csv_dmap_cli.backends import LocalBackend
from tests.e2e.local_lab import Lab
from tests.e2e.test_redrive import PARAMETERS, SEEDED, TEXT


def test_status_of_a_running_local_map_increases_and_has_an_eta(tmp_path, monkeypatch, capsys):
    lab = Lab(tmp_path, monkeypatch, capsys, SEEDED)
    seen = []

    def look(progress):  # what an operator's status shows now
        seen.append(LocalBackend(lab.data).status(progress.name))

    code, summary = lab.run(TEXT, PARAMETERS, on_batch=look)
    assert code == 0
    name = summary["execution"]

    assert all(s["state"] == "RUNNING" for s in seen) and len(seen) == 7  # 62 rows, batches of 10
    done = [s["progress"]["done"] for s in seen]
    assert done == [10, 20, 30, 40, 50, 60, 62]
    assert [s["progress"]["total"] for s in seen] == [62] * 7
    assert all(s["progress"]["rows_per_second"] > 0 for s in seen)
    assert [s["progress"]["eta_seconds"] is not None for s in seen[:-1]] == [True] * 6
    assert seen[-1]["progress"]["eta_seconds"] == 0
    after = LocalBackend(lab.data).status(name)
    assert after["state"] == "SUCCEEDED" and after["summary"]["rows"] == 62
